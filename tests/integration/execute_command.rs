//! `command`, `shell` and `script`: a command without a guard runs every time and the plan
//! says so; guards (`creates`, `removes`, `unless`, `onlyif`) make it `no-op` at plan time and
//! a changed guard makes the plan stale; `changed_when`/`failed_when`; the timeout kills the
//! command and everything it started; the output is in the run report, hidden when the task
//! is given a secret; stdin, chdir, env and user; a dry run runs nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, World};
use crate::sandbox::Sandbox;

/// The node of the last run report for `address`.
fn reported(world: &World, address: &str) -> Value {
    let reports = world.reports();
    let last = reports.last().expect("a run report");
    last["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["address"] == address)
        .unwrap_or_else(|| panic!("{address} not in the report: {last:#}"))
        .clone()
}

fn show(world: &World, plan: &Path) -> String {
    let run = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

#[test]
fn a_command_without_a_guard_runs_every_time_and_the_plan_says_so() {
    let world = World::new(
        r#"
apply:
  - id: count
    type: shell
    cmd: "echo run >> {{ root }}/count; echo counted"
"#,
    );
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.count"), "run");
    assert_eq!(plan["summary"]["run"], 1);
    let shown = show(&world, &path);
    assert!(
        shown.contains("runs every time: no creates/removes/unless/onlyif"),
        "{shown}"
    );
    for _ in 0..2 {
        let run = world.apply();
        assert_eq!(run.status_of("apply.count").as_deref(), Some("changed"));
    }
    assert_eq!(common::read(&world.path("count")), "run\nrun\n");
    let output = &reported(&world, "apply.count")["output"];
    assert_eq!(output["rc"], 0);
    assert_eq!(output["stdout"], "counted\n");
    assert_eq!(output["stderr"], "");
    assert_eq!(output["truncated"], false);
}

#[test]
fn a_command_line_is_split_into_words_and_never_run_by_a_shell() {
    let world = World::new(
        r#"
apply:
  - id: literal
    type: command
    cmd: "echo hi; touch {{ root }}/pwned && $(id) 'a  b' \"c d\""
"#,
    );
    world.apply();
    assert!(
        !world.path("pwned").exists(),
        "a shell ran the command line"
    );
    let stdout = &reported(&world, "apply.literal")["output"]["stdout"];
    let expected = format!(
        "hi; touch {}/pwned && $(id) a  b c d\n",
        world.root.display()
    );
    assert_eq!(stdout, expected.as_str());
}

#[test]
fn creates_makes_the_command_a_no_op_once_its_path_exists_and_show_says_why() {
    let world = World::new(
        r#"
apply:
  - id: install
    type: shell
    cmd: "echo installed > {{ root }}/.installed"
    creates: "{{ root }}/.installed"
"#,
    );
    world.step("apply.install", "run");
    // Second apply: nothing runs.
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.install"), "no-op");
    let shown = show(&world, &path);
    let why = format!(
        "skipped: {}/.installed exists (creates)",
        world.root.display()
    );
    assert!(shown.contains(&why), "{shown}");
    let run = world.apply();
    assert_eq!(run.status_of("apply.install").as_deref(), Some("unchanged"));
    assert_eq!(common::read(&world.path(".installed")), "installed\n");
}

#[test]
fn removes_runs_the_command_only_while_its_path_exists() {
    let world = World::new(
        r#"
apply:
  - id: cleanup
    type: command
    argv: [rm, "{{ root }}/old"]
    removes: "{{ root }}/old"
"#,
    );
    assert_eq!(world.planned_action("apply.cleanup"), "no-op");
    common::write(&world.path("old"), b"x");
    world.step("apply.cleanup", "run");
    assert!(!world.path("old").exists());
}

#[test]
fn unless_and_onlyif_run_at_plan_time_and_decide_the_action() {
    let world = World::new(
        r#"
apply:
  - id: once
    type: command
    argv: [touch, "{{ root }}/once"]
    unless: "test -f {{ root }}/once"
  - id: if-ready
    type: command
    argv: [touch, "{{ root }}/went"]
    onlyif: "test -f {{ root }}/ready"
  - id: counted-guard
    type: shell
    cmd: "true"
    unless: "echo guard >> {{ root }}/guard-ran; exit 1"
"#,
    );
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.once"), "run");
    assert_eq!(common::action(&plan, "apply.if-ready"), "no-op");
    // The plan ran the `unless` command (in the shell of a `shell` task).
    assert_eq!(common::read(&world.path("guard-ran")), "guard\n");
    let guard = &common::node(&plan, "apply.once")["before"]["guards"][0];
    assert_eq!(guard["guard"], "unless");
    assert_eq!(guard["seen"], "exit 1");
    assert_eq!(guard["skips"], false);
    world.apply();
    assert!(world.path("once").exists());
    assert!(!world.path("went").exists());
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.once"), "no-op");
    common::write(&world.path("ready"), b"");
    assert_eq!(world.planned_action("apply.if-ready"), "run");
}

#[test]
fn a_guard_path_made_by_an_earlier_task_is_evaluated_when_the_command_runs() {
    let world = World::new(
        r#"
apply:
  - id: marker
    type: file
    path: "{{ root }}/app/.installed"
    content: "by a file task\n"
  - id: install
    type: shell
    cmd: "echo ran > {{ root }}/ran"
    creates: "{{ root }}/app/.installed"
"#,
    );
    std::fs::create_dir(world.path("app")).expect("mkdir");
    let (path, plan) = world.plan();
    let node = common::node(&plan, "apply.install");
    // Planned as `run`, after the task making the path, the guard left to the run.
    assert_eq!(node["action"], "run");
    assert!(
        node["depends_on"]
            .as_array()
            .expect("depends_on")
            .iter()
            .any(|d| d["address"] == "apply.marker" && d["reason"] == "command path"),
        "{node:#}"
    );
    assert_eq!(node["before"]["guards"][0]["skips"], Value::Null);
    assert!(show(&world, &path).contains("evaluated when the node runs"));
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.install").as_deref(), Some("unchanged"));
    assert!(!world.path("ran").exists());
    world.assert_converged();
}

#[test]
fn a_guard_that_changed_since_the_plan_makes_it_stale() {
    let world = World::new(
        r#"
apply:
  - id: install
    type: shell
    cmd: "echo ran > {{ root }}/ran"
    creates: "{{ root }}/.installed"
"#,
    );
    let (path, _) = world.plan();
    common::write(&world.path(".installed"), b"");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("apply.install"), "{}", run.all());
    assert!(
        run.all().contains("absent at plan time, exists now"),
        "{}",
        run.all()
    );
    assert!(!world.path("ran").exists());
}

#[test]
fn changed_when_and_failed_when_judge_the_result() {
    let world = World::new(
        r#"
apply:
  - id: look
    type: command
    argv: ["true"]
    changed_when: false
  - id: exit-two-is-a-change
    type: shell
    cmd: "echo two; exit 2"
    changed_when: "rc == 2"
    failed_when: "rc not in [0, 2]"
  - id: boom
    type: shell
    cmd: "echo boom; echo doom >&2"
    failed_when: "'boom' in stdout"
  - id: exit-three
    type: shell
    cmd: "echo why >&2; exit 3"
"#,
    );
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(run.status_of("apply.look").as_deref(), Some("unchanged"));
    assert_eq!(
        run.status_of("apply.exit-two-is-a-change").as_deref(),
        Some("changed")
    );
    assert_eq!(run.status_of("apply.boom").as_deref(), Some("failed"));
    assert_eq!(run.status_of("apply.exit-three").as_deref(), Some("failed"));
    let boom = reported(&world, "apply.boom");
    assert_eq!(boom["output"]["stdout"], "boom\n");
    assert_eq!(boom["output"]["stderr"], "doom\n");
    let three = reported(&world, "apply.exit-three");
    assert_eq!(three["output"]["rc"], 3);
    assert!(
        three["reason"].as_str().expect("reason").contains("exit 3"),
        "{three:#}"
    );
    assert_eq!(reported(&world, "apply.look")["output"]["rc"], 0);
}

#[test]
fn the_timeout_kills_the_command_and_every_process_it_started() {
    let world = World::new(
        r#"
apply:
  - id: hang
    type: shell
    cmd: "(setsid sh -c 'echo $$ > {{ root }}/escaped; exec sleep 300' &); sleep 300"
    timeout: 1s
"#,
    );
    let started = Instant::now();
    let run = world.run(&["apply"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.status_of("apply.hang").as_deref(),
        Some("failed"),
        "{}",
        run.all()
    );
    let node = reported(&world, "apply.hang");
    assert!(
        node["reason"]
            .as_str()
            .expect("reason")
            .contains("did not finish within 1s")
    );
    assert_eq!(node["output"]["timed_out"], true);
    // The process that left the command's session is gone too.
    let pid = common::read(&world.path("escaped"));
    let proc_dir = format!("/proc/{}", pid.trim());
    let gone_by = Instant::now() + Duration::from_secs(5);
    while Path::new(&proc_dir).exists() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!Path::new(&proc_dir).exists(), "{proc_dir} still runs");
}

#[test]
fn stdin_chdir_and_env_reach_the_command() {
    let world = World::new(
        r#"
apply:
  - id: input
    type: command
    cmd: cat
    stdin: "given on stdin\n"
  - id: where
    type: command
    cmd: pwd
    chdir: "{{ root }}"
  - id: env
    type: command
    argv: [sh, -c, 'echo "$GREETING|$HOME"']
    env:
      GREETING: hello there
"#,
    );
    world.apply();
    let stdout = |address: &str| reported(&world, address)["output"]["stdout"].clone();
    assert_eq!(stdout("apply.input"), "given on stdin\n");
    assert_eq!(
        stdout("apply.where"),
        format!("{}\n", world.root.display()).as_str()
    );
    // Nothing else is inherited: not even HOME.
    assert_eq!(stdout("apply.env"), "hello there|\n");
}

#[test]
fn a_script_of_the_config_dir_runs_with_its_args_and_show_prints_it() {
    let world = World::new(
        r#"
apply:
  - id: setup
    type: script
    src: files/setup.sh
    args: [one, "two words"]
"#,
    );
    world.config_file("files/setup.sh", "#!/bin/sh\necho \"setup $1|$2\"\n");
    let (path, _) = world.plan();
    let shown = show(&world, &path);
    assert!(shown.contains("echo \"setup $1|$2\""), "{shown}");
    // What runs is what the plan holds, whatever the file holds by then.
    world.config_file("files/setup.sh", "#!/bin/sh\necho changed\n");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let stdout = &reported(&world, "apply.setup")["output"]["stdout"];
    assert_eq!(stdout, "setup one|two words\n");
}

const SECRET: &str = "cmd-s3cr3t-5b0e7d21c9";

#[test]
fn the_output_of_a_command_given_a_secret_is_hidden_everywhere() {
    let mut world = World::new(
        r#"
apply:
  - id: with-token
    type: command
    argv: [sh, -c, 'echo "token=$TOKEN"; echo "$TOKEN" >&2']
    env:
      TOKEN: "{{ secrets.CMD_TOKEN }}"
  - id: token-on-stdin
    type: command
    cmd: cat
    stdin: "{{ secrets.CMD_TOKEN }}"
  - id: token-argument
    type: command
    argv: [test, "{{ secrets.CMD_TOKEN }}", "=", "{{ secrets.CMD_TOKEN }}"]
"#,
    );
    world.envs.push(("CMD_TOKEN".to_owned(), SECRET.to_owned()));
    let clean = |what: &str, text: &str| {
        assert!(
            !text.contains(SECRET),
            "the secret appears in {what}:\n{text}"
        );
    };
    let plan_run = world.run(&["plan"]);
    assert_eq!(plan_run.code, 0, "{}", plan_run.all());
    clean("plan", &plan_run.all());
    let path = world.temp.path().join("plan.json");
    common::write(&path, plan_run.stdout.as_bytes());
    let plan = plan_run.json();
    let node = common::node(&plan, "apply.with-token");
    assert_eq!(node["after"]["env"]["TOKEN"], "(sensitive)");
    assert_eq!(node["after_sensitive"]["env"]["TOKEN"], true);
    clean("show", &show(&world, &path));
    clean("apply --dry-run", &world.run(&["apply", "--dry-run"]).all());
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    clean("execute", &run.all());
    for address in [
        "apply.with-token",
        "apply.token-on-stdin",
        "apply.token-argument",
    ] {
        let node = reported(&world, address);
        assert_eq!(node["status"], "changed", "{node:#}");
        assert_eq!(node["output"]["stdout"], "(sensitive)");
        assert_eq!(node["output"]["stderr"], "(sensitive)");
    }
    for report in world.reports() {
        clean("the run report", &report.to_string());
    }
    for (name, content) in common::tree(world.temp.path()) {
        if !name.ends_with("env") {
            clean(&name, &content);
        }
    }
}

#[test]
fn a_dry_run_runs_no_command() {
    let world = World::new(
        r#"
apply:
  - id: make
    type: command
    argv: [touch, "{{ root }}/made"]
  - id: guarded
    type: shell
    cmd: "touch {{ root }}/guarded"
    creates: "{{ root }}/never"
"#,
    );
    let run = world.run(&["apply", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!world.path("made").exists());
    assert!(!world.path("guarded").exists());
    assert!(world.reports().is_empty());
}

#[test]
fn a_command_runs_as_its_user_with_the_users_home_in_a_sandbox() {
    let sandbox = Sandbox::new();
    let world = World::in_sandbox(
        r#"
apply:
  - id: whoami
    type: shell
    cmd: 'echo "$(id -un) $HOME $USER"; touch /tmp/made-by-nobody'
    user: nobody
    creates: /tmp/made-by-nobody
"#,
        &sandbox,
    );
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.whoami").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        reported(&world, "apply.whoami")["output"]["stdout"],
        "nobody /nonexistent nobody\n"
    );
    let owner = sandbox.sh_ok("stat -c %U /tmp/made-by-nobody");
    assert_eq!(owner, "nobody\n");
    // Guarded: the second apply changes nothing.
    world.assert_converged();
}

#[test]
fn a_missing_user_or_directory_fails_the_plan_unless_a_task_makes_it() {
    let world = World::new(
        r#"
apply:
  - id: as-ghost
    type: command
    cmd: "true"
    user: no-such-user-here
"#,
    );
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("no user `no-such-user-here`"),
        "{}",
        run.all()
    );
    world.set_config(
        r#"
apply:
  - id: dir
    type: directory
    path: "{{ root }}/work"
  - id: in-dir
    type: command
    cmd: pwd
    chdir: "{{ root }}/work"
"#,
    );
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.in-dir");
    assert_eq!(node["depends_on"][0]["reason"], "command path", "{node:#}");
    world.apply();
    let stdout = &reported(&world, "apply.in-dir")["output"]["stdout"];
    assert_eq!(stdout, format!("{}/work\n", world.root.display()).as_str());
}

#[test]
fn a_command_handler_runs_only_when_a_task_it_is_notified_by_changed() {
    let world = World::new(
        r#"
apply:
  - id: conf
    type: file
    path: "{{ root }}/app.conf"
    content: "v1\n"
    notify: [reload]
  - id: reload
    type: shell
    cmd: "echo reloaded >> {{ root }}/reloads"
"#,
    );
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.reload").as_deref(),
        Some("skipped"),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&world.path("reloads")), "reloaded\n");
}

#[test]
fn an_unless_command_that_answers_otherwise_at_execute_time_makes_the_plan_stale() {
    let world = World::new(
        r#"
apply:
  - id: once
    type: command
    argv: [touch, "{{ root }}/once"]
    unless: "test -f {{ root }}/flag"
"#,
    );
    let (path, _) = world.plan();
    common::write(&world.path("flag"), b"");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("saw exit 1 at plan time, exit 0 now"),
        "{}",
        run.all()
    );
    assert!(!world.path("once").exists());
}

#[test]
fn the_report_keeps_64_kib_of_each_stream_and_says_it_cut_it() {
    let world = World::new(
        r#"
apply:
  - id: loud
    type: command
    argv: [head, -c, "100000", /dev/zero]
"#,
    );
    world.apply();
    let output = &reported(&world, "apply.loud")["output"];
    assert_eq!(output["stdout"].as_str().expect("stdout").len(), 64 << 10);
    assert_eq!(output["truncated"], true);
}
