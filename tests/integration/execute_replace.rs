//! `replace` on real files: every match replaced, `after`/`before` bounds, Python-style
//! backreferences, no match = no change, a second apply unchanged, dry runs that change
//! nothing, a chain with `lineinfile`, and a stale plan refused.

use crate::common::{self, World, read};

fn config(fields: &str) -> String {
    format!("apply:\n  - {{id: r, type: replace, path: \"{{{{ root }}}}/f\", {fields}}}\n")
}

#[test]
fn every_match_is_replaced_with_backreferences_then_noop() {
    let world = World::new(&config(
        r#"regexp: '^(\w+) = old$', replace: '\1 = new # \g<1>'"#,
    ));
    common::write(&world.path("f"), b"a = old\nb = keep\nc = old\n");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.r");
    assert_eq!(node["action"], "update", "{node:#}");
    let diff = node["diff"].as_str().expect("diff");
    assert!(
        diff.contains("-a = old\n") && diff.contains("+a = new # a\n"),
        "{diff}"
    );
    world.step("apply.r", "update");
    assert_eq!(
        read(&world.path("f")),
        "a = new # a\nb = keep\nc = new # c\n"
    );
    world.step("apply.r", "no-op");
}

#[test]
fn after_and_before_bound_the_replacement() {
    let world = World::new(&config(
        r#"regexp: '^port=\d+', replace: 'port=8080', after: '\[web\]', before: '\[db\]'"#,
    ));
    let text = "port=1\n[web]\nport=2\n[db]\nport=3\n";
    common::write(&world.path("f"), text.as_bytes());
    world.step("apply.r", "update");
    assert_eq!(
        read(&world.path("f")),
        "port=1\n[web]\nport=8080\n[db]\nport=3\n"
    );
    world.assert_converged();
}

#[test]
fn no_match_changes_nothing_and_a_dry_run_writes_nothing() {
    let world = World::new(&config("regexp: 'absent-text', replace: x"));
    common::write(&world.path("f"), b"one\ntwo\n");
    world.step("apply.r", "no-op");
    world.set_config(&config("regexp: 'one', replace: uno"));
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("+uno"), "{}", dry.all());
    assert_eq!(read(&world.path("f")), "one\ntwo\n");
    let plan = world.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_eq!(read(&world.path("f")), "one\ntwo\n");
}

#[test]
fn a_missing_file_fails_the_plan() {
    let world = World::new(&config("regexp: x"));
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("does not exist"), "{}", run.all());
}

#[test]
fn replace_chains_after_a_lineinfile_of_the_same_file() {
    let world = World::new(
        "apply:\n  - {id: l, type: lineinfile, path: \"{{ root }}/f\", line: \"other=1\"}\n  \
         - {id: r, type: replace, path: \"{{ root }}/f\", regexp: slow, replace: fast}\n",
    );
    common::write(&world.path("f"), b"mode=slow\n");
    let (_, plan) = world.plan();
    assert_eq!(common::node(&plan, "apply.r")["precondition"], "chained");
    world.apply();
    assert_eq!(read(&world.path("f")), "mode=fast\nother=1\n");
    world.assert_converged();
}

#[test]
fn a_file_changed_since_the_plan_is_refused() {
    let world = World::new(&config("regexp: 'a', replace: b"));
    common::write(&world.path("f"), b"a\n");
    let (plan_path, _) = world.plan();
    common::write(&world.path("f"), b"a\nchanged\n");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.r"), "{}", run.all());
    assert_eq!(read(&world.path("f")), "a\nchanged\n");
}

#[test]
fn a_replacement_read_from_a_secret_is_never_shown() {
    const SECRET: &str = "pw-61d0c7aa";
    let mut world = World::new(&config(
        "regexp: '^password=.*$', replace: 'password={{ secrets.DB_PASSWORD }}'",
    ));
    world
        .envs
        .push(("DB_PASSWORD".to_owned(), SECRET.to_owned()));
    common::write(&world.path("f"), b"user=app\npassword=old\n");
    let plan = world.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(!plan.all().contains(SECRET), "{}", plan.all());
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(!dry.all().contains(SECRET), "{}", dry.all());
    let run = world.apply();
    assert!(!run.all().contains(SECRET), "{}", run.all());
    assert_eq!(
        read(&world.path("f")),
        format!("user=app\npassword={SECRET}\n")
    );
    world.assert_converged();
}
