//! A `noop` task in a chain of edits to one file: it never runs, so the next edit must be
//! planned from the file as it is, not from what the noop task would have made of it.

use std::process::Command;

#[test]
fn edit_after_a_noop_edit_of_the_same_file_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(
        dir.path().join("config.yaml"),
        "apply:\n  - id: a\n    type: lineinfile\n    path: \"{{ root }}/f\"\n    line: first\n    create: true\n    noop: true\n  - id: b\n    type: lineinfile\n    path: \"{{ root }}/f\"\n    line: second\n    create: true\nsettings:\n  audit:\n    - type: directory\n      path: \"{{ root }}/../runs\"\n",
    )
    .expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("-c")
        .arg(dir.path())
        .arg("-e")
        .arg(format!("root={}", root.display()))
        .args(["--env-file", "/nonexistent", "apply"])
        .output()
        .expect("run driftless");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("skipped    apply.a: noop"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(root.join("f")).expect("f"),
        "second\n"
    );
}
