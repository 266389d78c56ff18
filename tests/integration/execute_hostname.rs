//! `hostname` in a throwaway root with a UTS namespace of its own ([`HeldRoot`]): the name set
//! there is the root's, never the test machine's; `/etc/hostname` lands in the root's overlay.
//! Create, update, no-op, a second apply that changes nothing, dry runs and stale plans.

use crate::common;
use crate::held_root::HeldRoot;

fn hostname(fields: &str) -> String {
    format!("apply:\n  - {{type: hostname, {fields}}}\n")
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

#[test]
fn set_update_and_nothing_twice() {
    let machine = machine_hostname();
    let root = HeldRoot::new(&hostname("name: web1"));
    let world = &root.world;
    root.sh_ok("hostname before-plan && printf 'before-plan\\n' > /etc/hostname");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("live hostname: before-plan → web1"),
        "{}",
        dry.all()
    );
    assert_eq!(root.sh_ok("hostname"), "before-plan\n");
    assert_eq!(root.file("/etc/hostname").as_deref(), Some("before-plan\n"));

    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.hostname");
    assert_eq!(node["action"], "update", "{node:#}");
    assert_eq!(node["before"]["live"], "before-plan");
    assert_eq!(node["after"]["live"], "web1");
    assert_eq!(node["after"]["method"], "sethostname");
    assert_eq!(node["after"]["file"]["content"], "web1\n");
    assert!(
        node["diff"]
            .as_str()
            .is_some_and(|d| d.contains("-before-plan\n+web1")),
        "{node:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.hostname").as_deref(), Some("changed"));
    assert_eq!(root.sh_ok("hostname"), "web1\n");
    assert_eq!(root.file("/etc/hostname").as_deref(), Some("web1\n"));
    world.assert_converged();

    // Only the live name drifted: an update of it alone, no diff.
    root.sh_ok("hostname drifted");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.hostname");
    assert_eq!(node["action"], "update");
    assert!(node["diff"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(root.sh_ok("hostname"), "web1\n");

    // A new name.
    world.set_config(&hostname("name: web2.example.com, use: file"));
    world.apply();
    assert_eq!(root.sh_ok("hostname"), "web2.example.com\n");
    assert_eq!(
        root.file("/etc/hostname").as_deref(),
        Some("web2.example.com\n")
    );
    world.assert_converged();

    assert_eq!(
        machine_hostname(),
        machine,
        "the test machine's hostname changed"
    );
}

#[test]
fn a_missing_file_is_created_and_a_name_already_there_is_a_no_op() {
    let root = HeldRoot::new(&hostname("name: web1"));
    let world = &root.world;
    root.sh_ok("hostname web1 && rm -f /etc/hostname");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.hostname");
    assert_eq!(node["action"], "create", "{node:#}");
    world.apply();
    assert_eq!(root.file("/etc/hostname").as_deref(), Some("web1\n"));

    // The name with other blank space around it is the name: kept as it is.
    root.sh_ok("printf '  web1  \\n\\n' > /etc/hostname");
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.hostname"), "no-op");
}

#[test]
fn a_plan_whose_hostname_changed_is_refused() {
    let root = HeldRoot::new(&hostname("name: web1"));
    let world = &root.world;
    root.sh_ok("hostname planned && printf 'planned\\n' > /etc/hostname");
    let (plan_path, _) = world.plan();
    root.sh_ok("hostname meanwhile");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    // The hostname is part of the plan's host identity: the plan is refused as one made on
    // another host, before any node is looked at (the node checks the name again right before
    // it sets it).
    assert!(
        run.stderr.contains("this plan was made on host `planned`")
            && run.stderr.contains("not on this host `meanwhile`"),
        "{}",
        run.all()
    );
    assert_eq!(root.file("/etc/hostname").as_deref(), Some("planned\n"));
    assert_eq!(root.sh_ok("hostname"), "meanwhile\n");
}

#[test]
fn a_plan_whose_file_changed_is_refused() {
    let root = HeldRoot::new(&hostname("name: web1"));
    let world = &root.world;
    root.sh_ok("hostname planned && printf 'planned\\n' > /etc/hostname");
    let (plan_path, _) = world.plan();
    root.sh_ok("printf 'edited\\n' > /etc/hostname");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.hostname"), "{}", run.all());
    assert_eq!(root.sh_ok("hostname"), "planned\n");
    assert_eq!(root.file("/etc/hostname").as_deref(), Some("edited\n"));
}

#[test]
fn use_systemd_without_systemd_is_a_plan_error() {
    let root = HeldRoot::new(&hostname("name: web1, use: systemd"));
    let run = root.world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("`use: systemd` but this host is not running systemd"),
        "{}",
        run.all()
    );
}

#[test]
fn two_hostname_tasks_are_a_check_error() {
    let world = common::World::new(
        "apply:\n  - {id: a, type: hostname, name: web1}\n  - {id: b, type: hostname, name: web2}\n",
    );
    let run = world.run(&["check"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("two tasks manage hostname `web2`: `a` and `b`"),
        "{}",
        run.all()
    );
}

/// On a host booted with systemd, `use: auto` goes through systemd-hostnamed
/// (`hostnamectl`), which writes `/etc/hostname` and sets the kernel's name itself.
#[test]
fn on_a_booted_systemd_host_hostnamectl_sets_it() {
    let booted = crate::sandbox::Sandbox::boot();
    booted.sh_ok("hostname before-plan && printf 'before-plan\\n' > /etc/hostname");
    let world = common::World::in_sandbox(&hostname("name: web1"), &booted);
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.hostname");
    assert_eq!(node["after"]["method"], "hostnamectl", "{node:#}");
    assert_eq!(node["action"], "update", "{node:#}");
    let dry = world.run(&["show", plan_path.to_str().expect("utf-8 path")]);
    assert!(dry.stdout.contains("set with hostnamectl"), "{}", dry.all());
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.hostname").as_deref(), Some("changed"));
    assert_eq!(booted.sh_ok("hostname"), "web1\n");
    assert_eq!(booted.sh_ok("cat /etc/hostname"), "web1\n");
    assert_eq!(booted.sh_ok("hostnamectl --static"), "web1\n");
    world.assert_converged();
}
