//! `driftless agent` following a local bare Git repository: convergence as commits land, a
//! broken commit refused, drift corrected, previews planned and never applied.

use std::time::Duration;

use crate::agent_support::{AgentWorld, git, wait_until};

/// Time for one 1 s interval (fetch, check, switch, cycle) with room for a loaded machine.
const ONE_INTERVAL: Duration = Duration::from_secs(6);

#[test]
fn a_pushed_commit_converges_within_one_interval_and_is_recorded() {
    let world = AgentWorld::new();
    world.push("main", &[("config.yaml", &world.motd_config("v1\n"))]);
    world.own_config(&world.git_agent(""), "");
    let agent = world.start();
    assert!(
        wait_until(ONE_INTERVAL * 2, || world.motd() == "v1\n"),
        "never converged to v1: {}",
        agent.log()
    );
    let second = world.push("main", &[("config.yaml", &world.motd_config("v2\n"))]);
    assert!(
        wait_until(ONE_INTERVAL, || world.motd() == "v2\n"),
        "the new commit was not applied within one interval: {}",
        agent.log()
    );
    // The commit is in the report of the run that applied it, and in the metrics.
    assert!(wait_until(ONE_INTERVAL, || {
        world
            .reports()
            .iter()
            .any(|r| r["config_commit"] == second.as_str() && r["recap"]["changed"] == 1)
    }));
    assert!(wait_until(ONE_INTERVAL, || world
        .metric("driftless_config_info", &[("commit", &second)])
        == Some(1.0)));
    let current = std::fs::read_link(world.state.join("source/current")).expect("current");
    assert!(current.ends_with(&second), "{current:?}");
    assert_eq!(
        crate::facts_support::http(world.port, "GET", "/readyz", &[]).status,
        200
    );
    assert_eq!(
        crate::facts_support::http(world.port, "GET", "/healthz", &[]).status,
        200
    );
}

#[test]
fn a_broken_commit_keeps_the_last_good_one_and_is_reported_and_counted() {
    let world = AgentWorld::new();
    let good = world.push("main", &[("config.yaml", &world.motd_config("good\n"))]);
    world.own_config(&world.git_agent(""), "");
    let agent = world.start();
    assert!(wait_until(ONE_INTERVAL * 2, || world.motd() == "good\n"));
    let broken = format!("{}    colour: red\n", world.motd_config("broken\n"));
    let bad = world.push("main", &[("config.yaml", &broken)]);
    assert!(
        wait_until(ONE_INTERVAL, || world
            .metric("driftless_config_check_failures_total", &[])
            == Some(1.0)),
        "the broken commit was not counted: {}",
        agent.log()
    );
    // The count comes first, the document right after it.
    assert!(wait_until(ONE_INTERVAL, || !world
        .audit_documents("refused-commit")
        .is_empty()));
    let refused = world.audit_documents("refused-commit");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["origin"]["commit"], bad.as_str());
    assert!(
        refused[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("colour"),
        "{}",
        refused[0]
    );
    assert!(agent.log().contains("refused a commit"));
    // The last good commit stays current and keeps being applied.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(world.motd(), "good\n");
    assert_eq!(
        world.metric("driftless_config_info", &[("commit", &good)]),
        Some(1.0)
    );
    // Refused once, not again at every fetch.
    assert_eq!(
        world.metric("driftless_config_check_failures_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        crate::facts_support::http(world.port, "GET", "/readyz", &[]).status,
        200
    );
}

#[test]
fn a_fetch_that_fails_keeps_the_last_good_commit_running() {
    let world = AgentWorld::new();
    world.push("main", &[("config.yaml", &world.motd_config("kept\n"))]);
    world.own_config(&world.git_agent(""), "");
    let agent = world.start();
    assert!(wait_until(ONE_INTERVAL * 2, || world.motd() == "kept\n"));
    std::fs::rename(&world.remote, world.base.join("gone.git")).expect("hide the remote");
    assert!(
        wait_until(ONE_INTERVAL, || world
            .metric("driftless_source_fetch_failures_total", &[])
            .is_some_and(|n| n >= 1.0)),
        "{}",
        agent.log()
    );
    // Still converging on the last good commit: a hand edit is undone.
    std::fs::write(world.root.join("motd"), "edited\n").expect("edit");
    assert!(wait_until(ONE_INTERVAL, || world.motd() == "kept\n"));
}

#[test]
fn a_hand_edit_is_corrected_next_cycle_and_counted_as_drift() {
    let world = AgentWorld::new();
    world.push("main", &[("config.yaml", &world.motd_config("managed\n"))]);
    world.own_config(&world.git_agent(""), "");
    let agent = world.start();
    assert!(wait_until(ONE_INTERVAL * 2, || world.motd() == "managed\n"));
    // Converged: a cycle that changed nothing ran since.
    assert!(wait_until(ONE_INTERVAL, || world
        .metric("driftless_apply_runs_total", &[("result", "unchanged")])
        .is_some_and(|n| n >= 1.0)));
    assert_eq!(
        world.metric("driftless_drift_corrected_total", &[]),
        Some(0.0)
    );
    std::fs::write(world.root.join("motd"), "edited by hand\n").expect("edit");
    assert!(
        wait_until(ONE_INTERVAL, || world.motd() == "managed\n"),
        "{}",
        agent.log()
    );
    assert!(wait_until(ONE_INTERVAL, || world
        .metric("driftless_drift_corrected_total", &[])
        == Some(1.0)));
    assert!(
        world
            .metric("driftless_last_successful_run_timestamp_seconds", &[])
            .is_some_and(|t| t > 1.7e9)
    );
}

#[test]
fn a_preview_refs_plan_reaches_the_audit_sink_and_nothing_is_applied() {
    let world = AgentWorld::new();
    let main = world.push("main", &[("config.yaml", &world.motd_config("main\n"))]);
    let extra = format!(
        "  - id: new-file\n    type: file\n    path: {}\n    content: \"x\\n\"\n",
        world.root.join("from-pr").display()
    );
    let pr = world.push(
        "pr-1",
        &[(
            "config.yaml",
            &format!("{}{extra}", world.motd_config("from the pull request\n")),
        )],
    );
    world.own_config(&world.git_agent(", preview_refs: [pr-1]"), "");
    let agent = world.start();
    assert!(
        wait_until(ONE_INTERVAL * 2, || !world
            .audit_documents("preview")
            .is_empty()),
        "no preview: {}",
        agent.log()
    );
    let preview = &world.audit_documents("preview")[0];
    assert_eq!(preview["origin"]["commit"], pr.as_str());
    assert_eq!(preview["origin"]["ref"], "refs/heads/pr-1");
    assert_eq!(preview["origin"]["preview"], true);
    assert_eq!(preview["plan"]["config"]["origin"]["preview"], true);
    assert_eq!(preview["changes"], 2, "{preview}");
    let show = preview["show"].as_str().unwrap_or("");
    assert!(show.contains("from the pull request"), "{show}");
    assert!(show.contains("new-file"), "{show}");
    // Main is applied; nothing of the preview is.
    assert!(wait_until(ONE_INTERVAL, || world.motd() == "main\n"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(world.motd(), "main\n");
    assert!(!world.root.join("from-pr").exists());
    let current = std::fs::read_link(world.state.join("source/current")).expect("current");
    assert!(current.ends_with(&main));
    // The preview's checkout is gone; the branch is previewed once per commit.
    assert_eq!(
        std::fs::read_dir(world.state.join("source/previews"))
            .expect("previews dir")
            .count(),
        0
    );
    assert_eq!(world.audit_documents("preview").len(), 1);
    let _ = git(&world.work, &["status"]);
}
