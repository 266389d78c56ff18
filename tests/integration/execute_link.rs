//! `link`: symbolic and hard, create / update / delete / no-op, `force`, and a hard link whose
//! target another task rewrites in the same run.

use crate::common::{self, World, read};

fn symlink(src: &str, extra: &str) -> String {
    format!(
        "apply:\n  - {{id: l, type: link, path: \"{{{{ root }}}}/l\", src: \"{src}\"{extra}}}\n"
    )
}

#[test]
fn symbolic_create_update_noop_delete() {
    let world = World::new(&symlink("/etc/hostname", ""));
    world.step("apply.l", "create");
    assert_eq!(
        std::fs::read_link(world.path("l")).expect("link").to_str(),
        Some("/etc/hostname")
    );
    world.step("apply.l", "no-op");
    world.set_config(&symlink("relative/target", ""));
    world.step("apply.l", "update");
    assert_eq!(
        std::fs::read_link(world.path("l")).expect("link").to_str(),
        Some("relative/target")
    );
    world.set_config("apply:\n  - {id: l, type: link, path: \"{{ root }}/l\", state: absent}\n");
    world.step("apply.l", "delete");
    assert!(std::fs::symlink_metadata(world.path("l")).is_err());
    world.step("apply.l", "no-op");
}

#[test]
fn hard_create_noop_delete() {
    let world = World::new(&symlink("{{ root }}/target", ", kind: hard"));
    common::write(&world.path("target"), b"shared\n");
    world.step("apply.l", "create");
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(world.path(p)).expect("meta").ino();
    assert_eq!(ino("l"), ino("target"));
    world.step("apply.l", "no-op");
    world.set_config(
        "apply:\n  - {id: l, type: link, kind: hard, path: \"{{ root }}/l\", state: absent}\n",
    );
    world.step("apply.l", "delete");
    assert_eq!(read(&world.path("target")), "shared\n");
}

#[test]
fn a_regular_file_is_replaced_only_with_force() {
    let world = World::new(&symlink("/etc/hostname", ""));
    common::write(&world.path("l"), b"a file\n");
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("force: true"), "{}", run.all());
    assert_eq!(read(&world.path("l")), "a file\n");
    world.set_config(&symlink("/etc/hostname", ", force: true"));
    world.step("apply.l", "update");
    assert!(
        std::fs::symlink_metadata(world.path("l"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
}

#[test]
fn absent_refuses_a_regular_file_without_force() {
    let world =
        World::new("apply:\n  - {id: l, type: link, path: \"{{ root }}/l\", state: absent}\n");
    common::write(&world.path("l"), b"a file\n");
    assert_eq!(world.run(&["apply"]).code, 1);
    assert_eq!(read(&world.path("l")), "a file\n");
}

#[test]
fn new_hard_link_to_a_target_rewritten_in_the_same_run_links_the_new_file() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"new\"}\n  \
         - {id: l, type: link, kind: hard, path: \"{{ root }}/l\", src: \"{{ root }}/f\"}\n",
    );
    common::write(&world.path("f"), b"old");
    world.apply();
    assert_eq!(read(&world.path("l")), "new");
    world.assert_converged();
}

#[test]
fn hard_link_follows_its_target_rewritten_in_the_same_run() {
    let config = |content: &str| {
        format!(
            "apply:\n  - {{id: f, type: file, path: \"{{{{ root }}}}/f\", content: \"{content}\"}}\n  \
             - {{id: l, type: link, kind: hard, path: \"{{{{ root }}}}/l\", src: \"{{{{ root }}}}/f\"}}\n"
        )
    };
    let world = World::new(&config("one"));
    world.apply();
    world.set_config(&config("two"));
    // The rewrite replaces the target's inode: the link is planned to be made again.
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("l")), "two");
    // A mode change of the target shows through the link: no change for the link itself.
    world
        .set_config(&config("two").replace("content: \"two\"", "content: \"two\", mode: \"0600\""));
    world.step("apply.l", "no-op");
    assert_eq!(common::mode(&world.path("l")), 0o600);
}
