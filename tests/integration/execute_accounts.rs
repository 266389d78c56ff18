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
    assert!(
        user["after"].get("uid").is_none(),
        "unchanged fields are not listed"
    );
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
    accounts(
        &world,
        "Deploy bot",
        &second,
        "groups: [docker]\n    append: true",
        "/bin/sh",
    );
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:deploy"), "update");
    assert!(
        show(&world, &path)
            .stdout
            .contains("add user deploy to group docker")
    );
    world.apply();
    assert_eq!(groups_of(&sandbox, "deploy"), "deploy docker web");
    world.assert_converged();
}

#[test]
fn a_user_is_removed_with_its_home_and_absent_is_a_no_op() {
    let sandbox = Sandbox::new();
    sandbox.sh_ok("useradd --create-home --shell /bin/sh gone && groupadd --gid 2500 oldgroup");
    assert!(sandbox.upper().join("home/gone").is_dir());
    let world = World::in_sandbox(
        r#"apply:
  - type: user
    name: gone
    state: absent
    remove: true
  - type: user
    name: never-there
    state: absent
  - type: group
    name: oldgroup
    state: absent
"#,
        &sandbox,
    );
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:gone"), "delete");
    assert_eq!(common::action(&plan, "apply.user:never-there"), "no-op");
    assert_eq!(common::action(&plan, "apply.group:oldgroup"), "delete");
    let shown = show(&world, &path).stdout;
    assert!(
        shown.contains("delete user gone") && shown.contains("remove its home /home/gone"),
        "{shown}"
    );
    assert!(shown.contains("delete group oldgroup"), "{shown}");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(passwd_line(&sandbox, "gone"), "");
    assert_eq!(sandbox.sh_ok("test -e /home/gone || echo gone"), "gone\n");
    assert_eq!(
        sandbox.sh_ok("getent group oldgroup || echo none"),
        "none\n"
    );
    world.assert_converged();
    // A second apply changes nothing.
    let again = world.apply();
    assert_eq!(
        again.status_of("apply.user:gone").as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
}

#[test]
fn a_group_id_is_changed_and_an_existing_account_is_left_alone() {
    let sandbox = Sandbox::new();
    sandbox.sh_ok("groupadd --gid 2600 team && useradd --no-create-home --shell /bin/sh keep");
    let before = passwd_line(&sandbox, "keep");
    let world = World::in_sandbox(
        r#"apply:
  - type: group
    name: team
    gid: 2601
  - type: user
    name: keep
"#,
        &sandbox,
    );
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.group:team"), "update");
    // Fields not given are not managed: an existing user is as wanted.
    assert_eq!(common::action(&plan, "apply.user:keep"), "no-op");
    assert!(
        show(&world, &path)
            .stdout
            .contains("update group team (gid 2600 → 2601)")
    );
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(sandbox.sh_ok("getent group team | cut -d: -f3"), "2601\n");
    assert_eq!(passwd_line(&sandbox, "keep"), before);
    world.assert_converged();
}

#[test]
fn a_plan_is_refused_when_the_account_changed_out_of_band() {
    let sandbox = Sandbox::new();
    sandbox.sh_ok("useradd --no-create-home --shell /bin/sh drifter");
    let world = World::in_sandbox(
        r#"apply:
  - type: user
    name: drifter
    comment: "Was reviewed"
"#,
        &sandbox,
    );
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.user:drifter"), "update");
    sandbox.sh_ok("usermod --shell /bin/false drifter");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("apply.user:drifter") && run.all().contains("changed since the plan"),
        "{}",
        run.all()
    );
    // Nothing was changed: the comment is still unset, the shell what was set out of band.
    let line = passwd_line(&sandbox, "drifter");
    assert!(
        !line.contains("Was reviewed") && line.ends_with(":/bin/false"),
        "{line}"
    );
    // Creating a user out of band after a plan that creates it is refused too.
    let world = World::in_sandbox("apply:\n  - type: user\n    name: racer\n", &sandbox);
    let (path, _) = world.plan();
    sandbox.sh_ok("useradd --no-create-home racer");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("apply.user:racer"), "{}", run.all());
}

#[test]
fn a_password_is_in_no_output() {
    let sandbox = Sandbox::new();
    let hash = planted_hash("secret");
    let plain = planted_hash("plain");
    let mut world = World::in_sandbox(
        &format!(
            r#"apply:
  - type: user
    name: secretive
    password: "{{{{ secrets.USER_HASH }}}}"
  - type: user
    name: plainly
    password: "{plain}"
"#
        ),
        &sandbox,
    );
    world.envs.push(("USER_HASH".to_owned(), hash.clone()));
    let assert_clean = |what: &str, text: &str| {
        for planted in [&hash, &plain] {
            assert!(
                !text.contains(planted.as_str()),
                "a password hash in {what}:\n{text}"
            );
            // Nor any part of it long enough to tell it.
            assert!(
                !text.contains(&planted[planted.len() - 24..]),
                "{what}:\n{text}"
            );
        }
    };
    let planned = world.run(&["plan"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert_clean("plan", &planned.all());
    let path = world.temp.path().join("plan.json");
    common::write(&path, planned.stdout.as_bytes());
    let plan = planned.json();
    for user in ["apply.user:secretive", "apply.user:plainly"] {
        assert_eq!(
            common::node(&plan, user)["after"]["password"],
            "(sensitive)"
        );
    }
    assert_clean("show", &show(&world, &path).all());
    assert_clean("dry run", &world.run(&["apply", "--dry-run"]).all());
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_clean("execute", &run.all());
    assert_eq!(shadow_hash(&sandbox, "secretive"), hash);
    assert_eq!(shadow_hash(&sandbox, "plainly"), plain);
    // Changed out of band: the plan says so, still without showing either hash.
    sandbox.sh_ok("echo 'plainly:$6$other$hash' | chpasswd -e");
    let drifted = world.run(&["plan"]);
    assert_clean("plan of a changed password", &drifted.all());
    assert_eq!(
        common::action(&drifted.json(), "apply.user:plainly"),
        "update"
    );
    assert_clean("apply", &world.apply().all());
    for report in world.reports() {
        assert_clean("a run report", &report.to_string());
    }
    // A secret that is not a hash is a check error that does not quote it.
    world
        .envs
        .push(("CLEAR".to_owned(), "Tr0ub4dor&3-in-clear".to_owned()));
    world.set_config(
        "apply:\n  - type: user\n    name: clear\n    password: \"{{ secrets.CLEAR }}\"\n",
    );
    let checked = world.run(&["check"]);
    assert_ne!(checked.code, 0, "{}", checked.all());
    assert!(
        checked.all().contains("not a crypt hash"),
        "{}",
        checked.all()
    );
    assert!(!checked.all().contains("Tr0ub4dor"), "{}", checked.all());
}

#[test]
fn files_owned_by_accounts_made_in_the_same_run_converge_in_one_apply() {
    let sandbox = Sandbox::new();
    let world = World::in_sandbox(
        r#"apply:
  - type: directory
    path: /srv/app
  - type: template
    src: templates/app.conf.j2
    dest: /srv/app/app.conf
    owner: svc
    group: svc
    mode: "0640"
  - type: file
    path: /srv/app/plain
    content: "x\n"
    owner: svc
  - type: group
    name: svc
  - type: user
    name: svc
    group: svc
    system: true
    create_home: false
    shell: /usr/sbin/nologin
"#,
        &sandbox,
    );
    world.config_file("templates/app.conf.j2", "user = svc\n");
    let (path, plan) = world.plan();
    let conf = common::node(&plan, "apply.template:/srv/app/app.conf");
    assert_eq!(conf["after"]["owner"], "svc", "{conf:#}");
    assert!(conf["after"].get("uid").is_none(), "{conf:#}");
    let waits: Vec<(&str, &str)> = conf["depends_on"]
        .as_array()
        .expect("depends_on")
        .iter()
        .map(|d| {
            (
                d["address"].as_str().unwrap_or(""),
                d["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        waits.contains(&("apply.user:svc", "owner user")),
        "{waits:?}"
    );
    assert!(
        waits.contains(&("apply.group:svc", "owner group")),
        "{waits:?}"
    );
    let shown = show(&world, &path).stdout;
    assert!(shown.contains("svc"), "{shown}");
    // One `apply` (plan and execute in one process: a file node's route holds the device of
    // the overlay, which a later mount of the sandbox may number differently).
    let run = world.apply();
    for address in [
        "apply.user:svc",
        "apply.group:svc",
        "apply.template:/srv/app/app.conf",
    ] {
        assert_eq!(
            run.status_of(address).as_deref(),
            Some("changed"),
            "{}",
            run.all()
        );
    }
    let ids = sandbox.sh_ok(
        "id -u svc; id -g svc; stat -c '%u %g %a' /srv/app/app.conf; stat -c '%u' /srv/app/plain",
    );
    let lines: Vec<&str> = ids.lines().collect();
    assert_eq!(lines[2], format!("{} {} 640", lines[0], lines[1]), "{ids}");
    assert_eq!(lines[3], lines[0], "{ids}");
    assert!(
        lines[0].parse::<u32>().expect("uid") < 1000,
        "a system user: {ids}"
    );
    world.assert_converged();

    // An owner no task manages and the host does not know is a plan error.
    world.set_config(
        "apply:\n  - type: file\n    path: /srv/app/orphan\n    content: \"x\\n\"\n    owner: nobody-manages-me\n",
    );
    let planned = world.run(&["plan"]);
    assert_ne!(planned.code, 0, "{}", planned.all());
    assert!(
        planned.stderr.contains("no user `nobody-manages-me`")
            && planned.stderr.contains("add a `user` task"),
        "{}",
        planned.all()
    );
}

#[test]
fn an_edited_user_node_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.sh_ok("useradd --no-create-home edited");
    let world = World::in_sandbox(
        "apply:\n  - type: user\n    name: edited\n    shell: /bin/bash\n",
        &sandbox,
    );
    let (path, plan) = world.plan();
    let tamper = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut edited = plan.clone();
        let node = edited["nodes"]
            .as_array_mut()
            .expect("nodes")
            .iter_mut()
            .find(|n| n["address"] == "apply.user:edited")
            .expect("user node");
        edit(node);
        common::reseal(&mut edited);
        common::write(&path, edited.to_string().as_bytes());
        let run = world.execute(&path, &[]);
        assert_ne!(run.code, 0, "{}", run.all());
        assert!(run.all().contains("apply.user:edited"), "{}", run.all());
    };
    // A password nobody reviewed, shown in clear.
    tamper(&|node| node["after"]["password"] = "$6$x$planted".into());
    // An update whose `after` says the user goes, the action left as reviewed.
    tamper(&|node| node["after"]["exists"] = false.into());
    let line = passwd_line(&sandbox, "edited");
    assert!(!line.ends_with(":/bin/bash"), "{line}");
}
