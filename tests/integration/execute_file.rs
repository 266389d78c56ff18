//! `file`: inline content, template, source, touch (no content) and absent — create, update,
//! delete and no-op.

use crate::common::{self, World, mode, read};

#[test]
fn content_create_update_noop_delete() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"one\\n\"}\n",
    );
    world.step("apply.f", "create");
    assert_eq!(read(&world.path("f")), "one\n");
    assert_eq!(mode(&world.path("f")), 0o644);
    world.step("apply.f", "no-op");
    world.set_config(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"two\\n\"}\n",
    );
    world.step("apply.f", "update");
    assert_eq!(read(&world.path("f")), "two\n");
    world.set_config("apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", state: absent}\n");
    world.step("apply.f", "delete");
    assert!(!world.path("f").exists());
    world.step("apply.f", "no-op");
}

#[test]
fn content_from_a_template_file_is_rendered() {
    let world = World::new(
        "vars: {name: alpha}\napply:\n  - {id: f, type: file, path: \"{{ root }}/f\", template: templates/f.j2}\n",
    );
    world.config_file("templates/f.j2", "name={{ name }}\n");
    world.step("apply.f", "create");
    assert_eq!(read(&world.path("f")), "name=alpha\n");
    world.config_file("templates/f.j2", "name={{ name }}!\n");
    world.step("apply.f", "update");
    assert_eq!(read(&world.path("f")), "name=alpha!\n");
}

#[test]
fn content_from_a_source_file_is_copied_as_is() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", source: files/f.bin}\n",
    );
    let binary: Vec<u8> = (0..=255u8).collect();
    common::write(&world.config.join("files/f.bin"), &binary);
    world.step("apply.f", "create");
    assert_eq!(std::fs::read(world.path("f")).expect("read"), binary);
    world.step("apply.f", "no-op");
    common::write(&world.config.join("files/f.bin"), b"{{ not rendered }}\n");
    world.step("apply.f", "update");
    assert_eq!(read(&world.path("f")), "{{ not rendered }}\n");
}

#[test]
fn without_content_it_touches_and_keeps_what_is_there() {
    let world =
        World::new("apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", mode: \"0600\"}\n");
    world.step("apply.f", "create");
    assert_eq!(read(&world.path("f")), "");
    common::write(&world.path("f"), b"kept\n");
    common::set_mode(&world.path("f"), 0o644);
    world.step("apply.f", "update");
    assert_eq!(read(&world.path("f")), "kept\n");
    assert_eq!(mode(&world.path("f")), 0o600);
}

#[test]
fn drifted_content_is_restored() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"want\\n\"}\n",
    );
    world.apply();
    common::write(&world.path("f"), b"drift\n");
    let (_, plan) = world.plan();
    let diff = common::node(&plan, "apply.f")["diff"]
        .as_str()
        .expect("diff")
        .to_owned();
    assert!(diff.contains("-drift") && diff.contains("+want"), "{diff}");
    world.step("apply.f", "update");
    assert_eq!(read(&world.path("f")), "want\n");
}

#[test]
fn a_directory_at_the_path_is_not_replaced_by_a_file() {
    let world =
        World::new("apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"x\"}\n");
    std::fs::create_dir(world.path("f")).expect("mkdir");
    std::fs::write(world.path("f/inside"), "precious").expect("write");
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(read(&world.path("f/inside")), "precious");
}
