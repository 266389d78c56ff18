//! `show`: the plan for humans — every change with its diff and the summary; no color when
//! stdout is not a terminal; an edited plan is refused here too.

use crate::common::{self, World};

#[test]
fn show_lists_changes_with_diffs_and_the_summary_without_color_in_a_pipe() {
    let world = World::all_types();
    let (path, _) = world.plan();
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("+ apply.file create"), "{}", run.all());
    assert!(run.stdout.contains("+hello world"), "{}", run.all());
    assert!(
        run.stdout
            .contains("Plan: 7 to create, 1 to update, 0 to delete, 0 unchanged."),
        "{}",
        run.all()
    );
    assert!(
        !run.stdout.contains('\u{1b}'),
        "color in a pipe:\n{}",
        run.stdout
    );
}

#[test]
fn show_names_attribute_changes() {
    let world = World::all_types();
    world.apply();
    common::set_mode(&world.path("d/copied"), 0o644);
    let (path, _) = world.plan();
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(run.stdout.contains("mode: 0644 → 0600"), "{}", run.all());
}

#[test]
fn show_refuses_an_edited_plan() {
    let world = World::all_types();
    let (path, _) = world.plan();
    let text = common::read(&path).replacen("hello world", "hello there", 1);
    common::write(&path, text.as_bytes());
    let run = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("digest does not match"),
        "{}",
        run.all()
    );
}
