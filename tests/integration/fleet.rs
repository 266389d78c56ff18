//! A fleet repo: `check --all-hosts` of examples/fleet from its recorded facts, `vars` saying
//! where a value comes from, recorded facts read back, and a live host selecting itself.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn driftless(args: &[&str], cwd: &Path) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    common::driftless_command(home.path())
        .args(["--env-file", "/nonexistent/env"])
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run driftless")
}

fn shown(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Snapshots live with the fixtures' in `snapshots/`, as `fleet__<name>.snap`.
fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(format!("fleet__{name}"), text));
}

#[test]
fn the_fleet_example_checks_for_every_host_from_recorded_facts() {
    let output = driftless(
        &[
            "-c",
            "examples/fleet",
            "check",
            "--all-hosts",
            "--facts-dir",
            "examples/fleet/facts/",
        ],
        &repo(),
    );
    assert!(output.status.success(), "{}", shown(&output));
    snapshot("example-check-all-hosts", &shown(&output));
}

#[test]
fn vars_names_the_winning_layer_and_the_shadowed_ones() {
    let facts = ["--facts-dir", "examples/fleet/facts"];
    let mut text = String::new();
    for (name, host) in [
        ("worker_processes", "web2"),
        ("port", "web1"),
        ("shared_buffers", "db1"),
    ] {
        let mut args = vec!["-c", "examples/fleet", "vars", name, "--host", host];
        args.extend(facts);
        text.push_str(&shown(&driftless(&args, &repo())));
    }
    let mut args = vec![
        "-c",
        "examples/fleet",
        "-e",
        "backup_hour=5",
        "vars",
        "backup_hour",
    ];
    args.extend(["--host", "db1"]);
    args.extend(facts);
    text.push_str(&shown(&driftless(&args, &repo())));
    let mut args = vec![
        "-c",
        "examples/fleet",
        "vars",
        "worker_proceses",
        "--host",
        "web1",
    ];
    args.extend(facts);
    text.push_str(&shown(&driftless(&args, &repo())));
    snapshot("vars", &text);
}

#[test]
fn facts_recorded_by_the_facts_command_are_read_back_by_check() {
    let temp = tempfile::tempdir().expect("temp dir");
    let recorded = driftless(&["facts", "--format", "json", "--no-config"], temp.path());
    assert!(recorded.status.success(), "{}", shown(&recorded));
    let file = temp.path().join("host.json");
    std::fs::write(&file, &recorded.stdout).expect("write facts");
    let config = repo().join("examples/fleet");
    let file = file.to_str().expect("utf-8 path");
    let config = config.to_str().expect("utf-8 path");
    let output = driftless(
        &["-c", config, "check", "--host", "web1", "--facts", file],
        temp.path(),
    );
    assert!(output.status.success(), "{}", shown(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).starts_with("web1: ok: 9 apply tasks"),
        "{}",
        shown(&output)
    );
}

#[test]
fn bad_recorded_facts_and_missing_hosts_are_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    std::fs::write(temp.path().join("web1.json"), "{\"hostname\": 3}\n").expect("write");
    let config = repo().join("examples/fleet");
    let config = config.to_str().expect("utf-8 path");
    let dir = temp.path().to_str().expect("utf-8 path");
    let bad = driftless(
        &["-c", config, "check", "--host", "web1", "--facts-dir", dir],
        temp.path(),
    );
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("web1.json:1:"), "{stderr}");
    assert!(
        stderr.contains("not the output of `driftless facts --format json`"),
        "{stderr}"
    );
    let missing = driftless(
        &["-c", config, "check", "--all-hosts", "--facts-dir", dir],
        temp.path(),
    );
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("no recorded facts in"), "{stderr}");
    assert!(stderr.contains("db1, web2"), "{stderr}");
}

#[test]
fn a_live_host_selects_itself_and_plans_its_role_instances() {
    let temp = tempfile::tempdir().expect("temp dir");
    let config = temp.path().join("config");
    std::fs::create_dir_all(config.join("roles/marker/tasks")).expect("role dir");
    // Every host is in `all`, whatever its name; `nowhere` names no real host.
    std::fs::write(
        config.join("inventory.yaml"),
        "groups:\n  all:\n    hosts: ['*']\n    roles: [{ role: marker, name: one }]\n  \
         nowhere:\n    hosts: [no-such-host.invalid]\n    roles: [{ role: marker, name: two }]\n",
    )
    .expect("inventory");
    std::fs::write(
        config.join("roles/marker/tasks/main.yaml"),
        "- id: mark\n  type: file\n  path: \"{{ root }}/marker\"\n  content: \"x\\n\"\n",
    )
    .expect("role tasks");
    let root = temp.path().join("root");
    let root_var = format!("root={}", root.display());
    let config = config.to_str().expect("utf-8 path");
    let output = driftless(&["-c", config, "-e", &root_var, "plan"], temp.path());
    assert!(output.status.success(), "{}", shown(&output));
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(plan.contains("\"apply.marker[one]/mark\""), "{plan}");
    assert!(!plan.contains("marker[two]"), "{plan}");
    assert!(!root.exists(), "plan changes nothing");
}
