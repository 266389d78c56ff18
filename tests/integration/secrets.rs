//! Secrets: where they are read from, when the env file is refused, and that a planted value
//! appears in no output, whatever the config does with it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::common::driftless_command;

const SECRET: &str = "pl4nted-s3cret-7d1f0c9a";

fn driftless(config: &Path, env_file: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    driftless_command(config)
        .arg("-c")
        .arg(config)
        .arg("--env-file")
        .arg(env_file)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run driftless")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, content).expect("write");
}

/// A config that uses the secret everywhere it can go wrong: in valid fields, in a mode, a
/// regexp, a path that must be absolute, a boolean, a template file, a loop and a `when`.
const LEAKY_CONFIG: &str = r#"
apply:
  - id: good
    type: file
    path: /tmp/driftless-secret-test/good
    content: "password={{ secrets.DB_PASSWORD }}\n"
  - id: bad-mode
    type: file
    path: /tmp/driftless-secret-test/mode
    mode: "{{ secrets.DB_PASSWORD }}"
  - id: bad-regexp
    type: lineinfile
    path: /tmp/driftless-secret-test/line
    regexp: "({{ secrets.DB_PASSWORD }}"
    line: x
  - id: bad-path
    type: file
    path: "{{ secrets.DB_PASSWORD }}"
  - id: bad-bool
    type: directory
    path: /tmp/driftless-secret-test/dir
    parents: "{{ secrets.DB_PASSWORD }}"
  - id: from-template
    type: template
    src: templates/secret.j2
    dest: /tmp/driftless-secret-test/templated
  - id: bad-state
    type: file
    path: /tmp/driftless-secret-test/state
    state: "{{ secrets.DB_PASSWORD }}"
"#;

#[test]
fn planted_secret_appears_in_no_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    write(&config, "main.yaml", LEAKY_CONFIG);
    write(
        &config,
        "templates/secret.j2",
        "{{ secrets.DB_PASSWORD }} {{ nope }}\n",
    );
    let env_file = dir.path().join("env");
    for args in [&["check"][..], &["check", "--format", "json"]] {
        let output = driftless(&config, &env_file, &[("DB_PASSWORD", SECRET)], args);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(1), "{all}");
        assert!(!all.contains(SECRET), "secret leaked by `{args:?}`:\n{all}");
        // Each misplaced secret is an error naming its field, never quoting the value.
        for field in ["mode", "regexp", "path", "parents", "state"] {
            assert!(
                all.contains(&format!("`{field}` cannot hold a value read from a secret")),
                "no error for `{field}`:\n{all}"
            );
        }
    }
}

#[test]
fn secret_comes_from_the_env_file_when_not_in_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    write(
        &config,
        "main.yaml",
        "apply:\n  - type: file\n    path: /tmp/x\n    content: \"{{ secrets.API_TOKEN }}\"\n",
    );
    let env_file = dir.path().join("env");
    write(
        dir.path(),
        "env",
        &format!("# tokens\nAPI_TOKEN={SECRET}\nOTHER='x'\n"),
    );
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let output = driftless(&config, &env_file, &[], &["check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains(SECRET));
}

#[test]
fn missing_secret_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "main.yaml",
        "apply:\n  - type: file\n    path: /tmp/x\n    content: \"{{ secrets.NOT_SET_ANYWHERE }}\"\n",
    );
    let output = driftless(dir.path(), &dir.path().join("../no-env"), &[], &["check"]);
    assert_eq!(output.status.code(), Some(1));
    let all = text(&output);
    assert!(
        all.contains("secret `NOT_SET_ANYWHERE` cannot be read"),
        "{all}"
    );
}

#[test]
fn group_readable_env_file_is_refused_only_when_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    let env_file = dir.path().join("env");
    write(dir.path(), "env", &format!("API_TOKEN={SECRET}\n"));
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o640)).expect("chmod");

    // No secret referenced: the env file is never opened.
    write(
        &config,
        "main.yaml",
        "apply:\n  - type: file\n    path: /tmp/x\n    content: hi\n",
    );
    let output = driftless(&config, &env_file, &[], &["check"]);
    assert!(output.status.success(), "{}", text(&output));

    write(
        &config,
        "main.yaml",
        "apply:\n  - type: file\n    path: /tmp/x\n    content: \"{{ secrets.API_TOKEN }}\"\n",
    );
    let output = driftless(&config, &env_file, &[], &["check"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("readable by group or others (mode 0640)"),
        "{all}"
    );
    assert!(all.contains("chmod 600"), "{all}");
    assert!(!all.contains(SECRET));
}

#[test]
fn env_file_inside_the_config_dir_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "main.yaml", "vars: {}\n");
    write(dir.path(), "secrets/env", &format!("API_TOKEN={SECRET}\n"));
    let output = driftless(dir.path(), &dir.path().join("secrets/env"), &[], &["check"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("is inside the config directory"), "{all}");
}
