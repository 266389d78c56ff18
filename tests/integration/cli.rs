//! The command line itself: completions, and the subcommands that are not built yet saying so.

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
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("plan"));
}
