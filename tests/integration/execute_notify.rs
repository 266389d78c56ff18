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

/// The same handler written under `handlers:`, as Ansible users write it.
fn config_with_section(content: &str) -> String {
    format!(
        r#"
apply:
  - {{id: conf, type: file, path: "{{{{ root }}}}/conf", content: "{content}", notify: [reload]}}
handlers:
  - {{id: reload, type: file, path: "{{{{ root }}}}/reloaded", content: "reloaded"}}
  - {{id: never-notified, type: file, path: "{{{{ root }}}}/never", content: "x"}}
"#
    )
}

#[test]
fn a_handlers_section_task_runs_only_when_notified() {
    let world = World::new(&config_with_section("v1"));
    let (plan, json) = world.plan();
    assert_eq!(common::node(&json, "apply.reload")["handler"], true);
    assert_eq!(common::node(&json, "apply.never-notified")["handler"], true);
    assert_eq!(json["summary"]["create"], 1, "{json}");
    assert_eq!(json["summary"]["handlers"], 2, "{json}");
    let run = world.execute(&plan, &[]);
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.never-notified").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert!(!world.path("never").exists());
}

#[test]
fn only_un_notified_handlers_left_is_no_change_for_detailed_exitcode() {
    let world = World::new(&config_with_section("v1"));
    world.apply();
    // Converged but for the handlers: a plan with only handlers pending changes nothing.
    let run = world.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("1 handler if notified"),
        "{}",
        run.all()
    );
    world.set_config(&config_with_section("v2"));
    let run = world.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}", run.all());
}

#[test]
fn show_lists_handlers_apart_after_the_tasks() {
    let world = World::new(&config_with_section("v1"));
    let (plan, _) = world.plan();
    let show = world.run(&["show", plan.to_str().expect("utf-8 path")]);
    assert_eq!(show.code, 0, "{}", show.all());
    let heading = show
        .stdout
        .find("Handlers, run only when a task notifying them changes something:")
        .unwrap_or_else(|| panic!("no handlers heading:\n{}", show.all()));
    let task = show.stdout.find("apply.conf").expect("the task");
    let handler = show
        .stdout
        .find("apply.never-notified")
        .expect("the handler");
    assert!(task < heading && heading < handler, "{}", show.stdout);
}
