//! `reboot` and `shutdown` in a throwaway root whose `systemctl` and `shutdown` are fakes that
//! record their arguments: the host is never rebooted. A reboot handler runs once when
//! notified and not when not; a `reboot` under `apply:` runs when `/run/reboot-required`
//! exists and not when it does not; a dry run never runs it; it runs after every other node
//! and the run report says the host is going down; a failed node leaves the host up.

use crate::common::World;
use crate::sandbox::Sandbox;

/// A sandbox whose `systemctl` and `shutdown` append their arguments to `/root/power.calls`.
fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.sh_ok(
        "mkdir -p /usr/local/sbin && for p in systemctl shutdown; do \
         printf '#!/bin/sh\\necho \"%s $*\" >> /root/power.calls\\n' $p > /usr/local/sbin/$p; \
         chmod 755 /usr/local/sbin/$p; done",
    );
    sandbox
}

fn calls(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .sh_ok("cat /root/power.calls 2>/dev/null || true")
        .lines()
        .map(str::to_owned)
        .collect()
}

const NOTIFIED: &str = r#"apply:
  - type: file
    id: kernel
    path: /etc/driftless-kernel-flag
    content: "{{ flag }}\n"
    notify: [reboot]
  - type: file
    id: unrelated
    path: /etc/driftless-other
    content: "x\n"
handlers:
  - type: reboot
    id: reboot
    msg: kernel updated
"#;

#[test]
fn a_reboot_handler_runs_once_when_notified_after_everything_else() {
    let sandbox = sandbox();
    let world = World::in_sandbox(&NOTIFIED.replace("{{ flag }}", "1"), &sandbox);
    // A dry run never reboots.
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(calls(&sandbox).is_empty());
    let (_, plan) = world.plan();
    let node = crate::common::node(&plan, "apply.reboot");
    assert_eq!(node["action"], "run");
    assert_eq!(node["before"], "notified");
    let waits_for: Vec<&str> = node["depends_on"]
        .as_array()
        .expect("depends_on")
        .iter()
        .filter(|d| d["reason"] == "end of run")
        .filter_map(|d| d["address"].as_str())
        .collect();
    assert_eq!(waits_for, ["apply.kernel", "apply.unrelated"], "{node:#}");
    let run = world.apply();
    assert_eq!(run.status_of("apply.reboot").as_deref(), Some("changed"));
    assert_eq!(
        calls(&sandbox),
        ["systemctl reboot --message=kernel updated"]
    );
    let report = world.reports().pop().expect("a report");
    assert_eq!(
        report["host_going_down"],
        serde_json::json!({"node": "apply.reboot", "action": "reboot"})
    );
    // Nothing notifies it: not run again.
    let again = world.apply();
    assert!(
        again
            .status_of("apply.reboot")
            .is_some_and(|s| s == "skipped")
    );
    assert_eq!(calls(&sandbox).len(), 1);
    let reports = world.reports();
    let going_down = reports.iter().filter(|r| !r["host_going_down"].is_null());
    assert_eq!((reports.len(), going_down.count()), (2, 1));
}

#[test]
fn a_failed_node_leaves_the_host_up() {
    let sandbox = sandbox();
    let world = World::in_sandbox(
        &NOTIFIED.replace("{{ flag }}", "1").replace(
            "handlers:",
            "  - type: command\n    id: broken\n    argv: [/bin/false]\nhandlers:",
        ),
        &sandbox,
    );
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.reboot").as_deref(), Some("skipped"));
    assert!(calls(&sandbox).is_empty());
}

#[test]
fn a_reboot_under_apply_runs_when_reboot_required_exists() {
    let sandbox = sandbox();
    let world = World::in_sandbox(
        "apply:\n  - type: reboot\n    pre_reboot_delay: 90s\n",
        &sandbox,
    );
    let (_, plan) = world.plan();
    assert_eq!(crate::common::action(&plan, "apply.reboot"), "no-op");
    world.apply();
    assert!(calls(&sandbox).is_empty());
    world.assert_converged();
    sandbox.sh_ok("touch /run/reboot-required");
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(calls(&sandbox).is_empty());
    let (path, plan) = world.plan();
    assert_eq!(crate::common::action(&plan, "apply.reboot"), "run");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        calls(&sandbox),
        ["shutdown -r +2 Reboot initiated by driftless"]
    );
    // A plan made before the flag went away is stale.
    sandbox.sh_ok("rm /run/reboot-required");
    let stale = world.execute(&path, &[]);
    assert_ne!(stale.code, 0);
    assert!(stale.all().contains("apply.reboot"), "{}", stale.all());
    assert_eq!(calls(&sandbox).len(), 1);
}

#[test]
fn a_shutdown_handler_powers_off_when_notified() {
    let sandbox = sandbox();
    let world = World::in_sandbox(
        "apply:\n  - type: file\n    path: /etc/driftless-decommissioned\n    content: \"yes\\n\"\n    notify: [off]\nhandlers:\n  - type: shutdown\n    id: off\n",
        &sandbox,
    );
    world.apply();
    assert_eq!(
        calls(&sandbox),
        ["systemctl poweroff --message=Shut down initiated by driftless"]
    );
    let report = world.reports().pop().expect("a report");
    assert_eq!(report["host_going_down"]["action"], "poweroff");
}
