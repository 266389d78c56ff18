//! `set_fact`, `stat`, `debug`, `fail` and `pause` through the real binary: what a later task
//! sees (and an earlier one does not), stat results in `when` and templates and the plan
//! refused when the path changed, messages in the plan, `show` and the run output with secrets
//! redacted, failures at check time and at execute time, bounded and interruptible waits.
//! None of these types changes the host: the world's root is only read.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, World, node, nodes};

/// A secret planted in the environment; it must appear in no output.
const SECRET: &str = "s3cr3t-planted-7d1e";

/// The nodes of a plan by their type.
fn of_type<'p>(plan: &'p Value, type_name: &str) -> Vec<&'p Value> {
    nodes(plan)
        .iter()
        .filter(|n| n["type"] == type_name)
        .collect()
}

fn check(world: &World) -> common::Run {
    world.run(&["check"])
}

#[test]
fn a_set_fact_is_seen_by_the_tasks_after_it_in_when_loop_and_fields() {
    let world = World::new(
        r#"
vars:
  base: 8000
apply:
  - type: set_fact
    port: "{{ base + 80 }}"
    names: "{{ ['a', 'b'] }}"
    label: "port {{ base + 80 }}"
  - id: port-file
    type: file
    path: "{{ root }}/port"
    content: "{{ port }} {{ label }} {{ port is number }}\n"
  - id: per-name
    type: file
    path: "{{ root }}/{{ item }}"
    content: "x\n"
    loop: "{{ names }}"
  - type: set_fact
    port: "{{ port + 1 }}"
  - id: gated
    type: file
    path: "{{ root }}/gated"
    content: "{{ port }}\n"
    when: port == 8081
  - id: skipped
    type: file
    path: "{{ root }}/never"
    content: "x\n"
    when: port == 8080
  - type: set_fact
    doubled: "{{ doubled | default([]) + [item * 2] }}"
    loop: [1, 2, 3]
  - id: accumulated
    type: debug
    var: doubled
"#,
    );
    let (_, plan) = world.plan();
    // A set_fact makes no plan node: what it set is in the later tasks' fields.
    assert!(of_type(&plan, "set_fact").is_empty(), "{plan:#}");
    let port = node(&plan, "apply.port-file");
    assert_eq!(port["action"], "create");
    assert!(
        port["after"].to_string().contains("8080 port 8080 True"),
        "one expression keeps its type; text renders: {port:#}"
    );
    node(&plan, "apply.per-name[0]");
    node(&plan, "apply.per-name[1]");
    assert!(
        node(&plan, "apply.gated")["after"]
            .to_string()
            .contains("8081")
    );
    assert!(nodes(&plan).iter().all(|n| n["address"] != "apply.skipped"));
    // A loop's items set the fact in order, each seeing the one before.
    assert_eq!(
        node(&plan, "apply.accumulated")["after"]["msg"],
        "doubled: [2,4,6]"
    );
    world.apply();
    assert_eq!(common::read(&world.path("port")), "8080 port 8080 True\n");
    assert_eq!(common::read(&world.path("gated")), "8081\n");
    world.assert_converged();
}

#[test]
fn reading_a_fact_before_its_set_fact_is_a_check_error_naming_where_it_is_set() {
    let world = World::new(
        r#"
apply:
  - id: early
    type: file
    path: "{{ root }}/early"
    content: "{{ web_port }}\n"
  - type: set_fact
    web_port: 8080
"#,
    );
    let run = check(&world);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("`web_port` is read before the task that sets it"),
        "{}",
        run.all()
    );
    // The world's config starts with 4 lines of settings.
    assert!(
        run.stderr.contains("set at main.yaml:11:"),
        "where it is set: {}",
        run.all()
    );
    assert!(!world.path("early").exists());
}

#[test]
fn a_set_fact_works_in_blocks_includes_and_roles() {
    let world = World::new(
        r#"
apply:
  - block:
      - type: set_fact
        greeting: "{{ who }}"
    vars:
      who: hello
  - include: tasks/more.yaml
    vars:
      suffix: "!"
  - id: main-file
    type: file
    path: "{{ root }}/main"
    content: "{{ shout }}\n"
"#,
    );
    world.config_file(
        "tasks/more.yaml",
        "- type: set_fact\n  shout: \"{{ greeting | upper }}{{ suffix }}\"\n",
    );
    world.config_file(
        "inventory.yaml",
        "groups:\n  all:\n    hosts: ['*']\n    roles: [{ role: greeter }]\n",
    );
    world.config_file(
        "roles/greeter/tasks/main.yaml",
        "- type: set_fact\n  in_role: \"{{ shout }} from a role\"\n- id: role-file\n  type: file\n  path: \"{{ root }}/role\"\n  content: \"{{ in_role }}\\n\"\n",
    );
    let (_, plan) = world.plan();
    assert!(
        node(&plan, "apply.main-file")["after"]
            .to_string()
            .contains("HELLO!")
    );
    let role = node(&plan, "apply.greeter/role-file");
    assert!(
        role["after"].to_string().contains("HELLO! from a role"),
        "the role instance renders after the config's files: {role:#}"
    );
}

#[test]
fn a_set_fact_from_a_secret_stays_sensitive_wherever_it_is_read() {
    let mut world = World::new(
        r#"
apply:
  - type: set_fact
    token: "{{ secrets.CT_TOKEN }}"
    user: deploy
  - id: creds
    type: file
    path: "{{ root }}/creds"
    content: "{{ user }}:{{ token }}\n"
  - id: shown
    type: debug
    msg: "user {{ user }}, token {{ token }}"
"#,
    );
    world.envs.push(("CT_TOKEN".to_owned(), SECRET.to_owned()));
    let (path, plan) = world.plan();
    let creds = node(&plan, "apply.creds");
    assert_ne!(creds["after_sensitive"], false, "{creds:#}");
    let shown = node(&plan, "apply.shown");
    assert_eq!(shown["after"]["msg"], "(sensitive)");
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        common::read(&world.path("creds")),
        format!("deploy:{SECRET}\n")
    );
    let reports = serde_json::to_string(&world.reports()).expect("json");
    for output in [plan.to_string(), show.all(), run.all(), reports] {
        assert!(!output.contains(SECRET), "the secret leaked: {output}");
    }
    assert!(
        run.stdout.contains("message    apply.shown: (sensitive)"),
        "{}",
        run.all()
    );
}

/// A world with a file and a directory to look at.
fn stat_world(yaml: &str) -> World {
    let world = World::new(yaml);
    common::write(&world.path("data/conf"), b"hello\n");
    common::set_mode(&world.path("data/conf"), 0o640);
    world
}

const STAT_CONFIG: &str = r#"
apply:
  - type: stat
    path: "{{ root }}/data/conf"
    checksum_algorithm: sha256
    register: conf
  - type: stat
    path: "{{ root }}/data/missing"
    register: missing
  - id: summary
    type: debug
    msg: "mode {{ conf.stat.mode }} size {{ conf.stat.size }} reg {{ conf.stat.isreg }} sum {{ conf.stat.checksum }} missing {{ missing.stat.exists }}"
  - id: when-present
    type: debug
    msg: present
    when: conf.stat.exists and conf.stat.isreg
  - id: when-missing
    type: debug
    msg: never
    when: missing.stat.exists
"#;

#[test]
fn a_stat_result_is_known_at_plan_time_for_when_and_templates() {
    let world = stat_world(STAT_CONFIG);
    let (_, plan) = world.plan();
    let summary = node(&plan, "apply.summary");
    let sha256_of_hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    assert_eq!(
        summary["after"]["msg"],
        format!("mode 0640 size 6 reg True sum {sha256_of_hello} missing False"),
        "{summary:#}"
    );
    node(&plan, "apply.when-present");
    assert!(
        nodes(&plan)
            .iter()
            .all(|n| n["address"] != "apply.when-missing")
    );
    // The observation is a read-only node in the plan.
    let stats = of_type(&plan, "stat");
    assert_eq!(stats.len(), 2);
    for stat in &stats {
        assert_eq!(stat["action"], "no-op");
        assert_ne!(stat["fingerprint"], "", "{stat:#}");
    }
    let missing = stats
        .iter()
        .find(|n| {
            n["after"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("missing"))
        })
        .expect("the missing path's node");
    assert_eq!(
        missing["after"]["stat"],
        serde_json::json!({ "exists": false })
    );
    let before = common::tree(&world.root);
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(world.reports().is_empty(), "a dry run executes nothing");
    world.apply();
    world.assert_converged();
    assert_eq!(common::tree(&world.root), before, "a stat changes nothing");
}

#[test]
fn execute_refuses_a_plan_whose_stat_path_changed_since() {
    let world = stat_world(STAT_CONFIG);
    let (path, _) = world.plan();
    common::write(&world.path("data/missing"), b"now it exists\n");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("stat:"),
        "names the node: {}",
        run.all()
    );
    assert!(
        run.stderr.contains("data/missing changed since the plan"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("exists"),
        "says what changed: {}",
        run.all()
    );
    // An unchanged path is not stale.
    let (path, _) = world.plan();
    assert_eq!(world.execute(&path, &[]).code, 0);
}

#[test]
fn a_stat_of_a_path_the_config_manages_is_a_check_error_naming_both() {
    let world = World::new(
        r#"
apply:
  - id: made
    type: file
    path: "{{ root }}/made"
    content: "x\n"
  - type: stat
    path: "{{ root }}/made"
    register: made_stat
"#,
    );
    let run = check(&world);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("`made` manages it when the plan runs"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("`made` at main.yaml:9:"),
        "the managing task's place: {}",
        run.all()
    );
}

#[test]
fn debug_messages_are_in_the_plan_show_and_run_output_and_change_nothing() {
    let world = World::new(
        r#"
vars:
  ports: [80, 443]
apply:
  - id: hello
    type: debug
    msg: "ports {{ ports | join(',') }}"
  - id: the-var
    type: debug
    var: ports
  - id: chatty
    type: debug
    msg: only with -v
    verbosity: 1
"#,
    );
    let (path, plan) = world.plan();
    assert_eq!(node(&plan, "apply.hello")["after"]["msg"], "ports 80,443");
    assert_eq!(
        node(&plan, "apply.the-var")["after"]["msg"],
        "ports: [80,443]"
    );
    for debug in of_type(&plan, "debug") {
        assert_eq!(debug["action"], "no-op");
    }
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert!(
        show.stdout.contains("debug: ports 80,443"),
        "{}",
        show.all()
    );
    assert!(
        show.stdout.contains("only with -v"),
        "show prints every message: {}",
        show.all()
    );
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("message    apply.hello: ports 80,443"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("message    apply.the-var: ports: [80,443]"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.chatty").as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
    let verbose = world.execute(&path, &["-v"]);
    assert!(
        verbose
            .stdout
            .contains("message    apply.chatty: only with -v"),
        "{}",
        verbose.all()
    );
    let report = world.reports().pop().expect("a report");
    let hello = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["address"] == "apply.hello")
        .expect("hello in the report")
        .clone();
    assert_eq!(hello["status"], "unchanged");
    assert_eq!(hello["message"]["text"], "ports 80,443");
    world.assert_converged();
}

const FAIL_CONFIG: &str = r#"
vars:
  env: ENV
apply:
  - type: fail
    msg: "not in {{ env }}"
    when: env == "production"
  - id: kept
    type: file
    path: "{{ root }}/kept"
    content: "x\n"
"#;

#[test]
fn a_fail_that_applies_is_a_check_error_with_its_place_and_message() {
    let world = World::new(&FAIL_CONFIG.replace("ENV", "production"));
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("failed: not in production"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("main.yaml:9:"), "{}", run.all());
    assert!(
        !world.path("kept").exists(),
        "nothing is planned or changed"
    );
    // A false `when`: no error, no node.
    world.set_config(&FAIL_CONFIG.replace("ENV", "staging"));
    let (_, plan) = world.plan();
    assert!(of_type(&plan, "fail").is_empty(), "{plan:#}");
    node(&plan, "apply.kept");
}

#[test]
fn a_fail_whose_when_reads_a_registered_result_fails_its_node_at_execute_time() {
    let world = World::new(
        r#"
apply:
  - id: probe
    type: command
    cmd: "true"
    register: probed
  - id: stop
    type: fail
    msg: the probe ran
    when: probed.changed
  - id: after-stop
    type: file
    path: "{{ root }}/after"
    content: "x\n"
    depends_on: [stop]
  - id: independent
    type: file
    path: "{{ root }}/independent"
    content: "x\n"
"#,
    );
    let (path, plan) = world.plan();
    assert_eq!(node(&plan, "apply.stop")["action"], "no-op");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("failed     apply.stop: the probe ran"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.status_of("apply.after-stop").as_deref(),
        Some("skipped")
    );
    assert!(!world.path("after").exists());
    assert!(
        world.path("independent").exists(),
        "independent nodes go on"
    );
}

#[test]
fn a_pause_waits_when_executed_and_never_in_a_plan_or_dry_run() {
    let world = World::new(
        r#"
apply:
  - id: wait
    type: pause
    seconds: 0.4
"#,
    );
    let started = Instant::now();
    let (path, plan) = world.plan();
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "plan and dry run never wait"
    );
    assert_eq!(node(&plan, "apply.wait")["action"], "no-op");
    assert_eq!(node(&plan, "apply.wait")["after"]["milliseconds"], 400);
    let started = Instant::now();
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(started.elapsed() >= Duration::from_millis(400), "it waited");
    assert_eq!(run.status_of("apply.wait").as_deref(), Some("unchanged"));
    world.assert_converged();
}

#[test]
fn a_pause_past_its_bound_or_with_a_prompt_is_a_check_error() {
    let world = World::new(
        "apply:\n  - {id: long, type: pause, minutes: 16}\n  - {id: asks, type: pause, prompt: \"go on?\"}\n",
    );
    let run = check(&world);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("a pause waits at most 15 minutes"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("runs are not interactive"),
        "{}",
        run.all()
    );
}

#[test]
fn sigterm_ends_a_pause() {
    let world = World::new("apply:\n  - {id: long-wait, type: pause, seconds: 30}\n");
    let (path, _) = world.plan();
    let child = common::driftless_command(world.temp.path())
        .env("DRIFTLESS_STATE_DIR", world.state_dir())
        .arg("--env-file")
        .arg(&world.env_file)
        .arg("execute")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn driftless execute");
    // The run holds its lock while it waits: once the lock file is there, the wait is on.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // SAFETY: kill(2) on the pid of our own child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let output = child.wait_with_output().expect("wait for driftless");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the wait was cut short"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("failed     apply.long-wait: interrupted"),
        "{stdout}"
    );
}
