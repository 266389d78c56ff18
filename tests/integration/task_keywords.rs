//! The task keywords `name`, `tags` (with `--tags`/`--skip-tags`) and `block`, on the real
//! binary: what the plan records, what a run does and reports.

use crate::common::{self, World, read};

const CONFIG: &str = r#"
apply:
  - id: base
    name: Base directory
    type: directory
    path: "{{ root }}/app"
    tags: [base]
  - name: Web server
    tags: web
    vars:
      port: 8080
    block:
      - id: web-conf
        name: "Listen on {{ port }}"
        type: file
        path: "{{ root }}/app/web.conf"
        content: "port={{ port }}\n"
        depends_on: base
      - id: admin-conf
        type: file
        path: "{{ root }}/app/admin.conf"
        content: "admin\n"
        tags: admin
  - id: debug
    type: file
    path: "{{ root }}/app/debug"
    content: "debug\n"
    tags: [never, debug]
  - id: motd
    type: file
    path: "{{ root }}/motd"
    content: "hello\n"
    tags: [always]
"#;

fn addresses(plan: &serde_json::Value) -> Vec<String> {
    common::nodes(plan)
        .iter()
        .map(|n| n["address"].as_str().expect("address").to_owned())
        .collect()
}

fn skipped(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["skipped"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|e| {
                    (
                        e["address"].as_str().unwrap_or("").to_owned(),
                        e["reason"].as_str().expect("reason").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn without_tags_everything_but_never_is_planned() {
    let world = World::new(CONFIG);
    let (_, plan) = world.plan();
    assert_eq!(
        addresses(&plan),
        [
            "apply.base",
            "apply.web-conf",
            "apply.admin-conf",
            "apply.motd"
        ]
    );
    assert_eq!(
        skipped(&plan),
        [(
            "apply.debug".to_owned(),
            "tagged `never`: planned only when --tags names it".to_owned()
        )]
    );
    assert_eq!(common::node(&plan, "apply.base")["name"], "Base directory");
    assert_eq!(
        common::node(&plan, "apply.web-conf")["name"],
        "Listen on 8080"
    );
    assert!(
        common::node(&plan, "apply.admin-conf")
            .get("name")
            .is_none()
    );
}

#[test]
fn tags_select_always_stays_and_a_skipped_dependency_holds() {
    let world = World::new(CONFIG);
    // The directory exists from an earlier full run: a dependency left out by the tags is
    // treated as done, as when its `when` is false.
    std::fs::create_dir(world.path("app")).expect("mkdir");
    let run = world.run(&["plan", "--tags", "web", "--skip-tags=admin"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    assert_eq!(addresses(&plan), ["apply.web-conf", "apply.motd"]);
    assert_eq!(
        skipped(&plan),
        [
            (
                "apply.base".to_owned(),
                "not selected by --tags web".to_owned()
            ),
            (
                "apply.admin-conf".to_owned(),
                "skipped by --skip-tags admin".to_owned()
            ),
            (
                "apply.debug".to_owned(),
                "not selected by --tags web".to_owned()
            ),
        ]
    );
    assert_eq!(plan["config"]["tags"], serde_json::json!(["web"]));
    assert_eq!(plan["config"]["skip_tags"], serde_json::json!(["admin"]));
    assert!(run.stderr.contains("Not planned:"), "{}", run.all());
    assert!(run.stderr.contains("Made with --tags web"), "{}", run.all());
    let run = world.run(&["apply", "--tags", "web,debug", "--skip-tags", "admin"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(read(&world.path("app/web.conf")), "port=8080\n");
    assert_eq!(read(&world.path("app/debug")), "debug\n");
    assert_eq!(read(&world.path("motd")), "hello\n");
    assert!(!world.path("app/admin.conf").exists());
}

#[test]
fn skip_tags_always_leaves_out_always_tasks() {
    let world = World::new(CONFIG);
    let run = world.run(&["plan", "--tags", "base", "--skip-tags", "always"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(addresses(&run.json()), ["apply.base"]);
}

#[test]
fn an_unknown_tag_is_a_warning_and_selects_nothing() {
    let world = World::new(CONFIG);
    let run = world.run(&["check", "--tags", "wbe"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("warning: --tags wbe: no task has the tag `wbe`"),
        "{}",
        run.all()
    );
    let run = world.run(&["check", "--deny-warnings", "--tags", "wbe"]);
    assert_eq!(run.code, 1, "{}", run.all());
}

#[test]
fn names_are_in_run_output_show_and_reports() {
    let world = World::new(CONFIG);
    let (plan, _) = world.plan();
    let shown = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert!(
        shown
            .stdout
            .contains("+ apply.web-conf (Listen on 8080) create"),
        "{}",
        shown.all()
    );
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("changed    apply.base (Base directory)"),
        "{}",
        run.all()
    );
    assert_eq!(run.status_of("apply.web-conf").as_deref(), Some("changed"));
    let reports = world.reports();
    let report = reports.last().expect("a report");
    let node = (report["nodes"].as_array().expect("nodes"))
        .iter()
        .find(|n| n["address"] == "apply.web-conf")
        .expect("node in report");
    assert_eq!(node["name"], "Listen on 8080");
    world.assert_converged();
}

#[test]
fn a_block_shares_when_vars_and_tags() {
    let world = World::new(
        r#"
apply:
  - name: Debian only
    when: facts.os.family == "no-such-family"
    block:
      - {id: never, type: file, path: "{{ root }}/never", content: "x"}
  - vars: { greeting: hi }
    tags: [greet]
    block:
      - {id: outer, type: file, path: "{{ root }}/outer", content: "{{ greeting }}"}
      - vars: { greeting: hello }
        block:
          - {id: inner, type: file, path: "{{ root }}/inner", content: "{{ greeting }}"}
"#,
    );
    let run = world.run(&["apply", "--tags", "greet"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(read(&world.path("outer")), "hi");
    assert_eq!(read(&world.path("inner")), "hello");
    assert!(!world.path("never").exists());
    let (_, plan) = world.plan();
    assert_eq!(
        skipped(&plan),
        [("apply.never".to_owned(), "when: false".to_owned())]
    );
}

/// `register` on a command and `when: r.changed` on a later task: planned with its condition,
/// judged at execute time from the command's result.
fn registered(version: &str) -> String {
    format!(
        r#"
apply:
  - id: probe
    type: command
    argv: [/bin/sh, -c, "echo {version}"]
    changed_when: "'new' in stdout"
    register: upgrade
  - id: marker
    name: Only after an upgrade
    type: file
    path: "{{{{ root }}}}/marker"
    content: "{version}\n"
    when: upgrade.changed
  - id: after
    type: file
    path: "{{{{ root }}}}/after"
    content: "after\n"
    depends_on: marker
"#
    )
}

#[test]
fn a_when_on_a_registered_result_is_judged_at_execute_time() {
    let world = World::new(&registered("old"));
    let (plan, json) = world.plan();
    let marker = common::node(&json, "apply.marker");
    assert_eq!(marker["when"]["expression"], "upgrade.changed");
    assert_eq!(marker["when"]["registers"]["upgrade"], "apply.probe");
    assert!(
        (marker["depends_on"].as_array().expect("deps"))
            .iter()
            .any(|d| d["address"] == "apply.probe" && d["reason"] == "register"),
        "{marker:#}"
    );
    let shown = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert!(
        shown.stdout.contains(
            "runs only if `upgrade.changed` when its turn comes (upgrade is apply.probe)"
        ),
        "{}",
        shown.all()
    );
    // The command's stdout says nothing changed: the marker is skipped, and what depends on
    // it still runs (a false condition is not a failure).
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.probe").as_deref(), Some("unchanged"));
    assert!(
        run.stdout.contains(
            "skipped    apply.marker (Only after an upgrade): when: upgrade.changed is false"
        ),
        "{}",
        run.all()
    );
    assert_eq!(run.status_of("apply.after").as_deref(), Some("changed"));
    assert!(!world.path("marker").exists());

    world.set_config(&registered("new"));
    let run = world.apply();
    assert_eq!(run.status_of("apply.probe").as_deref(), Some("changed"));
    assert_eq!(run.status_of("apply.marker").as_deref(), Some("changed"));
    assert_eq!(read(&world.path("marker")), "new\n");
}
