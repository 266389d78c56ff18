//! `plan` and `apply --dry-run`: read-only, JSON only on stdout, deterministic, and their exit
//! codes.

use crate::common::{self, World, tree};

#[test]
fn plan_stdout_is_only_json_and_summary_is_on_stderr() {
    let world = World::all_types();
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    assert_eq!(plan["format_version"], "1.6");
    assert!(
        run.stderr.contains("Plan: 7 to create, 1 to update"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains("Plan:"));
}

#[test]
fn plan_leaves_the_tree_byte_identical() {
    let world = World::all_types();
    world.apply();
    // Some drift, so the plan has changes to compute.
    common::write(&world.path("d/file"), b"drifted\n");
    common::set_mode(&world.path("d/copied"), 0o644);
    std::fs::remove_file(world.path("d/current")).expect("rm link");
    let before = tree(&world.root);
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(before, tree(&world.root));
}

#[test]
fn plan_of_an_empty_root_leaves_it_empty() {
    let world = World::all_types();
    let before = tree(&world.root);
    assert_eq!(world.run(&["plan"]).code, 0);
    assert_eq!(before, tree(&world.root));
}

#[test]
fn dry_run_shows_diffs_and_leaves_the_tree_byte_identical() {
    let world = World::all_types();
    world.apply();
    common::write(&world.path("d/file"), b"drifted\n");
    common::write(&world.path("d/lines"), b"key = old\n");
    let before = tree(&world.root);
    let run = world.run(&["apply", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("-drifted"), "{}", run.all());
    assert!(run.stdout.contains("+hello world"), "{}", run.all());
    assert!(run.stdout.contains("+key = value"), "{}", run.all());
    assert_eq!(before, tree(&world.root));
    assert!(world.reports().len() == 1, "a dry run writes no run report");
}

#[test]
fn two_plans_of_the_same_state_differ_only_in_created_at() {
    let world = World::all_types();
    world.apply();
    let first = world.run(&["plan"]);
    let second = world.run(&["plan"]);
    let strip = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("\"created_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&first.stdout), strip(&second.stdout));
    assert_eq!(first.json()["digest"], second.json()["digest"]);
}

#[test]
fn two_plans_of_a_fresh_root_are_identical() {
    let world = World::all_types();
    let first = world.run(&["plan"]).json();
    let second = world.run(&["plan"]).json();
    let without_time = |mut v: serde_json::Value| {
        v.as_object_mut().expect("object").remove("created_at");
        v
    };
    assert_eq!(without_time(first), without_time(second));
}

#[test]
fn plan_detailed_exitcode() {
    let world = World::all_types();
    assert_eq!(world.run(&["plan", "--detailed-exitcode"]).code, 2);
    assert_eq!(world.run(&["plan"]).code, 0);
    world.apply();
    assert_eq!(world.run(&["plan", "--detailed-exitcode"]).code, 0);
    world.set_config("apply:\n  - {id: x, type: file, path: relative}\n");
    assert_eq!(world.run(&["plan", "--detailed-exitcode"]).code, 1);
}

#[test]
fn apply_detailed_exitcode() {
    let world = World::all_types();
    assert_eq!(
        world
            .run(&["apply", "--dry-run", "--detailed-exitcode"])
            .code,
        2
    );
    assert_eq!(world.run(&["apply", "--detailed-exitcode"]).code, 2);
    assert_eq!(world.run(&["apply", "--detailed-exitcode"]).code, 0);
    assert_eq!(
        world
            .run(&["apply", "--dry-run", "--detailed-exitcode"])
            .code,
        0
    );
    // A node that fails at execute: 1.
    world.set_config(
        "apply:\n  - {id: x, type: file, path: \"{{ root }}/d/file/under-a-file\", content: x}\n",
    );
    let run = world.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(run.code, 1, "{}", run.all());
}

#[test]
fn execute_detailed_exitcode() {
    let world = World::all_types();
    let (plan, _) = world.plan();
    assert_eq!(world.execute(&plan, &["--detailed-exitcode"]).code, 2);
    let (plan, _) = world.plan();
    assert_eq!(world.execute(&plan, &["--detailed-exitcode"]).code, 0);
    // Without the flag, changes exit 0 too.
    common::write(&world.path("d/file"), b"drifted\n");
    let (plan, _) = world.plan();
    assert_eq!(world.execute(&plan, &[]).code, 0);
    // A refused plan: 1.
    common::write(&world.path("d/file"), b"drifted\n");
    let (plan, _) = world.plan();
    common::write(&world.path("d/file"), b"drifted again\n");
    assert_eq!(world.execute(&plan, &["--detailed-exitcode"]).code, 1);
}

/// Every stage before `execute` only reads: `check`, `plan` and `apply --dry-run` run no
/// collector command and leave no process behind; `execute` does run it, and kills the
/// process it left in the background when it exits.
#[test]
fn check_plan_and_dry_run_start_no_process() {
    let marker = format!("driftless-no-process-{}", std::process::id());
    let world = World::new(&format!(
        r#"
apply:
  - {{id: f, type: file, path: "{{{{ root }}}}/f", content: "x\n"}}
facts:
  - id: probe
    type: command
    command: [sh, -c, 'touch "$1"/ran; sh -c "sleep 3" "$0" >/dev/null 2>&1 & echo 1', "{marker}", "{{{{ root }}}}"]
"#
    ));
    let running = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&marker))
            .collect()
    };
    for command in [&["check"][..], &["plan"][..], &["apply", "--dry-run"][..]] {
        let run = world.run(command);
        assert_eq!(run.code, 0, "{command:?}: {}", run.all());
        assert!(!world.path("ran").exists(), "{command:?} ran the collector");
        assert!(running().is_empty(), "{command:?} left {:?}", running());
    }
    assert!(!world.path("f").exists());
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(world.path("ran").exists(), "execute runs the collector");
    // A collector's processes end with its run, the background one included.
    assert!(running().is_empty(), "execute left {:?}", running());
    // The control for the process check: a process with the marker is found.
    let mut control = std::process::Command::new("sh")
        .args(["-c", "sleep 3", &marker])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the control process");
    // Until it has exec'd, its command line is this test's.
    let found = (0..100)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            running()
        })
        .find(|found| !found.is_empty())
        .unwrap_or_default();
    let _ = control.kill();
    let _ = control.wait();
    assert!(!found.is_empty(), "the marker finds a running process");
}

/// Errors found while observing the host name the task's place, and all come in one run.
#[test]
fn planning_errors_carry_the_tasks_place_and_are_all_reported() {
    let world = World::new(
        r#"apply:
  - type: file
    path: "{{ root }}/a"
    owner: no-such-user-here
  - type: directory
    path: "{{ root }}/plain-file"
"#,
    );
    std::fs::write(world.path("plain-file"), "x").expect("write");
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 2, "{}", run.all());
    assert!(
        errors[0].starts_with("error: main.yaml:6:5: apply.file:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("no user `no-such-user-here`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("error: main.yaml:9:5: apply.directory:"),
        "{}",
        errors[1]
    );
}
