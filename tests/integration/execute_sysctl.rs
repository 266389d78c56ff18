//! `sysctl` in a throwaway root inside a network namespace of its own ([`HeldRoot`]): its
//! `net.*` parameters are real and its own, so live values are set there, never on the test
//! machine; the sysctl.d file lands in the root's overlay. Create, update, remove, no-op,
//! chains of keys in one file, a second apply that changes nothing, dry runs and stale plans.

use std::path::Path;

use crate::common;
use crate::held_root::HeldRoot;

const FORWARD: &str = "net.ipv4.ip_forward";
const LO_MARTIANS: &str = "net.ipv4.conf.lo.log_martians";
const FILE: &str = "/etc/sysctl.d/99-driftless.conf";

fn host_value(name: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/"))).unwrap_or_default()
}

fn sysctl(id: &str, fields: &str) -> String {
    format!("  - {{id: {id}, type: sysctl, {fields}}}\n")
}

#[test]
fn create_update_remove_and_nothing_twice() {
    let host = (host_value(FORWARD), host_value(LO_MARTIANS));
    let config = format!(
        "apply:\n{}{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1"),
        sysctl("lo", "name: net.ipv4.conf.lo.log_martians, value: \"1\"")
    );
    let net = HeldRoot::new(&config);
    let world = &net.world;
    assert_eq!(net.live(FORWARD), "0");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("live value: 0 → 1"), "{}", dry.all());
    assert_eq!(net.live(FORWARD), "0");
    assert_eq!(net.file(FILE), None);

    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["before"]["live"], "0");
    assert_eq!(node["after"]["live"], "1");
    assert_eq!(
        node["after"]["file"]["content"],
        "net.ipv4.ip_forward = 1\n"
    );
    let lo = common::node(&plan, "apply.lo");
    assert_eq!(lo["precondition"], "chained", "{lo:#}");
    assert!(
        lo["depends_on"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["reason"] == "same file")),
        "{lo:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.forward").as_deref(), Some("changed"));
    assert_eq!(net.live(FORWARD), "1");
    assert_eq!(net.live(LO_MARTIANS), "1");
    assert_eq!(
        net.file(FILE).as_deref(),
        Some("net.ipv4.ip_forward = 1\nnet.ipv4.conf.lo.log_martians = 1\n")
    );
    world.assert_converged();

    // Update: the line and the live value.
    world.set_config(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 0")
    ));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "update");
    assert!(
        node["diff"]
            .as_str()
            .is_some_and(|d| d.contains("-net.ipv4.ip_forward = 1\n+net.ipv4.ip_forward = 0")),
        "{node:#}"
    );
    world.apply();
    assert_eq!(net.live(FORWARD), "0");
    world.assert_converged();

    // Only the live value drifted: an update of it alone.
    net.set_live(FORWARD, "1");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "update");
    assert!(node["diff"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(net.live(FORWARD), "0");

    // Remove the line; the live value stays.
    world.set_config(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, state: absent")
    ));
    world.apply();
    assert_eq!(
        net.file(FILE).as_deref(),
        Some("net.ipv4.conf.lo.log_martians = 1\n")
    );
    assert_eq!(net.live(FORWARD), "0");
    world.assert_converged();

    assert_eq!(
        (host_value(FORWARD), host_value(LO_MARTIANS)),
        host,
        "the test machine's values changed"
    );
}

#[test]
fn a_value_already_there_is_a_no_op_and_reload_false_leaves_the_live_value() {
    let net = HeldRoot::new(&format!(
        "apply:\n{}{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1"),
        sysctl(
            "file-only",
            "name: net.ipv4.conf.lo.log_martians, value: 1, reload: false, sysctl_file: /etc/sysctl.d/50-lo.conf"
        )
    ));
    let world = &net.world;
    net.sh_ok(&format!(
        "mkdir -p /etc/sysctl.d && printf 'net.ipv4.ip_forward = 1\\n' > {FILE}"
    ));
    net.set_live(FORWARD, "1");
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.forward"), "no-op");
    let file_only = common::node(&plan, "apply.file-only");
    assert_eq!(file_only["action"], "create");
    assert!(file_only["after"]["live"].is_null(), "{file_only:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(net.live(LO_MARTIANS), "0");
    assert_eq!(
        net.file("/etc/sysctl.d/50-lo.conf").as_deref(),
        Some("net.ipv4.conf.lo.log_martians = 1\n")
    );
    world.assert_converged();
}

#[test]
fn a_plan_whose_live_value_changed_is_refused() {
    let net = HeldRoot::new(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1")
    ));
    let world = &net.world;
    let (plan_path, _) = world.plan();
    net.set_live(FORWARD, "1");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.forward")
            && run
                .stderr
                .contains("live value of net.ipv4.ip_forward changed"),
        "{}",
        run.all()
    );
    assert_eq!(net.file(FILE), None, "a refused plan wrote the file");
}

#[test]
fn a_plan_whose_file_changed_is_refused() {
    let net = HeldRoot::new(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1")
    ));
    let world = &net.world;
    let (plan_path, _) = world.plan();
    net.sh_ok(&format!("mkdir -p /etc/sysctl.d && echo 'x = 1' > {FILE}"));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.forward"), "{}", run.all());
    assert_eq!(net.live(FORWARD), "0");
}

#[test]
fn a_parameter_the_kernel_lacks_is_a_plan_error() {
    let net = HeldRoot::new(&format!(
        "apply:\n{}",
        sysctl("nope", "name: net.ipv4.no_such_parameter, value: 1")
    ));
    let world = &net.world;
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("the kernel has no parameter net.ipv4.no_such_parameter"),
        "{}",
        run.all()
    );
}
