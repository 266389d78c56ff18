//! SIGTERM or SIGINT during a run: the running node finishes, the rest are skipped, the report
//! is written, and the exit code is not 0 — through `probe` nodes that take their time.

use std::time::Duration;

use crate::common::{self, World};

fn interrupted_run(signal: libc::c_int) {
    let world = World::new("apply: []\n");
    let record = world.path("record");
    let tasks: String = (0..6)
        .map(|i| {
            format!(
                "  - {{type: probe, name: p{i}, record: \"{}\", hold_ms: 300}}\n",
                record.display()
            )
        })
        .collect();
    world.set_config(&format!("apply:\n{tasks}"));
    let (plan, _) = world.plan();
    let mut command = common::driftless_command(world.temp.path());
    command
        .env("DRIFTLESS_STATE_DIR", world.state_dir())
        .arg("--env-file")
        .arg(&world.env_file)
        .args(["execute", "-j", "1"])
        .arg(&plan)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("spawn driftless execute");
    // Signalled while the first probe runs: the run has begun, the handlers are in place.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&record).is_ok_and(|t| t.contains(" start "))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on the pid of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let output = child.wait_with_output().expect("wait for driftless");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // Every probe that started also ended: a running node is never cut off.
    let text = std::fs::read_to_string(&record).expect("the probes' record");
    let starts = text.lines().filter(|l| l.contains(" start ")).count();
    let ends = text.lines().filter(|l| l.contains(" end ")).count();
    assert_eq!(starts, ends, "{text}");
    assert!((1..6).contains(&starts), "{text}");
    let reports = world.reports();
    assert_eq!(reports.len(), 1, "one report");
    let report = &reports[0];
    assert_eq!(report["interrupted"], true, "{report:#}");
    assert_eq!(report["recap"]["changed"], starts, "{report:#}");
    assert_eq!(report["recap"]["skipped"], 6 - starts, "{report:#}");
    let skipped = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["status"] == "skipped")
        .all(|n| n["reason"] == "not run: interrupted (SIGTERM or SIGINT)");
    assert!(skipped, "{report:#}");
}

#[test]
fn sigterm_lets_the_running_node_finish_skips_the_rest_and_writes_the_report() {
    interrupted_run(libc::SIGTERM);
}

#[test]
fn sigint_does_the_same() {
    interrupted_run(libc::SIGINT);
}
