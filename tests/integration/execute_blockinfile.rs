//! `blockinfile`: insertion, update in place between the markers, custom markers, removal.

use crate::common::{self, World, read};

fn config(fields: &str) -> String {
    format!("apply:\n  - {{id: b, type: blockinfile, path: \"{{{{ root }}}}/f\", {fields}}}\n")
}

#[test]
fn insert_update_noop_remove() {
    let world = World::new(&config("block: \"one\\n\""));
    common::write(&world.path("f"), b"top\nbottom\n");
    world.step("apply.b", "update");
    assert_eq!(
        read(&world.path("f")),
        "top\nbottom\n# BEGIN DRIFTLESS MANAGED BLOCK\none\n# END DRIFTLESS MANAGED BLOCK\n"
    );
    world.step("apply.b", "no-op");
    world.set_config(&config("block: \"two\\nthree\\n\""));
    world.step("apply.b", "update");
    assert_eq!(
        read(&world.path("f")),
        "top\nbottom\n# BEGIN DRIFTLESS MANAGED BLOCK\ntwo\nthree\n# END DRIFTLESS MANAGED BLOCK\n"
    );
    world.set_config(&config("state: absent"));
    world.step("apply.b", "update");
    assert_eq!(read(&world.path("f")), "top\nbottom\n");
    world.step("apply.b", "no-op");
}

#[test]
fn create_with_custom_markers_and_insert_before() {
    let world = World::new(&config(
        "block: \"x\\n\", marker: \"<!-- {mark} -->\", marker_begin: start, marker_end: stop, create: true",
    ));
    world.step("apply.b", "create");
    assert_eq!(read(&world.path("f")), "<!-- start -->\nx\n<!-- stop -->\n");
    world.set_config(&config(
        "block: \"y\\n\", marker: \"<!-- {mark} -->\", marker_begin: start, marker_end: stop",
    ));
    common::write(
        &world.path("f"),
        b"head\n<!-- start -->\nx\n<!-- stop -->\ntail\n",
    );
    world.step("apply.b", "update");
    assert_eq!(
        read(&world.path("f")),
        "head\n<!-- start -->\ny\n<!-- stop -->\ntail\n"
    );
}

#[test]
fn insert_before_bof() {
    let world = World::new(&config("block: \"first\\n\", insert_before: BOF"));
    common::write(&world.path("f"), b"rest\n");
    world.step("apply.b", "update");
    assert_eq!(
        read(&world.path("f")),
        "# BEGIN DRIFTLESS MANAGED BLOCK\nfirst\n# END DRIFTLESS MANAGED BLOCK\nrest\n"
    );
}

#[test]
fn empty_block_removes_the_markers() {
    let world = World::new(&config("block: \"\""));
    common::write(
        &world.path("f"),
        b"a\n# BEGIN DRIFTLESS MANAGED BLOCK\nold\n# END DRIFTLESS MANAGED BLOCK\nb\n",
    );
    world.step("apply.b", "update");
    assert_eq!(read(&world.path("f")), "a\nb\n");
}
