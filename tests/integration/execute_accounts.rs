//! `user` and `group` against the real `useradd`, `usermod`, `userdel`, `chpasswd`,
//! `groupadd`, `groupmod` and `groupdel`, in a throwaway root (the test machine's accounts are
//! never changed): create, update, remove, no-op, a second apply changing nothing, a dry run
//! changing nothing, a stale plan refused, and a password that appears in no output.

use crate::common::{self, World};
use crate::sandbox::Sandbox;

/// A crypt hash no other test uses: what must never appear in any output.
fn planted_hash(tag: &str) -> String {
    format!(
        "$6$drift{tag}{pid}$Zq3PlantedHashNeverShownAnywhere{tag}0123456789abcdefghijklmnopqrstuv",
        pid = std::process::id()
    )
}

fn passwd_line(sandbox: &Sandbox, user: &str) -> String {
    let out = sandbox.sh(&format!("getent passwd {user}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The user's groups, primary first, the others sorted.
fn groups_of(sandbox: &Sandbox, user: &str) -> String {
    let listed = sandbox.sh_ok(&format!("id -nG {user}"));
    let mut names: Vec<&str> = listed.split_whitespace().collect();
    names[1..].sort_unstable();
    names.join(" ")
}

fn shadow_hash(sandbox: &Sandbox, user: &str) -> String {
    sandbox
        .sh_ok(&format!("getent shadow {user} | cut -d: -f2"))
        .trim()
        .to_owned()
}

fn show(world: &World, plan: &std::path::Path) -> common::Run {
    let run = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    run
}

/// Groups `deploy` (gid 2001), `docker` and `web` (a system group), and the user `deploy` in
/// them as told.
fn accounts(world: &World, comment: &str, hash: &str, groups: &str, shell: &str) {
    world.set_config(&format!(
        r#"vars:
  comment: "{comment}"
  hash: "{hash}"
apply:
  - type: group
    name: deploy
    gid: 2001
  - type: group
    name: docker
  - type: group
    name: web
    system: true
  - type: user
    name: deploy
    uid: 2001
    group: deploy
    {groups}
    shell: {shell}
    comment: "{{{{ comment }}}}"
    password: "{{{{ hash }}}}"
"#
    ));
}

#[test]
fn users_and_groups_are_created_updated_and_converge() {
    let sandbox = Sandbox::new();
    let world = World::in_sandbox("apply: []\n", &sandbox);
    let first = planted_hash("a");
    accounts(&world, "Deploy", &first, "groups: [docker]", "/bin/bash");

    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:deploy"), "create");
    assert_eq!(common::action(&plan, "apply.group:docker"), "create");
    let user = common::node(&plan, "apply.user:deploy");
    assert_eq!(user["after"]["password"], "(sensitive)");
    assert_eq!(user["after"]["home"], "/home/deploy");
    assert_eq!(user["locks"][0], "lock account files");
    let needs: Vec<&str> = user["depends_on"]
        .as_array()
        .expect("depends_on")
        .iter()
        .filter(|d| d["reason"] == "account group")
        .map(|d| d["address"].as_str().expect("address"))
        .collect();
    assert_eq!(needs, ["apply.group:deploy", "apply.group:docker"]);
    let shown = show(&world, &path).stdout;
    for line in [
        "create user deploy (uid 2001, group deploy, shell /bin/bash)",
        "add user deploy to group docker",
        "home /home/deploy (made)",
        "set its password (sensitive)",
        "create group deploy (gid 2001)",
        "create group docker (gid chosen by groupadd)",
        "a system group",
    ] {
        assert!(shown.contains(line), "`{line}` not in:\n{shown}");
    }

    // A dry run changes nothing.
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(passwd_line(&sandbox, "deploy"), "");

    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        passwd_line(&sandbox, "deploy"),
        "deploy:x:2001:2001:Deploy:/home/deploy:/bin/bash"
    );
    assert_eq!(groups_of(&sandbox, "deploy"), "deploy docker");
    assert_eq!(shadow_hash(&sandbox, "deploy"), first);
    assert!(sandbox.upper().join("home/deploy").is_dir());
    let web_gid: u32 = sandbox
        .sh_ok("getent group web | cut -d: -f3")
        .trim()
        .parse()
        .expect("gid");
    assert!(web_gid < 1000, "a system group: {web_gid}");
    world.assert_converged();

    // Update: shell, comment, groups set exactly, a new password.
    let second = planted_hash("b");
    accounts(&world, "Deploy bot", &second, "groups: [web]", "/bin/sh");
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:deploy"), "update");
    let user = common::node(&plan, "apply.user:deploy");
    assert_eq!(user["before"]["shell"], "/bin/bash");
    assert_eq!(user["after"]["shell"], "/bin/sh");
    assert_eq!(user["after"]["groups"], serde_json::json!(["web"]));
    assert!(user["after"].get("uid").is_none(), "unchanged fields are not listed");
    let shown = show(&world, &path).stdout;
    for line in [
        "update user deploy",
        "shell /bin/bash → /bin/sh",
        "comment Deploy → Deploy bot",
        "add user deploy to group web",
        "remove user deploy from group docker",
        "change its password (sensitive)",
    ] {
        assert!(shown.contains(line), "`{line}` not in:\n{shown}");
    }
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        passwd_line(&sandbox, "deploy"),
        "deploy:x:2001:2001:Deploy bot:/home/deploy:/bin/sh"
    );
    assert_eq!(groups_of(&sandbox, "deploy"), "deploy web");
    assert_eq!(shadow_hash(&sandbox, "deploy"), second);
    world.assert_converged();

    // `append: true` adds and keeps the others.
    accounts(&world, "Deploy bot", &second, "groups: [docker]\n    append: true", "/bin/sh");
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:deploy"), "update");
    assert!(show(&world, &path).stdout.contains("add user deploy to group docker"));
    world.apply();
    assert_eq!(groups_of(&sandbox, "deploy"), "deploy docker web");
    world.assert_converged();
}
