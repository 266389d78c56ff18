//! A handler that edits a file other tasks also edit would leave the next edit planned from a
//! state that may never exist (the handler may not run): the plan refuses it.

use std::process::Command;

#[test]
fn handler_sharing_a_file_with_other_edits_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(
        dir.path().join("config.yaml"),
        r#"apply:
  - id: trigger
    type: file
    path: "{{ root }}/trigger"
    content: "x\n"
    notify: [mark]
  - id: mark
    type: lineinfile
    path: "{{ root }}/log"
    line: notified
    create: true
  - id: other
    type: lineinfile
    path: "{{ root }}/log"
    line: always
    create: true
"#,
    )
    .expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("-c")
        .arg(dir.path())
        .arg("-e")
        .arg(format!("root={}", root.display()))
        .args(["--env-file", "/nonexistent", "plan"])
        .output()
        .expect("run driftless");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`mark` is a handler"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "no plan on stdout when planning fails"
    );
    assert_eq!(
        std::fs::read_dir(&root).expect("root").count(),
        0,
        "plan changed nothing"
    );
}
