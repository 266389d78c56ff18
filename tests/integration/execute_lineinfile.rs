//! `lineinfile`: regexp replacement, insert_after / insert_before, absent, create, and a
//! missing file without `create`.

use crate::common::{self, World, read};

fn config(fields: &str) -> String {
    format!("apply:\n  - {{id: l, type: lineinfile, path: \"{{{{ root }}}}/f\", {fields}}}\n")
}

#[test]
fn create_then_noop_then_update_by_regexp() {
    let world = World::new(&config(
        "line: \"Port 22\", regexp: \"^#?Port \", create: true",
    ));
    world.step("apply.l", "create");
    assert_eq!(read(&world.path("f")), "Port 22\n");
    world.step("apply.l", "no-op");
    world.set_config(&config(
        "line: \"Port 2222\", regexp: \"^#?Port \", create: true",
    ));
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("f")), "Port 2222\n");
}

#[test]
fn regexp_replaces_the_last_match_only() {
    let world = World::new(&config("line: \"Port 2222\", regexp: \"^#?Port \""));
    common::write(&world.path("f"), b"Port 22\nX=1\n#Port 23\nY=2\n");
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("f")), "Port 22\nX=1\nPort 2222\nY=2\n");
}

#[test]
fn insert_after_and_before() {
    let world = World::new(&config("line: \"new\", insert_after: \"^\\\\[main\\\\]\""));
    common::write(&world.path("f"), b"[main]\na\n[other]\n");
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("f")), "[main]\nnew\na\n[other]\n");
    world.set_config(&config("line: \"first\", insert_before: BOF"));
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("f")), "first\n[main]\nnew\na\n[other]\n");
    world.set_config(&config(
        "line: \"before-other\", insert_before: \"^\\\\[other\\\\]\"",
    ));
    world.step("apply.l", "update");
    assert_eq!(
        read(&world.path("f")),
        "first\n[main]\nnew\na\nbefore-other\n[other]\n"
    );
}

#[test]
fn absent_removes_every_matching_line_then_noop() {
    let world = World::new(&config("regexp: \"^tmp\", state: absent"));
    common::write(&world.path("f"), b"tmp1\nkeep\ntmp2\n");
    world.step("apply.l", "update");
    assert_eq!(read(&world.path("f")), "keep\n");
    world.step("apply.l", "no-op");
}

#[test]
fn absent_on_a_missing_file_is_a_noop() {
    let world = World::new(&config("line: x, state: absent"));
    world.step("apply.l", "no-op");
    assert!(!world.path("f").exists());
}

#[test]
fn missing_file_without_create_fails_the_plan() {
    let world = World::new(&config("line: x"));
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("create: true"), "{}", run.all());
    assert!(!world.path("f").exists());
}

#[test]
fn unchanged_file_without_final_newline_is_left_alone() {
    let world = World::new(&config("line: b"));
    common::write(&world.path("f"), b"a\nb");
    world.step("apply.l", "no-op");
    assert_eq!(read(&world.path("f")), "a\nb");
}

#[test]
fn two_tasks_editing_one_file_chain() {
    let world = World::new(
        "apply:\n  - {id: a, type: lineinfile, path: \"{{ root }}/f\", line: a, create: true}\n  \
         - {id: b, type: lineinfile, path: \"{{ root }}/f\", line: b}\n",
    );
    let (_, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.b")["precondition"], "chained");
    world.apply();
    assert_eq!(read(&world.path("f")), "a\nb\n");
    world.assert_converged();
}

/// As in Ansible, line edits of one file need no ids: each default id adds the edit's regexp
/// (else its line), and a line read from a secret never goes into an address.
#[test]
fn line_edits_of_one_file_without_ids_get_distinct_addresses() {
    const SECRET: &str = "pw-5b0e93c2";
    let mut world = World::new(
        r#"
apply:
  - {type: lineinfile, path: "{{ root }}/f", regexp: "^#?Port ", line: "Port 2222", create: true}
  - {type: lineinfile, path: "{{ root }}/f", line: "UseDNS no"}
  - {type: lineinfile, path: "{{ root }}/f", line: "Token {{ secrets.TOKEN }}"}
"#,
    );
    world.envs.push(("TOKEN".to_owned(), SECRET.to_owned()));
    let (_, plan) = world.plan();
    let root = world.root.display().to_string();
    let addresses: Vec<String> = common::nodes(&plan)
        .iter()
        .filter_map(|n| n["address"].as_str())
        .map(|a| a.replace(&root, "ROOT"))
        .collect();
    assert_eq!(
        addresses,
        [
            "apply.lineinfile:ROOT/f:^#?Port ",
            "apply.lineinfile:ROOT/f:UseDNS no",
            "apply.lineinfile:ROOT/f",
        ]
    );
    world.apply();
    assert_eq!(
        read(&world.path("f")),
        format!("Port 2222\nUseDNS no\nToken {SECRET}\n")
    );
    world.assert_converged();
}
