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
fn unbuilt_subcommands_fail_and_say_so() {
    for name in ["logs", "agent"] {
        let output = driftless(&[name]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name} must not pretend to succeed"
        );
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(text.contains("not available"), "{name}: {text}");
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
