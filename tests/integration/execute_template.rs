//! `template`: rendered from a template file, updated when a var or the template changes,
//! and `force: false`.

use crate::common::{self, World, read};

fn config(greeting: &str, extra: &str) -> String {
    format!(
        "vars: {{greeting: {greeting}}}\napply:\n  - {{id: t, type: template, src: templates/t.j2, \
         dest: \"{{{{ root }}}}/t\"{extra}}}\n"
    )
}

#[test]
fn create_update_noop() {
    let world = World::new(&config("hello", ""));
    world.config_file(
        "templates/t.j2",
        "{{ greeting }} from {{ facts.hostname }}\n{% for i in [1, 2] %}{{ i }}\n{% endfor %}",
    );
    world.step("apply.t", "create");
    let hostname = read(std::path::Path::new("/proc/sys/kernel/hostname"));
    assert_eq!(
        read(&world.path("t")),
        format!("hello from {}\n1\n2\n", hostname.trim())
    );
    world.step("apply.t", "no-op");
    world.set_config(&config("bye", ""));
    world.step("apply.t", "update");
    assert!(read(&world.path("t")).starts_with("bye from"));
    world.config_file("templates/t.j2", "only {{ greeting }}\n");
    world.step("apply.t", "update");
    assert_eq!(read(&world.path("t")), "only bye\n");
}

#[test]
fn force_false_keeps_an_existing_file() {
    let world = World::new(&config("hello", ", force: false"));
    world.config_file("templates/t.j2", "{{ greeting }}\n");
    common::write(&world.path("t"), b"mine\n");
    world.step("apply.t", "no-op");
    assert_eq!(read(&world.path("t")), "mine\n");
}
