//! `authorized_key` in a throwaway root ([`HeldRoot`]) with a user made by `useradd` there:
//! `~/.ssh` made 0700 and the file 0600, both the user's; keys added, changed, removed, owned
//! whole with `exclusive`; no-ops, a second apply that changes nothing, dry runs, stale plans,
//! and a user that does not exist.

use crate::common;
use crate::held_root::HeldRoot;

const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMqXgRLKG73K+sIxs5oj3E2nhu/4FHxOcrmAd4Wv7ki7";
const B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID4j6BYAOVlKM4lPZWThsTSLvXoAiNQsSstz7q7VnACd";
const C: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC59LAOpUHriZez1tTVohaUzk6ICnSQTlJlyZaGiWu/G";
const FILE: &str = "/home/deploy/.ssh/authorized_keys";

fn key(id: &str, fields: &str) -> String {
    format!("  - {{id: {id}, type: authorized_key, user: deploy, {fields}}}\n")
}

fn root_with_deploy(config: &str) -> HeldRoot {
    let root = HeldRoot::new(config);
    root.sh_ok("useradd -m -s /bin/sh deploy");
    root
}

/// Mode, owner and group of a path in the root.
fn stat(root: &HeldRoot, path: &str) -> String {
    root.sh_ok(&format!("stat -c '%a %U %G' {path}"))
        .trim()
        .to_owned()
}

#[test]
fn keys_are_added_changed_and_removed_with_the_ssh_directory_made() {
    let config = format!(
        "apply:\n{}{}",
        key("laptop", &format!("key: \"{A} me@laptop\"")),
        key(
            "ci",
            &format!("key: \"{B}\", comment: ci, key_options: no-pty")
        )
    );
    let root = root_with_deploy(&config);
    let world = &root.world;

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("create directory /home/deploy/.ssh (0700, owner deploy)"),
        "{}",
        dry.all()
    );
    assert_eq!(root.file(FILE), None);

    let (plan_path, plan) = world.plan();
    let laptop = common::node(&plan, "apply.laptop");
    assert_eq!(laptop["action"], "create", "{laptop:#}");
    assert_eq!(laptop["after"]["directory"]["mode"], "0700");
    let ci = common::node(&plan, "apply.ci");
    assert_eq!(ci["precondition"], "chained");
    assert!(ci["after"]["directory"].is_null(), "{ci:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        root.file(FILE).as_deref(),
        Some(format!("{A} me@laptop\nno-pty {B} ci\n").as_str())
    );
    assert_eq!(stat(&root, "/home/deploy/.ssh"), "700 deploy deploy");
    assert_eq!(stat(&root, FILE), "600 deploy deploy");
    world.assert_converged();

    // Changed options replace the key's line in place; absent removes it; a line of the
    // user's own stays.
    root.sh_ok(&format!("echo '{C} own' >> {FILE}"));
    world.set_config(&format!(
        "apply:\n{}{}",
        key(
            "laptop",
            &format!("key: \"{A} me@laptop\", key_options: 'from=\"10.0.0.0/8\"'")
        ),
        key("ci", &format!("key: \"{B}\", state: absent"))
    ));
    let (_, plan) = world.plan();
    let laptop = common::node(&plan, "apply.laptop");
    assert_eq!(laptop["action"], "update");
    world.apply();
    assert_eq!(
        root.file(FILE).as_deref(),
        Some(format!("from=\"10.0.0.0/8\" {A} me@laptop\n{C} own\n").as_str())
    );
    world.assert_converged();

    // Exclusive: only the task's keys are left.
    world.set_config(&format!(
        "apply:\n{}",
        key("only", &format!("key: \"{B} ci\", exclusive: true"))
    ));
    world.apply();
    assert_eq!(
        root.file(FILE).as_deref(),
        Some(format!("{B} ci\n").as_str())
    );
    world.assert_converged();
}

#[test]
fn a_loose_ssh_directory_is_tightened_and_a_present_key_is_a_no_op() {
    let root = root_with_deploy(&format!(
        "apply:\n{}",
        key("laptop", &format!("key: \"{A}\""))
    ));
    root.sh_ok(&format!(
        "mkdir -m 755 /home/deploy/.ssh && echo '{A}' > {FILE} && chown -R deploy:deploy /home/deploy/.ssh && chmod 600 {FILE}"
    ));
    let world = &root.world;
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.laptop");
    assert_eq!(node["action"], "update", "{node:#}");
    assert!(node["diff"].is_null(), "{node:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(stat(&root, "/home/deploy/.ssh"), "700 deploy deploy");
    world.assert_converged();
}

#[test]
fn a_file_changed_since_the_plan_is_refused() {
    let root = root_with_deploy(&format!(
        "apply:\n{}",
        key("laptop", &format!("key: \"{A}\""))
    ));
    root.sh_ok(&format!(
        "mkdir -m 700 /home/deploy/.ssh && echo '{B}' > {FILE} && chown -R deploy:deploy /home/deploy/.ssh"
    ));
    let world = &root.world;
    let (plan_path, _) = world.plan();
    root.sh_ok(&format!("echo '{C}' >> {FILE}"));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.laptop") && run.stderr.contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(
        root.file(FILE).as_deref(),
        Some(format!("{B}\n{C}\n").as_str())
    );
}

#[test]
fn a_user_that_does_not_exist_is_a_plan_error() {
    let root = HeldRoot::new(&format!(
        "apply:\n{}",
        key("laptop", &format!("key: \"{A}\""))
    ));
    let run = root.world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("user deploy does not exist yet: run once to create it, or set `path`"),
        "{}",
        run.all()
    );
}

#[test]
fn removing_a_key_from_a_missing_file_is_a_no_op_that_makes_no_directory() {
    let root = root_with_deploy(&format!(
        "apply:\n{}",
        key("gone", &format!("key: \"{A}\", state: absent"))
    ));
    let world = &root.world;
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.gone");
    assert_eq!(node["action"], "no-op", "{node:#}");
    assert!(node["after"]["directory"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(
        root.sh_ok("test -e /home/deploy/.ssh && echo there || echo missing"),
        "missing\n"
    );
}
