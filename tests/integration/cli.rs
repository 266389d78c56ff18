//! The command line itself: completions, exit codes, and the subcommands that are not built yet
//! saying so.

use std::process::Command;

fn driftless(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .output()
        .expect("run driftless")
}

#[test]
fn completions_for_every_supported_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef driftless"),
        ("fish", "complete -c driftless"),
    ] {
        let output = driftless(&["completions", shell]);
        assert!(output.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains(marker), "{shell} completions lack `{marker}`");
        assert!(
            text.contains("execute"),
            "{shell} completions name the subcommands"
        );
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let output = driftless(&["plna"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("plan"));
}

/// 2 means "changes" under `--detailed-exitcode`: no way of calling driftless wrongly may exit
/// with it, in any subcommand.
#[test]
fn a_usage_error_exits_64_never_the_code_for_changes() {
    let usage_errors: &[&[&str]] = &[
        &[],
        &["--no-such-option", "check"],
        &["check", "--format", "xml"],
        &["plan", "--no-such-option"],
        &["show"],
        &["execute"],
        &["execute", "plan.json", "-j", "0"],
        &["apply", "--lock-timeout", "soon"],
        &["apply", "-q", "-v"],
        &["facts", "--format", "csv"],
        &["schema", "nothing"],
        &["completions", "tcsh"],
    ];
    for args in usage_errors {
        let output = driftless(args);
        assert_eq!(
            output.status.code(),
            Some(64),
            "driftless {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stdout.is_empty(),
            "driftless {args:?} wrote to stdout"
        );
    }
}

#[test]
fn help_and_version_succeed_and_help_gives_the_exit_codes() {
    for args in [&["--help"][..], &["plan", "--help"], &["apply", "--help"]] {
        let output = driftless(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            help.contains("Exit codes (every subcommand):"),
            "{args:?}: {help}"
        );
        assert!(help.contains("64  usage error"), "{args:?}: {help}");
    }
    assert_eq!(driftless(&["--version"]).status.code(), Some(0));
}

/// Runs driftless with stdout (or stderr) a pipe whose reader is already gone: every write to
/// it fails, as under `| head` once head has what it wanted.
fn with_closed(stream: &str, command: &mut Command) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    match stream {
        "stdout" => command.stdout(writer).stderr(std::process::Stdio::piped()),
        _ => command.stderr(writer).stdout(std::process::Stdio::piped()),
    };
    let child = command.spawn().expect("spawn driftless");
    child.wait_with_output().expect("wait for driftless")
}

#[test]
fn a_closed_stdout_or_stderr_never_makes_driftless_panic() {
    let world = crate::common::World::new(
        "apply:\n  - {type: file, path: \"{{ root }}/f\", content: x}\n  - {type: nope}\n",
    );
    let commands: [(&str, &[&str]); 5] = [
        ("stdout", &["completions", "bash"]),
        ("stdout", &["schema"]),
        ("stdout", &["check", "--format", "json"]),
        ("stderr", &["check"]),
        ("stderr", &["plan"]),
    ];
    for (stream, args) in commands {
        let mut command = Command::new(env!("CARGO_BIN_EXE_driftless"));
        command.arg("-c").arg(&world.config).args(args);
        let output = with_closed(stream, &mut command);
        let other = String::from_utf8_lossy(match stream {
            "stdout" => &output.stderr,
            _ => &output.stdout,
        })
        .into_owned();
        assert_ne!(output.status.code(), Some(101), "{args:?}: {other}");
        assert!(!other.contains("panicked"), "{args:?}: {other}");
    }
}

#[test]
fn execute_into_a_closed_stdout_changes_the_host_and_keeps_its_report() {
    let world =
        crate::common::World::new("apply:\n  - {type: file, path: \"{{ root }}/f\", content: x}\n");
    let (plan, _) = world.plan();
    let mut command = crate::common::driftless_command(world.temp.path());
    command
        .env("DRIFTLESS_STATE_DIR", world.state_dir())
        .arg("--env-file")
        .arg(&world.env_file)
        .arg("execute")
        .arg(&plan);
    let output = with_closed("stdout", &mut command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(world.path("f")).expect("managed file"),
        "x"
    );
    assert_eq!(world.reports().len(), 1, "the run's report");
}

#[test]
fn help_of_help_and_help_of_a_subcommand_work() {
    let output = driftless(&["help", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Usage: driftless help"));
    let output = driftless(&["help", "plan"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Usage: driftless plan"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "help into a pipe is not painted: {text}"
    );
    let output = driftless(&["help", "plna"]);
    assert_eq!(output.status.code(), Some(64));
}

#[test]
fn the_manual_page_is_roff_naming_every_subcommand() {
    let output = driftless(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.contains(".TH driftless 1"), "{page}");
    for name in [
        "check", "plan", "show", "execute", "apply", "facts", "schema",
    ] {
        assert!(page.contains(name), "the manual page lacks {name}");
    }
}

/// A config with an error: `check` prints a diagnostic, painted or not.
fn check_with_color(color: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.yaml"), "apply: 3\n").expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .envs(env.iter().copied())
        .args(["--color", color, "-c"])
        .arg(dir.path())
        .arg("check")
        .output()
        .expect("run driftless");
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn color_follows_the_flag_then_no_color_and_clicolor_force() {
    let painted = |text: &str| text.contains("\x1b[");
    assert!(painted(&check_with_color("always", &[("NO_COLOR", "1")])));
    assert!(!painted(&check_with_color(
        "never",
        &[("CLICOLOR_FORCE", "1")]
    )));
    // Not a terminal: auto paints only when forced, and NO_COLOR wins over the force.
    assert!(!painted(&check_with_color("auto", &[])));
    assert!(painted(&check_with_color(
        "auto",
        &[("CLICOLOR_FORCE", "1")]
    )));
    assert!(!painted(&check_with_color(
        "auto",
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    let output = driftless(&["--color", "sometimes", "check"]);
    assert_eq!(output.status.code(), Some(64));
}
