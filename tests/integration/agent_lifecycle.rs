//! `driftless agent`'s life: reload on SIGHUP and on a change of its config dir, stop on
//! SIGTERM within 5 s, one agent per state directory, plan mode.

use std::time::{Duration, Instant};

use crate::agent_support::{AgentWorld, wait_until};

/// An agent without a Git source, converging its own config dir: `interval` long, so that
/// only a reload makes a second cycle.
fn own_config_agent(world: &AgentWorld, interval: &str, content: &str) {
    let apply = format!(
        "apply:\n  - id: motd\n    type: file\n    path: {}\n    content: {content:?}\n",
        world.root.join("motd").display()
    );
    world.own_config(&format!("{{ interval: {interval} }}"), &apply);
}

#[test]
fn sighup_reloads_and_converges_at_once() {
    let world = AgentWorld::new();
    own_config_agent(&world, "1h", "one\n");
    let agent = world.start();
    assert!(wait_until(Duration::from_secs(10), || world.motd() == "one\n"));
    // Wait out the config-dir poll so that only the signal can start a cycle.
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(world.root.join("motd"), "edited\n").expect("edit");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(world.motd(), "edited\n", "a cycle ran without a reload");
    agent.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(3), || world.motd() == "one\n"),
        "{}",
        agent.log()
    );
    assert!(agent.log().contains("reloading"));
}

#[test]
fn a_change_of_the_config_dir_reloads() {
    let world = AgentWorld::new();
    own_config_agent(&world, "1h", "before\n");
    let agent = world.start();
    assert!(wait_until(Duration::from_secs(10), || world.motd() == "before\n"));
    own_config_agent(&world, "1h", "after\n");
    assert!(
        wait_until(Duration::from_secs(4), || world.motd() == "after\n"),
        "{}",
        agent.log()
    );
}

#[test]
fn an_edit_in_a_new_subdirectory_of_the_config_dir_reloads_well_within_the_poll_interval() {
    let world = AgentWorld::new();
    own_config_agent(&world, "1h", "before\n");
    let agent = world.start();
    assert!(wait_until(Duration::from_secs(10), || world.motd() == "before\n"));
    let reloads = |agent: &crate::agent_support::Agent| {
        agent.log().matches("reloading the agent's config").count()
    };
    // A subdirectory made after the start is watched too.
    std::fs::create_dir(world.own.join("more")).expect("mkdir");
    assert!(wait_until(Duration::from_secs(3), || reloads(&agent) == 1));
    std::thread::sleep(Duration::from_millis(300));
    let vars = world.own.join("more/vars.yaml");
    for (n, value) in ["one", "two", "three"].iter().enumerate() {
        let written = Instant::now();
        std::fs::write(&vars, format!("vars: {{ seen: {value} }}\n")).expect("write");
        assert!(
            wait_until(Duration::from_secs(3), || reloads(&agent) == n + 2),
            "{}",
            agent.log()
        );
        // The config dir is polled every second when inotify cannot tell.
        let after = written.elapsed();
        assert!(
            after < Duration::from_millis(900),
            "reloaded {after:?} after the edit"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        agent.log().matches("(inotify)").count(),
        4,
        "{}",
        agent.log()
    );
    assert!(!agent.log().contains("(polling)"));
}

#[test]
fn sigterm_stops_within_five_seconds_and_releases_the_lock() {
    let world = AgentWorld::new();
    own_config_agent(&world, "1s", "x\n");
    let mut agent = world.start();
    assert!(wait_until(Duration::from_secs(10), || world
        .metric("driftless_apply_runs_total", &[("result", "changed")])
        == Some(1.0)));
    let asked = Instant::now();
    agent.signal("TERM");
    let code = agent.wait_exit(Duration::from_secs(5));
    assert_eq!(code, Some(0), "did not stop within 5 s: {}", agent.log());
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert!(agent.log().contains("agent stopped"));
    // The lock went with it: a new agent starts on the same state directory.
    let mut next = world.start();
    assert!(wait_until(Duration::from_secs(10), || world
        .metric("driftless_apply_runs_total", &[("result", "unchanged")])
        .is_some_and(|n| n >= 1.0)));
    next.signal("INT");
    assert_eq!(next.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn a_second_agent_on_the_same_state_dir_refuses_to_start() {
    let world = AgentWorld::new();
    own_config_agent(&world, "1h", "x\n");
    let first = world.start();
    assert!(wait_until(Duration::from_secs(10), || world.motd() == "x\n"));
    let mut second = world.start();
    let code = second.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{}", second.log());
    let log = second.log();
    assert!(log.contains("another driftless agent"), "{log}");
    assert!(log.contains(&format!("pid {}", first.child.id())), "{log}");
}

#[test]
fn plan_mode_reports_drift_and_changes_nothing() {
    let world = AgentWorld::new();
    std::fs::write(world.root.join("motd"), "as it is\n").expect("write");
    let apply = format!(
        "apply:\n  - id: motd\n    type: file\n    path: {}\n    content: \"wanted\\n\"\n",
        world.root.join("motd").display()
    );
    world.own_config("{ interval: 1s, mode: plan }", &apply);
    let agent = world.start();
    assert!(
        wait_until(Duration::from_secs(10), || !world
            .audit_documents("plan")
            .is_empty()),
        "{}",
        agent.log()
    );
    let plan = &world.audit_documents("plan")[0];
    assert_eq!(plan["changes"], 1);
    assert!(plan["show"].as_str().unwrap_or("").contains("wanted"));
    assert_eq!(
        world.metric("driftless_apply_resources_changed", &[]),
        Some(1.0)
    );
    assert_eq!(world.motd(), "as it is\n");
    // Planned changes are not a failure: the cycle did its work.
    assert_eq!(
        crate::facts_support::http(world.port, "GET", "/readyz", &[]).status,
        200
    );
}

#[test]
fn a_bad_agent_config_is_refused_at_start_with_its_place() {
    let world = AgentWorld::new();
    world.own_config("{ interval: 0s, splay: 1h, mode: sometimes }", "");
    let mut agent = world.start();
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(1));
    let log = agent.log();
    assert!(log.contains("agent.yaml:2:"), "{log}");
    assert!(log.contains("sometimes"), "{log}");
}

/// An agent converging a file every second while a log pipeline forwards a file's lines.
fn logging_agent(world: &AgentWorld) -> (std::path::PathBuf, std::path::PathBuf) {
    let input = world.root.join("app.log");
    let out = world.root.join("shipped");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(&input, "").expect("log file");
    let config = format!(
        "apply:\n  - id: motd\n    type: file\n    path: {}\n    content: \"x\\n\"\n\
         logs:\n  - id: app\n    source: {{ type: file, paths: [\"{}\"], start_at: beginning }}\n    outputs:\n      - {{ type: file, path: \"{}/app.out\", encoding: text }}\n",
        world.root.join("motd").display(),
        input.display(),
        out.display()
    );
    world.own_config("{ interval: 1s }", &config);
    (input, out.join("app.out"))
}

fn append(path: &std::path::Path, lines: std::ops::Range<u32>) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open log");
    for n in lines {
        writeln!(file, "line {n}").expect("append");
    }
}

#[test]
fn logs_keep_flowing_during_apply_cycles() {
    let world = AgentWorld::new();
    let (input, shipped) = logging_agent(&world);
    let agent = world.start();
    // Lines written across several cycles (a hand edit each time, so each cycle changes
    // something) all arrive, in order.
    for round in 0..4u32 {
        append(&input, round * 100..round * 100 + 100);
        std::fs::write(world.root.join("motd"), "edited\n").expect("edit");
        std::thread::sleep(Duration::from_millis(700));
    }
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(
            &shipped
        )
        .unwrap_or_default()
        .lines()
        .count()
            == 400),
        "{}",
        agent.log()
    );
    let text = std::fs::read_to_string(&shipped).expect("shipped");
    let expected: Vec<String> = (0..400).map(|n| format!("line {n}")).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    // Cycles ran while the lines flowed, corrected the hand edits, and none failed: the
    // cycles' plans leave the pipelines the agent runs out.
    assert!(
        wait_until(Duration::from_secs(10), || world
            .metric("driftless_apply_runs_total", &[("result", "changed")])
            .unwrap_or(0.0)
            >= 2.0),
        "{}",
        agent.log()
    );
    let failed = world.metric("driftless_apply_runs_total", &[("result", "failed")]);
    assert_eq!(failed.unwrap_or(0.0), 0.0, "{}", agent.log());
}

#[test]
fn sigterm_exits_within_five_seconds_with_log_checkpoints_written() {
    let world = AgentWorld::new();
    let (input, shipped) = logging_agent(&world);
    let mut agent = world.start();
    append(&input, 0..50);
    assert!(wait_until(
        Duration::from_secs(10),
        || std::fs::read_to_string(&shipped)
            .unwrap_or_default()
            .lines()
            .count()
            == 50
    ));
    let asked = Instant::now();
    agent.signal("TERM");
    assert_eq!(
        agent.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        agent.log()
    );
    assert!(asked.elapsed() < Duration::from_secs(5));
    let checkpoints = world.state.join("logs/app");
    let written = std::fs::read_dir(&checkpoints)
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(written > 0, "no checkpoint in {}", checkpoints.display());
    // A new agent goes on from the checkpoint: nothing is shipped twice.
    append(&input, 50..60);
    let _next = world.start();
    assert!(wait_until(
        Duration::from_secs(10),
        || std::fs::read_to_string(&shipped)
            .unwrap_or_default()
            .lines()
            .count()
            >= 60
    ));
    std::thread::sleep(Duration::from_millis(500));
    let text = std::fs::read_to_string(&shipped).expect("shipped");
    let expected: Vec<String> = (0..60).map(|n| format!("line {n}")).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
}
