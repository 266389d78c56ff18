//! Run reports: every execute and apply writes one JSON report into `settings.audit`, with run
//! id, host, plan digest, per-node status and duration, and the redacted diff.

use crate::common::{self, World};

const CONFIG: &str = r#"
apply:
  - {id: changed, type: file, path: "{{ root }}/changed", content: "new\n"}
  - {id: same, type: file, path: "{{ root }}/same", content: "same\n"}
  - {id: broken, type: file, path: "{{ root }}/missing-dir/f", content: "x"}
  - {id: after-broken, type: file, path: "{{ root }}/after", content: "x", depends_on: [broken]}
"#;

#[test]
fn execute_writes_a_report_into_settings_audit() {
    let world = World::new(CONFIG);
    common::write(&world.path("changed"), b"old\n");
    common::write(&world.path("same"), b"same\n");
    let (path, plan) = world.plan();
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let reports = world.reports();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert!(report["run_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(report["host"], plan["host"]);
    // The host's built-in facts at the time of the run, for the audit trail.
    assert_eq!(report["facts"]["hostname"], plan["host"]["hostname"]);
    assert!(
        report["facts"]["kernel"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{report:#}"
    );
    assert!(report["facts"]["cpu"]["count"].as_u64() >= Some(1));
    assert_eq!(report["plan_digest"], plan["digest"]);
    assert_eq!(report["recap"]["changed"], 1);
    assert_eq!(report["recap"]["unchanged"], 1);
    assert_eq!(report["recap"]["failed"], 1);
    assert_eq!(report["recap"]["skipped"], 1);
    let nodes = report["nodes"].as_array().expect("nodes");
    let status = |address: &str| {
        let node = nodes
            .iter()
            .find(|n| n["address"] == address)
            .unwrap_or_else(|| panic!("{address} not in the report"));
        assert!(node["duration_ms"].is_u64(), "{node}");
        node["status"].as_str().expect("status").to_owned()
    };
    assert_eq!(status("apply.changed"), "changed");
    assert_eq!(status("apply.same"), "unchanged");
    assert_eq!(status("apply.broken"), "failed");
    assert_eq!(status("apply.after-broken"), "skipped");
    let changed = nodes
        .iter()
        .find(|n| n["address"] == "apply.changed")
        .expect("node");
    let diff = changed["diff"].as_str().expect("diff of a changed node");
    assert!(diff.contains("-old") && diff.contains("+new"), "{diff}");
}

#[test]
fn apply_writes_a_report_too_and_nothing_is_left_beside_it() {
    let world = World::new("apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: x}\n");
    world.apply();
    world.apply();
    let reports = world.reports();
    assert_eq!(reports.len(), 2);
    assert_ne!(reports[0]["run_id"], reports[1]["run_id"]);
    for entry in std::fs::read_dir(&world.audit).expect("audit dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.ends_with(".json") && !name.starts_with('.'),
            "stray file {name}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&world.audit)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

/// Without `settings.audit`, reports go to `runs/` in the state directory, which keeps the
/// newest 1,000: a host running `apply` every minute never fills its disk with them.
#[test]
fn the_default_report_directory_keeps_the_newest_thousand_reports() {
    let temp = tempfile::tempdir().expect("temp dir");
    let config = temp.path().join("config");
    let runs = temp.path().join("state/runs");
    std::fs::create_dir_all(&runs).expect("runs");
    common::write(
        &config.join("main.yaml"),
        format!(
            "apply:\n  - {{type: file, path: \"{}/motd\", content: \"hi\\n\"}}\n",
            temp.path().display()
        )
        .as_bytes(),
    );
    // A thousand earlier runs, the oldest first by name (names start with the start time).
    for run in 0..1000 {
        std::fs::write(runs.join(format!("2000-01-01T{run:06}Z-old.json")), "{}\n")
            .expect("old report");
    }
    let output = common::driftless_command(temp.path())
        .env("DRIFTLESS_STATE_DIR", temp.path().join("state"))
        .arg("-c")
        .arg(&config)
        .arg("apply")
        .output()
        .expect("run driftless");
    assert!(output.status.success(), "{output:?}");
    let mut names: Vec<String> = std::fs::read_dir(&runs)
        .expect("runs")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 1000);
    assert_eq!(names[0], "2000-01-01T000001Z-old.json", "the oldest went");
    assert!(
        !names[999].starts_with("2000-"),
        "the new report stays: {}",
        names[999]
    );
}

/// A change without a content diff — a mode, a link's target — is in the report field by
/// field, not as `diff: null`.
#[test]
fn the_report_records_attribute_changes_before_and_after() {
    let world = World::new(
        r#"apply:
  - {type: file, path: "{{ root }}/conf", content: "same\n", mode: "0640"}
  - {type: link, path: "{{ root }}/current", src: "{{ root }}/v2"}
"#,
    );
    std::fs::write(world.path("conf"), "same\n").expect("conf");
    common::set_mode(&world.path("conf"), 0o644);
    std::os::unix::fs::symlink(world.path("v1"), world.path("current")).expect("link");
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    let report = world.reports().pop().expect("a report");
    let node = |address: &str| {
        report["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["address"] == address)
            .cloned()
            .unwrap_or_else(|| panic!("no {address} in {report}"))
    };
    let conf = node(&format!("apply.file:{}", world.path("conf").display()));
    assert_eq!(conf["diff"], serde_json::Value::Null);
    assert_eq!(
        conf["changes"],
        serde_json::json!([{"field": "mode", "before": "0644", "after": "0640"}])
    );
    let link = node(&format!("apply.link:{}", world.path("current").display()));
    assert_eq!(
        link["changes"],
        serde_json::json!([{
            "field": "target",
            "before": world.path("v1").display().to_string(),
            "after": world.path("v2").display().to_string()
        }])
    );
}
