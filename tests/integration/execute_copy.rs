//! `copy`: from the config dir, inline, from the host (`remote_src`), and `force: false`.

use crate::common::{self, World, mode, read};

fn config(extra: &str) -> String {
    format!("apply:\n  - {{id: c, type: copy, dest: \"{{{{ root }}}}/c\"{extra}}}\n")
}

#[test]
fn src_create_update_noop() {
    let world = World::new(&config(", src: files/c.conf, mode: \"0640\""));
    world.config_file("files/c.conf", "v1 {{ raw }}\n");
    world.step("apply.c", "create");
    assert_eq!(read(&world.path("c")), "v1 {{ raw }}\n");
    assert_eq!(mode(&world.path("c")), 0o640);
    world.step("apply.c", "no-op");
    world.config_file("files/c.conf", "v2\n");
    world.step("apply.c", "update");
    assert_eq!(read(&world.path("c")), "v2\n");
}

#[test]
fn inline_content() {
    let world = World::new(&config(", content: \"inline\\n\""));
    world.step("apply.c", "create");
    assert_eq!(read(&world.path("c")), "inline\n");
    world.step("apply.c", "no-op");
}

#[test]
fn force_false_creates_but_never_overwrites() {
    let world = World::new(&config(", content: \"fresh\\n\", force: false"));
    world.step("apply.c", "create");
    assert_eq!(read(&world.path("c")), "fresh\n");
    common::write(&world.path("c"), b"edited by hand\n");
    world.step("apply.c", "no-op");
    assert_eq!(read(&world.path("c")), "edited by hand\n");
    // Attributes are still managed.
    world.set_config(&config(
        ", content: \"fresh\\n\", force: false, mode: \"0600\"",
    ));
    world.step("apply.c", "update");
    assert_eq!(read(&world.path("c")), "edited by hand\n");
    assert_eq!(mode(&world.path("c")), 0o600);
}

#[test]
fn remote_src_copies_a_file_of_the_host() {
    let world = World::new(&config(", src: \"{{ root }}/origin\", remote_src: true"));
    common::write(&world.path("origin"), b"on the host\n");
    world.step("apply.c", "create");
    assert_eq!(read(&world.path("c")), "on the host\n");
    common::write(&world.path("origin"), b"changed on the host\n");
    world.step("apply.c", "update");
    assert_eq!(read(&world.path("c")), "changed on the host\n");
}

#[test]
fn remote_src_missing_fails_the_plan() {
    let world = World::new(&config(", src: \"{{ root }}/missing\", remote_src: true"));
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("missing"), "{}", run.all());
}
