//! The agent's collectors across reloads: a collector configured as before keeps its state
//! (its interval's last run, its threshold level: no second event), a changed one is built
//! afresh, a removed one stops, a new one starts — on a change of the config dir, on SIGHUP,
//! and on a new commit of a Git source.

use std::time::Duration;

use crate::agent_support::{AgentWorld, wait_until};

/// `steady` on memory with a threshold every host is past (`used_ratio` ≥ 0: a warning at
/// its first run), then `others`; every collector on a 1 h interval, so that only a rebuild
/// runs one again within the test.
fn facts(steady_line_prefix: &str, others: &str) -> String {
    format!(
        "facts:\n{steady_line_prefix}  - {{ id: steady, type: memory, interval: 1h, thresholds: {{ used_ratio: {{ warn: 0.0 }} }} }}\n{others}"
    )
}

fn last_run(world: &AgentWorld, collector: &str) -> Option<f64> {
    world
        .metric(
            "driftless_collector_last_run_timestamp_seconds",
            &[("collector", collector)],
        )
        .filter(|t| *t > 0.0)
}

fn steady_events(world: &AgentWorld) -> Option<f64> {
    world.metric(
        "driftless_threshold_events_total",
        &[("collector", "steady"), ("level", "warning")],
    )
}

/// Waits for the first runs; `steady`'s last run and `changing`'s.
fn first_runs(world: &AgentWorld, agent: &crate::agent_support::Agent) -> (f64, f64) {
    assert!(
        wait_until(Duration::from_secs(10), || last_run(world, "steady")
            .is_some()
            && last_run(world, "changing").is_some()
            && steady_events(world) == Some(1.0)),
        "{}",
        agent.log()
    );
    let runs = (
        last_run(world, "steady").unwrap_or_default(),
        last_run(world, "changing").unwrap_or_default(),
    );
    // The timestamps of runs after this one differ.
    std::thread::sleep(Duration::from_millis(1100));
    runs
}

/// After a reload that changed `changing` (and not `steady`): `changing` ran again, `steady`
/// kept its last run, its threshold level and its single event.
fn assert_steady_kept(
    world: &AgentWorld,
    agent: &crate::agent_support::Agent,
    steady: f64,
    changing: f64,
) {
    assert!(
        wait_until(Duration::from_secs(5), || last_run(world, "changing")
            .is_some_and(|t| t != changing)),
        "the changed collector was not rebuilt: {}",
        agent.log()
    );
    assert_eq!(last_run(world, "steady"), Some(steady), "{}", agent.log());
    assert_eq!(steady_events(world), Some(1.0));
    assert_eq!(
        world.metric(
            "driftless_threshold_state",
            &[("collector", "steady"), ("value", "used_ratio")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_reload_keeps_unchanged_collectors_with_their_state_and_rebuilds_changed_ones() {
    let world = AgentWorld::new();
    let before = "  - { id: changing, type: load, interval: 1h }\n  - { id: dropped, type: system, interval: 1h }\n";
    world.own_config("{ interval: 1h }", &facts("", before));
    let agent = world.start();
    let (steady, changing) = first_runs(&world, &agent);
    assert!(last_run(&world, "dropped").is_some());

    // The config dir changes: `steady` moves down a line (its place is not its config),
    // `changing` gets another interval, `dropped` goes, `added` comes.
    let after = "  - { id: changing, type: load, interval: 2h }\n  - { id: added, type: cpu, interval: 1h }\n";
    world.own_config("{ interval: 1h }", &facts("  # moved\n", after));
    assert_steady_kept(&world, &agent, steady, changing);
    assert!(wait_until(Duration::from_secs(3), || last_run(
        &world, "added"
    )
    .is_some()));
    assert_eq!(last_run(&world, "dropped"), None, "{}", agent.log());
    assert!(agent.log().contains("collectors reloaded"));

    // SIGHUP with nothing changed keeps every collector.
    let changing = last_run(&world, "changing").unwrap_or_default();
    agent.signal("HUP");
    assert!(wait_until(Duration::from_secs(3), || agent
        .log()
        .matches("collectors reloaded")
        .count()
        == 2));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(last_run(&world, "changing"), Some(changing));
    assert_eq!(last_run(&world, "steady"), Some(steady));
    assert_eq!(steady_events(&world), Some(1.0));
}

#[test]
fn a_new_commit_reloads_the_collectors_keeping_unchanged_ones() {
    let world = AgentWorld::new();
    let config = |changing_interval: &str| {
        format!(
            "{}{}",
            world.motd_config("x\n"),
            facts(
                "",
                &format!("  - {{ id: changing, type: load, interval: {changing_interval} }}\n")
            )
        )
    };
    world.push("main", &[("config.yaml", &config("1h"))]);
    // The agent's own config runs other collectors until the first commit is current.
    world.own_config(&world.git_agent(""), "");
    let agent = world.start();
    let (steady, changing) = first_runs(&world, &agent);
    world.push("main", &[("config.yaml", &config("2h"))]);
    assert_steady_kept(&world, &agent, steady, changing);
}
