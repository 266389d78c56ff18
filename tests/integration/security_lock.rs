//! One run at a time per host: while another run holds the run lock (an exclusive `flock` on
//! `<state dir>/lock`), `execute` and `apply` are refused at once, or wait up to
//! `--lock-timeout`; either way the run report says so.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::common::{self, World};
use serde_json::Value;

const CONFIG: &str = r#"
apply:
  - id: a
    type: file
    path: "{{ root }}/a"
    content: "a\n"
  - id: b
    type: file
    path: "{{ root }}/b"
    content: "b\n"
"#;

/// Holds the world's run lock as another run would, with `pid` written in it.
fn hold_lock(world: &World, pid: u32) -> File {
    std::fs::create_dir_all(world.state_dir()).expect("mkdir state");
    let mut file = File::create(world.state_dir().join("lock")).expect("create lock");
    file.lock().expect("lock");
    writeln!(file, "{pid}").expect("write pid");
    file
}

fn only_report(world: &World) -> Value {
    let reports = world.reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    reports.into_iter().next().expect("one report")
}

fn assert_refused(world: &World, run: &common::Run, waited_at_least: Duration) {
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("another driftless run (pid 4242) holds the run lock"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.all());
    assert!(run.stderr.contains("--lock-timeout"), "{}", run.all());
    assert!(!world.path("a").exists() && !world.path("b").exists());
    let report = only_report(world);
    assert_eq!(report["lock"]["outcome"], "refused", "{report:#}");
    assert_eq!(report["lock"]["holder_pid"], 4242);
    assert!(
        report["lock"]["waited_ms"].as_u64().expect("waited_ms")
            >= waited_at_least.as_millis() as u64
    );
    assert_eq!(report["recap"]["skipped"], 2, "{report:#}");
    assert_eq!(report["recap"]["changed"], 0);
    for node in report["nodes"].as_array().expect("nodes") {
        assert_eq!(node["status"], "skipped");
        assert!(
            node["reason"]
                .as_str()
                .expect("reason")
                .contains("holds the run lock"),
            "{node}"
        );
    }
}

#[test]
fn execute_is_refused_at_once_while_another_run_holds_the_lock() {
    let world = World::new(CONFIG);
    let (plan, _) = world.plan();
    let _held = hold_lock(&world, 4242);
    let started = Instant::now();
    let run = world.execute(&plan, &[]);
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
    assert_refused(&world, &run, Duration::ZERO);
}

#[test]
fn apply_is_refused_while_another_run_holds_the_lock() {
    let world = World::new(CONFIG);
    let _held = hold_lock(&world, 4242);
    let run = world.run(&["apply"]);
    assert_refused(&world, &run, Duration::ZERO);
}

#[test]
fn execute_gives_up_when_the_lock_timeout_passes() {
    let world = World::new(CONFIG);
    let (plan, _) = world.plan();
    let _held = hold_lock(&world, 4242);
    let run = world.execute(&plan, &["--lock-timeout", "300ms"]);
    assert_refused(&world, &run, Duration::from_millis(300));
    assert!(run.stderr.contains("after waiting"), "{}", run.all());
}

#[test]
fn execute_waits_for_the_lock_with_a_lock_timeout_and_reports_the_wait() {
    let world = World::new(CONFIG);
    let (plan, _) = world.plan();
    let held = hold_lock(&world, 4242);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        drop(held);
    });
    let run = world.execute(&plan, &["--lock-timeout", "30s"]);
    releaser.join().expect("releaser");
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("a")), "a\n");
    let report = only_report(&world);
    assert_eq!(report["lock"]["outcome"], "acquired", "{report:#}");
    let waited = report["lock"]["waited_ms"].as_u64().expect("waited_ms");
    assert!(waited >= 500, "waited {waited} ms");
    assert_eq!(report["recap"]["changed"], 2);
}

#[test]
fn a_run_without_contention_records_the_lock_it_took() {
    let world = World::new(CONFIG);
    world.apply();
    let report = only_report(&world);
    assert_eq!(report["lock"]["outcome"], "acquired", "{report:#}");
    assert_eq!(
        report["lock"]["path"],
        world.state_dir().join("lock").display().to_string()
    );
    // The lock is free again once the run is over.
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn a_lock_timeout_that_is_not_a_duration_is_refused() {
    let world = World::new(CONFIG);
    let run = world.run(&["apply", "--lock-timeout", "soon"]);
    assert_eq!(run.code, 64, "{}", run.all());
    assert!(
        run.stderr.contains("`soon` is not a duration"),
        "{}",
        run.all()
    );
    assert!(!world.path("a").exists());
}

#[test]
fn two_applies_at_once_take_turns_and_each_file_is_changed_once() {
    let mut config = String::from("apply:\n");
    for i in 0..100 {
        config.push_str(&format!(
            "  - type: file\n    path: \"{{{{ root }}}}/f{i}\"\n    content: \"{i}\\n\"\n"
        ));
    }
    let world = std::sync::Arc::new(World::new(&config));
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let world = world.clone();
            std::thread::spawn(move || world.run(&["apply", "--lock-timeout", "60s"]))
        })
        .collect();
    for run in runs {
        let run = run.join().expect("apply thread");
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let reports = world.reports();
    assert_eq!(reports.len(), 2);
    // The run that waited planned after the other one finished: nothing left to change.
    let changed: Vec<u64> = reports
        .iter()
        .map(|r| r["recap"]["changed"].as_u64().expect("changed"))
        .collect();
    assert_eq!(changed.iter().sum::<u64>(), 100, "{changed:?}");
    assert!(changed.contains(&0), "{changed:?}");
    for r in &reports {
        assert_eq!(r["lock"]["outcome"], "acquired");
        assert_eq!(r["recap"]["failed"], 0, "{r:#}");
    }
}
