//! Handlers: a notified task runs only when a notifier changed something, once.

use crate::common::{self, World, read};

fn config(content: &str) -> String {
    format!(
        r#"
apply:
  - {{id: conf, type: file, path: "{{{{ root }}}}/conf", content: "{content}", notify: [reload]}}
  - {{id: other, type: file, path: "{{{{ root }}}}/other", content: "x", notify: [reload]}}
  - {{id: reload, type: file, path: "{{{{ root }}}}/reloaded", content: "reloaded"}}
"#
    )
}

#[test]
fn handler_runs_when_a_notifier_changed() {
    let world = World::new(&config("v1"));
    let (plan, json) = world.plan();
    assert_eq!(common::node(&json, "apply.reload")["handler"], true);
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(read(&world.path("reloaded")), "reloaded");
}

#[test]
fn handler_is_skipped_when_no_notifier_changed() {
    let world = World::new(&config("v1"));
    world.apply();
    // The handler's own drift is not enough: nobody notified it.
    std::fs::remove_file(world.path("reloaded")).expect("rm");
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("not notified"), "{}", run.all());
    assert!(!world.path("reloaded").exists());
}

#[test]
fn one_changed_notifier_is_enough() {
    let world = World::new(&config("v1"));
    world.apply();
    std::fs::remove_file(world.path("reloaded")).expect("rm");
    world.set_config(&config("v2"));
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.conf").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.other").as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(read(&world.path("reloaded")), "reloaded");
}
