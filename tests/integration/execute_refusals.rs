//! `execute` refuses, before changing anything: a stale plan (naming the node and what
//! changed), an edited plan, a plan from another host, an unknown major format.

use crate::common::{self, World, tree};
use serde_json::Value;

const CONFIG: &str = r#"
apply:
  - {id: a, type: file, path: "{{ root }}/a", content: "new a\n", mode: "0640"}
  - {id: b, type: file, path: "{{ root }}/b", content: "new b\n"}
"#;

fn world() -> World {
    let world = World::new(CONFIG);
    common::write(&world.path("a"), b"old a\n");
    common::set_mode(&world.path("a"), 0o640);
    world
}

/// Writes `plan` (edited) back, sealed again the way `driftless plan` seals it.
fn write_with_digest(path: &std::path::Path, mut plan: Value) {
    common::reseal(&mut plan);
    common::write(
        path,
        serde_json::to_string_pretty(&plan)
            .expect("json")
            .as_bytes(),
    );
}

fn assert_refused(
    world: &World,
    plan: &std::path::Path,
    before: &std::collections::BTreeMap<String, String>,
    needle: &str,
) {
    let run = world.execute(plan, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(needle),
        "expected {needle:?}:\n{}",
        run.all()
    );
    assert_eq!(
        before,
        &tree(&world.root),
        "a refused plan changed the tree"
    );
    assert!(
        world.reports().is_empty(),
        "a refused plan wrote a run report"
    );
}

#[test]
fn stale_content_is_refused_naming_the_node() {
    let world = world();
    let (plan, _) = world.plan();
    common::write(&world.path("a"), b"edited after the plan\n");
    let before = tree(&world.root);
    assert_refused(&world, &plan, &before, "apply.a");
    assert_refused(&world, &plan, &before, "content changed");
    let run = world.execute(&plan, &[]);
    assert!(
        !run.stderr.contains("apply.b"),
        "only the stale node is named:\n{}",
        run.all()
    );
}

#[test]
fn stale_mode_is_refused_naming_the_change() {
    let world = world();
    let (plan, _) = world.plan();
    common::set_mode(&world.path("a"), 0o600);
    let before = tree(&world.root);
    assert_refused(&world, &plan, &before, "apply.a");
    assert_refused(&world, &plan, &before, "mode 0640 → 0600");
}

#[test]
fn stale_creation_is_refused() {
    let world = world();
    let (plan, _) = world.plan();
    common::write(&world.path("b"), b"appeared\n");
    let before = tree(&world.root);
    assert_refused(&world, &plan, &before, "apply.b");
}

#[test]
fn edited_plan_is_refused() {
    let world = world();
    let (plan, _) = world.plan();
    let text = common::read(&plan);
    let edited = text.replacen("new a", "new A", 1);
    assert_ne!(text, edited);
    common::write(&plan, edited.as_bytes());
    let before = tree(&world.root);
    assert_refused(&world, &plan, &before, "digest does not match");
}

#[test]
fn plan_from_another_host_is_refused() {
    let world = world();
    let (path, mut plan) = world.plan();
    plan["host"]["hostname"] = Value::from("some-other-host");
    write_with_digest(&path, plan);
    // Only the host check is left to refuse it: `show` accepts the digest.
    assert_eq!(world.run(&["show", path.to_str().expect("utf-8")]).code, 0);
    let before = tree(&world.root);
    assert_refused(&world, &path, &before, "some-other-host");
}

#[test]
fn unknown_major_format_is_refused() {
    let world = world();
    let (path, mut plan) = world.plan();
    plan["format_version"] = Value::from("2.0");
    write_with_digest(&path, plan);
    let before = tree(&world.root);
    assert_refused(&world, &path, &before, "format 2.0 is not supported");
}

#[test]
fn newer_minor_format_with_unknown_fields_is_accepted() {
    let world = world();
    let (path, mut plan) = world.plan();
    plan["format_version"] = Value::from("1.7");
    plan["a_future_field"] = Value::from(true);
    write_with_digest(&path, plan);
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("a")), "new a\n");
}
