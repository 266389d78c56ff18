//! What `execute` and `apply` print: a line per node as it ends — before the run is over —,
//! or with `--format json` one JSON object per node and then the recap; `show --format json`.

use std::io::BufRead;

use serde_json::Value;

use crate::common::{self, World};

/// A quick node, then one that holds for a while: the first's line comes while the second
/// still runs.
#[cfg(feature = "test-types")]
#[test]
fn result_lines_stream_as_nodes_end() {
    let world = World::new("apply: []\n");
    let record = world.path("record");
    world.set_config(&format!(
        "apply:\n  - {{id: quick, type: file, path: \"{}\", content: \"x\"}}\n  - {{type: probe, name: slow, record: \"{}\", hold_ms: 3000, depends_on: [quick]}}\n",
        world.path("quick").display(),
        record.display()
    ));
    let (plan, _) = world.plan();
    let mut child = common::driftless_command(world.temp.path())
        .env("DRIFTLESS_STATE_DIR", world.state_dir())
        .arg("--env-file")
        .arg(&world.env_file)
        .arg("execute")
        .arg(&plan)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn driftless execute");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    assert!(first.starts_with("changed    apply.quick"), "{first}");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the first line came only when the run was over"
    );
    let status = child.wait().expect("wait");
    assert!(status.success());
}

fn lines_as_json(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn execute_and_apply_print_one_json_object_per_node_then_the_recap() {
    let world = World::new(
        "apply:\n  - {id: a, type: file, path: \"{{ root }}/a\", content: \"a\"}\n  - {id: b, type: directory, path: \"{{ root }}/b\"}\n",
    );
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let lines = lines_as_json(&run.stdout);
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let mut addresses: Vec<&str> = lines[..2]
        .iter()
        .map(|l| l["address"].as_str().expect("address"))
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["apply.a", "apply.b"]);
    assert!(lines[..2].iter().all(|l| l["status"] == "changed"));
    assert_eq!(lines[2]["recap"]["changed"], 2);
    assert_eq!(lines[2]["interrupted"], false);
    let run = world.run(&["apply", "--format", "json"]);
    let lines = lines_as_json(&run.stdout);
    assert!(
        lines[..2].iter().all(|l| l["status"] == "unchanged"),
        "{}",
        run.stdout
    );
    assert_eq!(lines[2]["recap"]["unchanged"], 2);
}

#[test]
fn show_prints_the_plan_as_one_json_document() {
    let world = World::new(
        "apply:\n  - {id: a, type: file, path: \"{{ root }}/a\", content: \"new\\n\", mode: \"4755\"}\n  - {id: b, type: directory, path: \"{{ root }}/b\"}\n",
    );
    std::fs::create_dir(world.path("b")).expect("b");
    let (plan, _) = world.plan();
    let show = world.run(&["show", "--format", "json", plan.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    let doc: Value = serde_json::from_str(&show.stdout).expect("one JSON document");
    let nodes = doc["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 1, "no-op nodes are left out: {doc}");
    assert_eq!(nodes[0]["address"], "apply.a");
    assert_eq!(nodes[0]["action"], "create");
    assert!(
        nodes[0]["diff"]
            .as_array()
            .expect("diff")
            .iter()
            .any(|l| l == "+new")
    );
    assert!(
        nodes[0]["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("setuid"))),
        "{doc}"
    );
    assert_eq!(doc["summary"]["create"], 1);
    assert_eq!(doc["summary"]["no_op"], 1);
}

#[test]
fn verbose_logs_each_stage_and_very_verbose_each_node() {
    let world =
        World::new("apply:\n  - {id: a, type: file, path: \"{{ root }}/a\", content: \"a\"}\n");
    let run = world.run(&["-v", "apply"]);
    assert_eq!(run.code, 0, "{}", run.all());
    for stage in ["loaded", "rendered", "checked", "lowered", "observed"] {
        assert!(
            run.stderr.contains(stage),
            "-v lacks {stage}: {}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("apply.a"), "{}", run.stderr);
    world.set_config("apply:\n  - {id: a, type: file, path: \"{{ root }}/a\", content: \"b\"}\n");
    let run = world.run(&["-vv", "apply"]);
    for line in ["observed and planned", "starting", "ended"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(line) && l.contains("apply.a")),
            "-vv lacks {line} of apply.a: {}",
            run.stderr
        );
    }
}
