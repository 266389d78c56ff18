//! Modes and owners: set and changed, owner and group by name and by id; a symlink at a
//! managed path is refused unless the task follows it. (The tests run as root.)

use std::os::unix::fs::MetadataExt;

use crate::common::{self, World, mode, read};

fn owner(path: &std::path::Path) -> (u32, u32) {
    let meta = std::fs::symlink_metadata(path).expect("metadata");
    (meta.uid(), meta.gid())
}

fn config(attributes: &str) -> String {
    format!(
        "apply:\n  - {{id: f, type: file, path: \"{{{{ root }}}}/f\", content: \"x\\n\"{attributes}}}\n  \
         - {{id: d, type: directory, path: \"{{{{ root }}}}/d\"{attributes}}}\n"
    )
}

#[test]
fn mode_is_set_on_create_and_changed_in_place() {
    let world = World::new(&config(", mode: \"0600\""));
    world.step("apply.f", "create");
    assert_eq!(mode(&world.path("f")), 0o600);
    assert_eq!(mode(&world.path("d")), 0o600);
    world.set_config(&config(", mode: \"2750\""));
    let (_, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.f")["before"]["mode"], "0600");
    assert_eq!(common::node(&plan, "apply.f")["after"]["mode"], "2750");
    world.step("apply.f", "update");
    assert_eq!(mode(&world.path("f")), 0o2750);
    assert_eq!(mode(&world.path("d")), 0o2750);
    assert_eq!(read(&world.path("f")), "x\n");
}

#[test]
fn unset_mode_keeps_what_is_there() {
    let world = World::new(&config(""));
    common::write(&world.path("f"), b"old\n");
    common::set_mode(&world.path("f"), 0o604);
    world.step("apply.f", "update");
    assert_eq!(mode(&world.path("f")), 0o604);
}

#[test]
fn owner_and_group_by_name() {
    let world = World::new(&config(", owner: daemon, group: nogroup"));
    world.step("apply.f", "create");
    assert_eq!(owner(&world.path("f")), (1, 65534));
    assert_eq!(owner(&world.path("d")), (1, 65534));
    let (_, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.f")["after"]["owner"], "daemon");
    assert_eq!(common::node(&plan, "apply.f")["after"]["group"], "nogroup");
}

#[test]
fn owner_and_group_by_id_change_in_place() {
    let world = World::new(&config(""));
    world.apply();
    assert_eq!(owner(&world.path("f")), (0, 0));
    world.set_config(&config(", owner: 65534, group: 1"));
    world.step("apply.f", "update");
    assert_eq!(owner(&world.path("f")), (65534, 1));
    assert_eq!(owner(&world.path("d")), (65534, 1));
    assert_eq!(read(&world.path("f")), "x\n");
}

#[test]
fn unknown_owner_fails_the_plan() {
    let world = World::new(&config(", owner: no-such-user-here"));
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("no-such-user-here"), "{}", run.all());
}

#[test]
fn symlink_at_a_managed_path_is_refused() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"new\\n\"}\n",
    );
    common::write(&world.path("real"), b"real\n");
    std::os::unix::fs::symlink(world.path("real"), world.path("f")).expect("symlink");
    let before = common::tree(&world.root);
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("symbolic link"), "{}", run.all());
    assert_eq!(before, common::tree(&world.root));
    for kind in [
        "{id: t, type: copy, dest: \"{{ root }}/f\", content: x}",
        "{id: t, type: lineinfile, path: \"{{ root }}/f\", line: x}",
        "{id: t, type: blockinfile, path: \"{{ root }}/f\", block: x}",
    ] {
        world.set_config(&format!("apply:\n  - {kind}\n"));
        assert_eq!(world.run(&["apply"]).code, 1, "{kind}");
        assert_eq!(before, common::tree(&world.root), "{kind}");
    }
}

#[test]
fn symlink_is_followed_with_follow_true() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"new\\n\", follow: true, mode: \"0600\"}\n",
    );
    common::write(&world.path("real"), b"real\n");
    std::os::unix::fs::symlink(world.path("real"), world.path("f")).expect("symlink");
    world.step("apply.f", "update");
    assert!(
        std::fs::symlink_metadata(world.path("f"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert_eq!(read(&world.path("real")), "new\n");
    assert_eq!(mode(&world.path("real")), 0o600);
}

#[test]
fn setuid_mode_survives_an_owner_change() {
    let world = World::new(&config(", mode: \"4755\", owner: daemon, group: daemon"));
    world.step("apply.f", "create");
    assert_eq!(mode(&world.path("f")), 0o4755);
    assert_eq!(owner(&world.path("f")), (1, 1));
    world.set_config(&config(", mode: \"4755\", owner: nobody, group: nogroup"));
    world.step("apply.f", "update");
    assert_eq!(mode(&world.path("f")), 0o4755);
    assert_eq!(owner(&world.path("f")), (65534, 65534));
}

#[test]
fn follow_true_creates_the_target_of_a_dangling_symlink() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"new\\n\", follow: true}\n",
    );
    std::os::unix::fs::symlink("target", world.path("f")).expect("symlink");
    world.step("apply.f", "create");
    assert!(
        std::fs::symlink_metadata(world.path("f"))
            .expect("meta")
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert_eq!(read(&world.path("target")), "new\n");
}

/// A user and a group that only NSS knows — in `/var/lib/extrausers`, reached through Debian's
/// libnss-extrausers module as LDAP or SSSD users are through theirs — resolve by name: the
/// plan shows their ids and names, and apply owns the files by them. driftless runs in a
/// bubblewrap sandbox whose `/etc/nsswitch.conf` says `files extrausers`.
#[test]
fn owner_and_group_known_only_to_nss() {
    let deps = crate::deps::test_deps(&["bin/bwrap", "lib/libnss_extrausers.so.2"]);
    let mut world = World::new(&config(", owner: nssuser, group: nssgroup"));

    // Outside the sandbox no such user exists.
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("no user `nssuser` on this host"),
        "{}",
        run.all()
    );

    let nss = world.temp.path().join("nss");
    common::write(
        &nss.join("nsswitch.conf"),
        b"passwd: files extrausers\ngroup: files extrausers\n",
    );
    common::write(
        &nss.join("extrausers/passwd"),
        b"nssuser:x:4242:4343:only in extrausers:/nonexistent:/usr/sbin/nologin\n",
    );
    common::write(&nss.join("extrausers/group"), b"nssgroup:x:4343:\n");
    world.wrapper = vec![
        deps.join("bin/bwrap").into(),
        "--bind".into(),
        "/".into(),
        "/".into(),
        "--ro-bind".into(),
        nss.join("nsswitch.conf").into(),
        "/etc/nsswitch.conf".into(),
        // A fresh /var/lib in the sandbox holds the extrausers files; the host's is untouched.
        "--tmpfs".into(),
        "/var/lib".into(),
        "--ro-bind".into(),
        nss.join("extrausers").into(),
        "/var/lib/extrausers".into(),
        // glibc loads NSS modules through the dynamic loader, which searches here too.
        "--setenv".into(),
        "LD_LIBRARY_PATH".into(),
        deps.join("lib").into(),
        "--".into(),
    ];

    let (_, plan) = world.plan();
    let after = &common::node(&plan, "apply.f")["after"];
    assert_eq!(
        (
            &after["owner"],
            &after["uid"],
            &after["group"],
            &after["gid"]
        ),
        (
            &serde_json::json!("nssuser"),
            &serde_json::json!(4242),
            &serde_json::json!("nssgroup"),
            &serde_json::json!(4343)
        ),
        "{after}"
    );
    world.step("apply.f", "create");
    assert_eq!(owner(&world.path("f")), (4242, 4343));
    assert_eq!(owner(&world.path("d")), (4242, 4343));
}
