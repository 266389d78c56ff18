//! `validate` and `backup` on the file-writing types, on the real binary: a rejected content
//! keeps the old file and fails the node with the command's output; an accepted one is
//! written; a backup is kept once per change and never by a run that changes nothing.

use crate::common::{World, read, write};

fn config(content: &str) -> String {
    format!(
        r#"
apply:
  - id: conf
    name: App config
    type: copy
    dest: "{{{{ root }}}}/app.conf"
    content: "{content}\n"
    validate: "/bin/sh {{{{ root }}}}/check.sh %s"
    backup: true
  - id: hosts-line
    type: lineinfile
    path: "{{{{ root }}}}/hosts"
    line: "10.0.0.1 {content}"
    regexp: "^10.0.0.1 "
    create: true
    backup: true
"#
    )
}

/// The world, with the validator its config names: accepts a file whose first line starts
/// with `valid`.
fn world(content: &str) -> World {
    let world = World::new(&config(content));
    write(
        &world.path("check.sh"),
        b"grep -q '^valid' \"$1\" || { echo 'line 1: not valid' >&2; exit 3; }\n",
    );
    world
}

/// The backups of `name` in the world's root, sorted.
fn backups(world: &World, name: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(world.path(""))
        .expect("read root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}.")) && n.ends_with('~'))
        .collect();
    found.sort();
    found
}

#[test]
fn rejected_content_keeps_the_old_file_and_fails_the_node() {
    let world = world("broken");
    write(&world.path("app.conf"), b"valid old\n");
    write(&world.path("hosts"), b"127.0.0.1 localhost\n");
    let run = world.run(&["apply", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(read(&world.path("app.conf")), "valid old\n");
    assert!(
        backups(&world, "app.conf").is_empty(),
        "no backup without a write"
    );
    let line = (run.stdout.lines())
        .find(|l| l.contains("\"apply.conf\""))
        .expect("a line for apply.conf");
    let outcome: serde_json::Value = serde_json::from_str(line).expect("json line");
    assert_eq!(outcome["status"], "failed");
    let reason = outcome["reason"].as_str().expect("reason");
    assert!(
        reason.contains("exited with 3: line 1: not valid"),
        "{reason}"
    );
    assert!(reason.contains("was not changed"), "{reason}");
    assert_eq!(outcome["output"]["rc"], 3);
    // The other node is independent: it went on.
    assert_eq!(
        read(&world.path("hosts")),
        "127.0.0.1 localhost\n10.0.0.1 broken\n"
    );
}

#[test]
fn accepted_content_is_written_with_one_backup_per_change() {
    let world = world("valid v1");
    write(&world.path("app.conf"), b"valid old\n");
    let run = world.apply();
    assert_eq!(run.status_of("apply.conf").as_deref(), Some("changed"));
    assert_eq!(read(&world.path("app.conf")), "valid v1\n");
    let kept = backups(&world, "app.conf");
    assert_eq!(kept.len(), 1, "{kept:?}");
    // Ansible's naming: <name>.<pid>.<YYYY-MM-DD@HH:MM:SS>~
    let suffix = kept[0].strip_prefix("app.conf.").expect("prefix");
    let (pid, time) = suffix.split_once('.').expect("pid.time");
    assert!(pid.chars().all(|c| c.is_ascii_digit()), "{suffix}");
    assert_eq!(time.len(), "2026-12-06@16:02:36~".len(), "{suffix}");
    assert_eq!(&time[10..11], "@", "{suffix}");
    assert_eq!(read(&world.path(&kept[0])), "valid old\n");
    // The new file was created by the lineinfile: nothing to back up.
    assert!(backups(&world, "hosts").is_empty());

    // Nothing changes: no backup.
    let run = world.apply();
    assert_eq!(run.status_of("apply.conf").as_deref(), Some("unchanged"));
    assert_eq!(backups(&world, "app.conf").len(), 1);
    world.assert_converged();

    // A new change: a second backup, of the content the first change wrote.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    world.set_config(&config("valid v2"));
    world.apply();
    let kept = backups(&world, "app.conf");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(read(&world.path(&kept[1])), "valid v1\n");
    assert_eq!(read(&world.path("app.conf")), "valid v2\n");
    let hosts = backups(&world, "hosts");
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    assert_eq!(read(&world.path(&hosts[0])), "10.0.0.1 valid v1\n");
}

#[test]
fn show_says_what_runs_around_the_write() {
    let world = world("valid v1");
    write(&world.path("app.conf"), b"valid old\n");
    let (plan, json) = world.plan();
    let after = &crate::common::node(&json, "apply.conf")["after"];
    assert_eq!(after["backup"], true);
    assert_eq!(after["validate"][0], "/bin/sh");
    assert_eq!(after["validate"][2], "%s");
    let shown = world.run(&["show", plan.to_str().expect("utf-8")]);
    assert!(
        shown.stdout.contains("validate: `/bin/sh "),
        "{}",
        shown.all()
    );
    assert!(
        shown.stdout.contains(".<pid>.<YYYY-MM-DD@HH:MM:SS>~"),
        "{}",
        shown.all()
    );
}

#[test]
fn a_rejected_secret_is_not_quoted_from_the_validate_output() {
    const SECRET: &str = "PLANTED-validate-secret-4242";
    let mut world = World::new(
        r#"
apply:
  - id: secret-conf
    type: copy
    dest: "{{ root }}/secret.conf"
    content: "password={{ secrets.APP_PASSWORD }}\n"
    validate: "/bin/sh {{ root }}/echo-and-fail.sh %s"
"#,
    );
    world
        .envs
        .push(("APP_PASSWORD".to_owned(), SECRET.to_owned()));
    // A validator that prints the file it rejects, as `sshd -t` quotes a bad line.
    write(&world.path("echo-and-fail.sh"), b"cat \"$1\" >&2; exit 1\n");
    write(&world.path("secret.conf"), b"password=old\n");
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("the validate command rejected"),
        "{}",
        run.all()
    );
    assert_eq!(read(&world.path("secret.conf")), "password=old\n");
    assert!(!run.all().contains(SECRET), "{}", run.all());
    for report in world.reports() {
        assert!(!report.to_string().contains(SECRET), "{report}");
    }
}
