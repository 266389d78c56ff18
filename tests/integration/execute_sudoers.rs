//! `sudoers` with Debian's real `visudo` (from `scripts/install-test-deps`, copied with its
//! libraries into each throwaway root): a drop-in created `0440 root:root`, updated, removed,
//! left alone; dry runs; a rule visudo refuses leaves the old file and fails the node; a stale
//! plan is refused.

use crate::common;
use crate::held_root::HeldRoot;

const DROP_IN: &str = "/etc/sudoers.d/deploy";

/// A root with `visudo` and `/etc/sudoers.d`, and the world of `config` in it.
fn root(config: &str) -> HeldRoot {
    let deps = crate::deps::test_deps(&["root/usr/sbin/visudo", "root/usr/libexec/sudo"]);
    let root = HeldRoot::new(config);
    let unpacked = deps.join("root").display().to_string();
    root.sh_ok(&format!(
        "cp {unpacked}/usr/sbin/visudo /usr/sbin/visudo && mkdir -p /usr/libexec/sudo \
         && cp -a {unpacked}/usr/libexec/sudo/. /usr/libexec/sudo/ \
         && mkdir -p -m 0750 /etc/sudoers.d"
    ));
    root
}

fn config(fields: &str) -> String {
    format!("apply:\n  - {{id: s, type: sudoers, name: deploy, {fields}}}\n")
}

fn set_config(root: &HeldRoot, fields: &str) {
    root.world.set_config(&config(fields));
}

#[test]
fn a_drop_in_is_created_updated_and_removed() {
    let root = root(&config(
        "user: deploy, commands: /usr/bin/systemctl restart app",
    ));
    let world = &root.world;

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("+deploy ALL=NOPASSWD: /usr/bin/systemctl restart app"),
        "{}",
        dry.all()
    );
    assert_eq!(root.file(DROP_IN), None);

    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.s");
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["after"]["mode"], "0440");
    assert_eq!(node["after"]["validate"][0], "visudo", "{node:#}");
    world.step("apply.s", "create");
    assert_eq!(
        root.file(DROP_IN).as_deref(),
        Some("deploy ALL=NOPASSWD: /usr/bin/systemctl restart app\n")
    );
    assert_eq!(
        root.sh_ok(&format!("stat -c '%a %u %g' {DROP_IN}")).trim(),
        "440 0 0"
    );
    world.step("apply.s", "no-op");

    set_config(
        &root,
        "group: ops, runas: postgres, nopassword: false, commands: [/usr/bin/psql, /usr/bin/pg_dump]",
    );
    world.step("apply.s", "update");
    assert_eq!(
        root.file(DROP_IN).as_deref(),
        Some("%ops ALL=(postgres) /usr/bin/psql, /usr/bin/pg_dump\n")
    );

    set_config(&root, "state: absent");
    world.step("apply.s", "delete");
    assert_eq!(root.file(DROP_IN), None);
    world.step("apply.s", "no-op");
}

#[test]
fn a_rule_visudo_refuses_keeps_the_old_file_and_fails_the_node() {
    let root = root(&config("user: deploy, commands: /usr/bin/true"));
    let world = &root.world;
    world.apply();
    let good = root.file(DROP_IN).expect("drop-in written");

    // A command without its full path: visudo says "expected a fully-qualified path name".
    set_config(&root, "user: deploy, commands: [/usr/bin/true, ls]");
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.s").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    assert!(run.all().contains("fully-qualified"), "{}", run.all());
    assert_eq!(root.file(DROP_IN), Some(good));
}

#[test]
fn a_drop_in_changed_since_the_plan_is_refused() {
    let root = root(&config("user: deploy, commands: /usr/bin/true"));
    let world = &root.world;
    let (plan_path, _) = world.plan();
    root.sh_ok(&format!("echo 'deploy ALL=ALL' > {DROP_IN}"));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.s"), "{}", run.all());
    assert_eq!(root.file(DROP_IN).as_deref(), Some("deploy ALL=ALL\n"));
}
