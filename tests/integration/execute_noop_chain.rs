//! A `noop` task in a chain of edits to one file: it never runs, so the next edit must be
//! planned from the file as it is, not from what the noop task would have made of it.

use crate::common::{self, World};

#[test]
fn edit_after_a_noop_edit_of_the_same_file_applies() {
    let world = World::new(
        r#"apply:
  - id: a
    type: lineinfile
    path: "{{ root }}/f"
    line: first
    create: true
    noop: true
  - id: b
    type: lineinfile
    path: "{{ root }}/f"
    line: second
    create: true
"#,
    );
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("skipped    apply.a: noop"),
        "{}",
        run.stdout
    );
    assert_eq!(common::read(&world.path("f")), "second\n");
}
