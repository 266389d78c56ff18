//! Failure isolation: a node that fails at execute skips its dependents; independent nodes are
//! applied; exit 1; the recap counts each.

use crate::common::{self, World, read};

#[test]
fn failed_node_skips_dependents_and_independents_go_on() {
    let world = World::new(
        r#"
apply:
  - {id: locked-dir, type: directory, path: "{{ root }}/locked"}
  - {id: in-locked, type: file, path: "{{ root }}/locked/sub/f", content: "x"}
  - {id: needs-it, type: file, path: "{{ root }}/needs", content: "x", depends_on: [in-locked]}
  - {id: chained, type: file, path: "{{ root }}/chained", content: "x", depends_on: [needs-it]}
  - {id: under-file, type: file, path: "{{ root }}/plain/f", content: "x"}
  - {id: independent, type: file, path: "{{ root }}/independent", content: "ok\n"}
"#,
    );
    // `locked` exists, so the plan only sees a missing `sub`; writing under a regular file
    // fails as well.
    std::fs::create_dir(world.path("locked")).expect("mkdir");
    common::write(&world.path("plain"), b"a regular file\n");
    let (path, _) = world.plan();
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        run.status_of("apply.in-locked").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.under-file").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.needs-it").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.chained").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.independent").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.locked-dir").as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("Recap: 1 changed, 1 unchanged, 2 failed, 2 skipped."),
        "{}",
        run.all()
    );
    assert_eq!(read(&world.path("independent")), "ok\n");
    assert!(!world.path("needs").exists() && !world.path("chained").exists());
}

#[test]
fn missing_parent_fails_only_its_node() {
    let world = World::new(
        r#"
apply:
  - {id: a, type: file, path: "{{ root }}/missing/a", content: "x"}
  - {id: b, type: file, path: "{{ root }}/rw/b", content: "x"}
"#,
    );
    std::fs::create_dir(world.path("rw")).expect("mkdir");
    // No task makes `missing`: the plan cannot foresee that writing into it fails (as root,
    // permission bits do not stop writes), and a directory changed after the plan would make
    // the plan stale instead of failing one node.
    let (path, _) = world.plan();
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        run.status_of("apply.a").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.b").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
}
