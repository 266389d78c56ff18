//! Facts tasks as plan nodes: `facts.<id>` nodes of kind `facts`, action `collect`, run once by
//! `execute` after the apply tasks they depend on, their samples and threshold events in the
//! run report.

use crate::common::{self, World, node, nodes};
use serde_json::Value;

/// A file task writes a value; a `command` collector reads it after that task, with levels.
const LEVEL: &str = r#"
apply:
  - {id: level, type: file, path: "{{ root }}/level", content: "0.97\n"}
facts:
  - id: level
    type: command
    command: [cat, "{{ root }}/level"]
    depends_on: level
    thresholds: { value: { warn: 0.8, critical: 0.95 } }
"#;

fn report_node<'r>(report: &'r Value, address: &str) -> &'r Value {
    report["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["address"] == address))
        .unwrap_or_else(|| panic!("no {address} in the report: {report:#}"))
}

#[test]
fn collector_runs_after_the_task_it_depends_on_and_reports_threshold_events() {
    let world = World::new(LEVEL);
    let (plan_path, plan) = world.plan();
    let collector = node(&plan, "facts.level");
    assert_eq!(collector["kind"], "facts");
    assert_eq!(collector["type"], "command");
    assert_eq!(collector["action"], "collect");
    assert_eq!(collector["depends_on"][0]["address"], "apply.level");
    assert_eq!(
        collector["after"]["thresholds"]["value"]["critical"], 0.95,
        "{collector:#}"
    );
    assert_eq!(plan["summary"]["create"], 1);
    assert_eq!(plan["summary"]["collect"], 1);
    // Facts nodes come after the apply nodes.
    assert_eq!(
        nodes(&plan).last().map(|n| n["address"].clone()),
        Some(Value::from("facts.level"))
    );

    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.level").as_deref(), Some("changed"));
    assert_eq!(
        run.status_of("facts.level").as_deref(),
        Some("collected"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("  critical: value{collector=\"level\"} = 0.97"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("Recap: 1 changed, 0 unchanged, 1 collected, 0 failed, 0 skipped.")
    );

    let reports = world.reports();
    let collected = report_node(&reports[0], "facts.level");
    assert_eq!(collected["status"], "unchanged");
    assert!(
        collected["facts"]["samples"].as_u64() > Some(0),
        "{collected:#}"
    );
    let event = &collected["facts"]["events"][0];
    assert_eq!(event["to"], "critical", "{collected:#}");
    assert_eq!(event["from"], "ok");
    assert_eq!(event["value"], 0.97);
    assert_eq!(event["value_name"], "value");
}

#[test]
fn a_plan_of_collectors_alone_changes_nothing() {
    let world = World::new("facts:\n  - type: load\n    interval: 30s\n  - type: memory\n");
    let run = world.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "collectors are not changes:\n{}", run.all());
    assert!(run.stderr.contains("2 collectors to run"), "{}", run.all());
    let plan = run.json();
    assert_eq!(node(&plan, "facts.load")["after"]["interval"], "30s");
    let run = world.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let reports = world.reports();
    let memory = report_node(&reports[0], "facts.memory");
    assert!(memory["facts"]["samples"].as_u64() > Some(10), "{memory:#}");
}

#[test]
fn a_failing_collector_fails_its_node_and_independent_nodes_go_on() {
    let world = World::new(
        r#"
apply:
  - {id: independent, type: file, path: "{{ root }}/independent", content: "ok\n"}
facts:
  - {id: broken, type: command, command: ["false"]}
"#,
    );
    let (plan_path, _) = world.plan();
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(run.status_of("facts.broken").as_deref(), Some("failed"));
    assert!(
        run.stdout.contains("false exited with code 1"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.independent").as_deref(),
        Some("changed")
    );
    assert_eq!(common::read(&world.path("independent")), "ok\n");
}

#[test]
fn a_collector_is_skipped_when_the_task_it_depends_on_failed() {
    let world = World::new(
        r#"
apply:
  - {id: script, type: file, path: "{{ root }}/missing-dir/value", content: "1\n"}
facts:
  - {id: value, type: command, command: [cat, "{{ root }}/missing-dir/value"], depends_on: [script]}
"#,
    );
    let (plan_path, _) = world.plan();
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(run.status_of("apply.script").as_deref(), Some("failed"));
    assert_eq!(
        run.status_of("facts.value").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("dependency apply.script did not succeed")
    );
}

#[test]
fn a_plan_with_collectors_is_refused_when_its_config_changed() {
    let world = World::new(LEVEL);
    let (plan_path, _) = world.plan();
    world.set_config(&LEVEL.replace("critical: 0.95", "critical: 0.99"));
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("not the one the plan was made from"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("nothing was changed"));
    assert!(!world.path("level").exists());
}

#[test]
fn a_secret_in_a_collector_is_in_no_plan_output_or_report() {
    const TOKEN: &str = "tok-3f9a1c77e2b54d1e";
    let mut world = World::new(
        r#"
facts:
  - id: api
    type: command
    command: [sh, -c, "test \"$0\" = {{ secrets.API_TOKEN }} && echo 7", "{{ secrets.API_TOKEN }}"]
"#,
    );
    world.envs.push(("API_TOKEN".to_owned(), TOKEN.to_owned()));
    let (plan_path, plan) = world.plan();
    let api = node(&plan, "facts.api");
    assert_eq!(api["after"], "(sensitive)");
    assert_eq!(api["after_sensitive"], true);
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("facts.api").as_deref(), Some("collected"));
    let show = world.run(&["show", plan_path.to_str().expect("utf-8 path")]);
    let plan_text = std::fs::read_to_string(&plan_path).expect("plan");
    let reports = serde_json::to_string(&world.reports()).expect("reports");
    for (what, text) in [
        ("plan.json", plan_text.as_str()),
        ("execute output", run.all().as_str()),
        ("show output", show.all().as_str()),
        ("run report", reports.as_str()),
    ] {
        assert!(
            !text.contains(TOKEN),
            "the secret is in the {what}:\n{text}"
        );
    }
}
