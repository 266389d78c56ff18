//! `assert` tasks gate the whole config: a false condition stops `plan` and `apply` before
//! anything is planned or changed; true ones add no plan node.

use crate::common::{self, World, nodes};

fn config(min_cpus: &str) -> String {
    format!(
        r#"
apply:
  - id: host-fits
    type: assert
    that: facts.cpu.count >= {min_cpus}
    fail_msg: "needs {min_cpus} CPUs"
  - {{id: ready, type: file, path: "{{{{ root }}}}/ready", content: "ok\n", depends_on: [host-fits]}}
"#
    )
}

#[test]
fn a_false_assertion_stops_plan_and_apply_and_changes_nothing() {
    let world = World::new(&config("100000"));
    for command in [&["plan"][..], &["apply"][..], &["apply", "--dry-run"][..]] {
        let run = world.run(command);
        assert_eq!(run.code, 1, "{command:?}:\n{}", run.all());
        assert!(run.stdout.is_empty(), "{command:?}: no plan on stdout");
        assert!(
            run.stderr.contains("error: assertion failed"),
            "{}",
            run.all()
        );
        assert!(
            run.stderr.contains("help: needs 100000 CPUs"),
            "{}",
            run.all()
        );
    }
    assert!(!world.path("ready").exists());
    assert!(world.reports().is_empty(), "no run, no report");
}

#[test]
fn true_assertions_add_no_node_and_the_config_applies() {
    let world = World::new(&config("1"));
    let (_, plan) = world.plan();
    let addresses: Vec<&str> = nodes(&plan)
        .iter()
        .filter_map(|n| n["address"].as_str())
        .collect();
    assert_eq!(addresses, ["apply.ready"]);
    assert!(
        common::node(&plan, "apply.ready")["depends_on"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "depending on an assert orders nothing: it held before any task ran"
    );
    world.apply();
    assert_eq!(common::read(&world.path("ready")), "ok\n");
}

#[test]
fn a_secret_in_the_failure_message_is_not_printed() {
    const SECRET: &str = "s3cr3t-7d1e0b5a";
    let mut world = World::new(
        r#"
apply:
  - type: assert
    that: facts.cpu.count < 0
    fail_msg: "token {{ secrets.API_TOKEN }} is for bigger hosts"
"#,
    );
    world.envs.push(("API_TOKEN".to_owned(), SECRET.to_owned()));
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("help: (sensitive)"), "{}", run.all());
    assert!(!run.all().contains(SECRET), "{}", run.all());
}
