//! A handler that edits a file other tasks also edit would leave the next edit planned from a
//! state that may never exist (the handler may not run): the plan refuses it.

use crate::common::World;

#[test]
fn handler_sharing_a_file_with_other_edits_is_refused() {
    let world = World::new(
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
    );
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("`mark` is a handler"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no plan on stdout when planning fails"
    );
    assert_eq!(
        std::fs::read_dir(&world.root).expect("root").count(),
        0,
        "plan changed nothing"
    );
}
