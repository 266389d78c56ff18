//! `directory`: create with parents, mode update, no-op, removal of an empty one, refusal of a
//! non-empty one without `recurse`, and removal with it.

use crate::common::{self, World, mode};

fn config(state: &str, extra: &str) -> String {
    format!(
        "apply:\n  - {{id: d, type: directory, path: \"{{{{ root }}}}/a/b/c\", state: {state}{extra}}}\n"
    )
}

#[test]
fn create_with_parents_update_mode_noop_delete() {
    let world = World::new(&config("present", ""));
    world.step("apply.d", "create");
    assert!(world.path("a/b/c").is_dir());
    assert_eq!(mode(&world.path("a/b/c")), 0o755);
    world.step("apply.d", "no-op");
    world.set_config(&config("present", ", mode: \"0700\""));
    world.step("apply.d", "update");
    assert_eq!(mode(&world.path("a/b/c")), 0o700);
    world.set_config(&config("absent", ""));
    world.step("apply.d", "delete");
    assert!(!world.path("a/b/c").exists());
    assert!(
        world.path("a/b").is_dir(),
        "only the directory itself is removed"
    );
    world.step("apply.d", "no-op");
}

#[test]
fn without_parents_a_missing_parent_fails() {
    let world = World::new(&config("present", ", parents: false"));
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!world.path("a").exists());
}

#[test]
fn non_empty_directory_is_not_removed_without_recurse() {
    let world = World::new(&config("absent", ""));
    common::write(&world.path("a/b/c/keep"), b"precious");
    let before = common::tree(&world.root);
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("recurse: true"), "{}", run.all());
    assert_eq!(before, common::tree(&world.root));
}

#[test]
fn recurse_removes_a_non_empty_directory() {
    let world = World::new(&config("absent", ", recurse: true"));
    common::write(&world.path("a/b/c/d/e"), b"x");
    world.step("apply.d", "delete");
    assert!(!world.path("a/b/c").exists());
}

#[test]
fn a_file_at_the_path_is_not_replaced() {
    let world = World::new(&config("present", ""));
    common::write(&world.path("a/b/c"), b"a file");
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(common::read(&world.path("a/b/c")), "a file");
}
