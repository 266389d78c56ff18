//! The resource contract, through `probe` (a task type compiled only for the tests, feature
//! `test-types`): claims of any kind conflict and are reported at both tasks, a required claim
//! becomes an implicit edge with its reason, and exclusive claims never overlap at run time.
use crate::common::{self, World};

/// The `[start, end]` intervals (nanoseconds) each probe recorded in `record`, by name.
fn intervals(record: &std::path::Path) -> Vec<(String, u128, u128)> {
    let text = std::fs::read_to_string(record).expect("the probes' record");
    let mut starts = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [name, event, at] = fields[..] else {
            panic!("record line `{line}`");
        };
        let at: u128 = at.parse().expect("a time in ns");
        match event {
            "start" => {
                starts.insert(name.to_owned(), at);
            }
            _ => out.push((name.to_owned(), starts[name], at)),
        }
    }
    out
}

/// Eight probes, each running 40 ms, with `locks` on each, applied with `-j 8`.
fn eight_probes(world: &World, locks: &str) -> Vec<(String, u128, u128)> {
    let record = world.path("record");
    let tasks: String = (0..8)
        .map(|i| {
            format!(
                "  - {{type: probe, name: p{i}, record: \"{}\", hold_ms: 40, locks: {locks}}}\n",
                record.display()
            )
        })
        .collect();
    world.set_config(&format!("apply:\n{tasks}"));
    let run = world.run(&["apply", "-j", "8"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let recorded = intervals(&record);
    assert_eq!(recorded.len(), 8, "{recorded:?}");
    recorded
}

fn overlapping(intervals: &[(String, u128, u128)]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (i, a) in intervals.iter().enumerate() {
        for b in &intervals[i + 1..] {
            if a.1 < b.2 && b.1 < a.2 {
                pairs.push((a.0.clone(), b.0.clone()));
            }
        }
    }
    pairs
}

#[test]
fn exclusive_claims_never_overlap_at_run_time() {
    let world = World::new("apply: []\n");
    let locked = eight_probes(&world, "[package-manager]");
    assert_eq!(overlapping(&locked), Vec::new(), "{locked:?}");
}

#[test]
fn nodes_without_a_common_lock_run_side_by_side() {
    // The control for the test above: without the lock, the same probes overlap under -j 8,
    // so a scheduler ignoring locks would fail it.
    let world = World::new("apply: []\n");
    let free = eight_probes(&world, "[]");
    assert!(!overlapping(&free).is_empty(), "{free:?}");
}

#[test]
fn exclusive_locks_are_recorded_in_the_plan() {
    let world = World::new("apply:\n  - {type: probe, name: a, record: /tmp/r, locks: [apt]}\n");
    let (_, plan) = world.plan();
    assert_eq!(
        common::node(&plan, "apply.probe:a")["locks"],
        serde_json::json!(["lock apt"])
    );
}

#[test]
fn two_tasks_claiming_one_user_are_reported_at_both_locations() {
    let world = World::new(
        "apply:
  - {type: probe, name: a, record: /tmp/r, claims: [\"user:deploy\"]}
  - {type: probe, name: b, record: /tmp/r, claims: [\"user:deploy\"]}
",
    );
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    // The later claim is underlined; the help names where the earlier one is.
    assert_eq!(
        run.stderr,
        r#"error: two tasks manage user `deploy`: `probe:a` and `probe:b`
 --> main.yaml:7:53
  |
7 |   - {type: probe, name: b, record: /tmp/r, claims: ["user:deploy"]}
  |                                                     ^^^^^^^^^^^^^
  |
help: `probe:a` at main.yaml:6:53 already manages it; keep one task per user

1 error
"#
    );
}

#[test]
fn a_path_claimed_by_a_file_and_a_probe_conflicts() {
    let world = World::new(
        "apply:
  - {type: file, path: \"{{ root }}/f\", content: x}
  - {type: probe, name: b, record: /tmp/r, claims: [\"path:{{ root }}/./f\"]}
",
    );
    let run = world.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("two tasks manage `")
            && run.all().contains("`file:")
            && run.all().contains("` and `probe:b`"),
        "{}",
        run.all()
    );
}

#[test]
fn an_implicit_edge_to_the_owner_task_appears_when_one_exists() {
    // The file is written first, the tasks managing its owner and group after: the edges
    // put them before it, each with its reason.
    let world = World::new(
        "apply:
  - {type: file, path: \"{{ root }}/f\", content: x, owner: root, group: root}
  - {type: probe, name: user, record: /tmp/r, claims: [\"user:root\"]}
  - {type: probe, name: group, record: /tmp/r, claims: [\"group:root\"]}
",
    );
    let (_, plan) = world.plan();
    let nodes = common::nodes(&plan);
    let order: Vec<&str> = nodes
        .iter()
        .map(|n| n["address"].as_str().unwrap_or_default())
        .collect();
    let file_address = order
        .iter()
        .find(|a| a.starts_with("apply.file:"))
        .copied()
        .unwrap_or_default();
    assert_eq!(order.last().copied(), Some(file_address), "{order:?}");
    let file = common::node(&plan, file_address);
    assert_eq!(
        file["depends_on"],
        serde_json::json!([
            {"address": "apply.probe:user", "reason": "owner user"},
            {"address": "apply.probe:group", "reason": "owner group"},
        ])
    );
}

#[test]
fn no_owner_edge_without_a_task_claiming_the_owner() {
    let world = World::new(
        "apply:\n  - {type: file, path: \"{{ root }}/f\", content: x, owner: root, group: root}\n",
    );
    let (_, plan) = world.plan();
    assert_eq!(common::nodes(&plan)[0]["depends_on"], serde_json::json!([]));
}
