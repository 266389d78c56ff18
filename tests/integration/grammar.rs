//! `grammar/` holds the JSON Schemas generated from the Rust types: editors validate configs
//! with one, tools read plans with the other. These tests fail when a type change was not
//! followed by regenerating them, and check a real plan against the plan schema.

use std::process::Command;

const CONFIG_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/config.schema.json");
const PLAN_SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/grammar/plan.schema.json");

fn driftless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
}

#[test]
fn config_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(CONFIG_SCHEMA).expect("grammar/config.schema.json");
    let generated = driftless::grammar::config_schema_text();
    assert!(
        committed == generated,
        "grammar/config.schema.json is out of date: run `cargo run -- schema > grammar/config.schema.json`"
    );
}

#[test]
fn plan_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(PLAN_SCHEMA).expect("grammar/plan.schema.json");
    let generated = driftless::grammar::plan_schema_text();
    assert!(
        committed == generated,
        "grammar/plan.schema.json is out of date: run `cargo run -- schema plan > grammar/plan.schema.json`"
    );
}

#[test]
fn schema_command_prints_the_committed_schemas() {
    for (args, path) in [
        (&["schema"][..], CONFIG_SCHEMA),
        (&["schema", "config"][..], CONFIG_SCHEMA),
        (&["schema", "plan"][..], PLAN_SCHEMA),
    ] {
        let output = driftless()
            .args(args)
            .output()
            .expect("run driftless schema");
        assert!(output.status.success(), "driftless {args:?} failed");
        let committed = std::fs::read(path).expect(path);
        assert!(
            output.stdout == committed,
            "driftless {args:?} differs from {path}"
        );
    }
}

/// A plan of the quickstart with every kind of node the file family makes: creates, an update
/// with a diff, a no-op.
fn quickstart_plan(root: &std::path::Path) -> serde_json::Value {
    std::fs::create_dir_all(root).expect("root");
    std::fs::write(root.join("motd"), "an old motd\n").expect("motd");
    std::fs::write(root.join("hosts"), "127.0.0.1 localhost\n::1 localhost\n").expect("hosts");
    let output = driftless()
        .args([
            "-c",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart"),
        ])
        .arg("-e")
        .arg(format!("root={}", root.display()))
        .arg("plan")
        .output()
        .expect("run driftless plan");
    assert!(
        output.status.success(),
        "driftless plan failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("plan.json is JSON")
}

#[test]
fn a_real_plan_validates_against_the_plan_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(PLAN_SCHEMA).expect("plan schema"))
            .expect("the plan schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema");
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = quickstart_plan(&dir.path().join("qs"));
    let actions: Vec<&str> = plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["action"].as_str())
        .collect();
    assert!(actions.contains(&"create") && actions.contains(&"update"));
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the plan does not match its schema: {errors:#?}"
    );

    // The schema is not vacuous: a plan without its digest, or with an unknown action, fails.
    let mut broken = plan.clone();
    broken.as_object_mut().expect("object").remove("digest");
    assert!(!validator.is_valid(&broken));
    let mut broken = plan.clone();
    broken["nodes"][0]["action"] = "explode".into();
    assert!(!validator.is_valid(&broken));
    // Readers ignore unknown fields: a newer minor format's additions still validate.
    let mut newer = plan;
    newer["nodes"][0]["added_in_a_minor_version"] = true.into();
    assert!(validator.is_valid(&newer));
}

/// A plan with nodes of several families (files, commands, a handler) matches the schema too.
#[test]
fn a_plan_of_several_families_validates_against_the_plan_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(PLAN_SCHEMA).expect("plan schema"))
            .expect("the plan schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema");
    let world = crate::common::World::new(
        r#"apply:
  - {id: conf, type: file, path: "{{ root }}/conf", content: "x\n", notify: [reload]}
  - {id: stamp, type: command, argv: [touch, "{{ root }}/stamp"], creates: "{{ root }}/stamp"}
handlers:
  - {id: reload, type: shell, cmd: "echo reloaded"}
"#,
    );
    let (_, plan) = world.plan();
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the plan does not match its schema: {errors:#?}"
    );
}
