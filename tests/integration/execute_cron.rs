//! `cron` with Debian's real `crontab` (from `scripts/install-test-deps`, copied into each
//! throwaway root [`HeldRoot`]): entries of a user's crontab (`crontab -l -u`, `crontab -u`)
//! and of `/etc/cron.d` files — create, update, remove, no-op, a second apply that changes
//! nothing, dry runs and stale plans.

use crate::common;
use crate::held_root::HeldRoot;

/// A root with `crontab` and its spool directory, and the world of `config` in it.
fn root(config: &str) -> HeldRoot {
    let deps = crate::deps::test_deps(&["root/usr/bin/crontab"]);
    let root = HeldRoot::new(config);
    root.sh_ok(&format!(
        "cp {} /usr/bin/crontab && mkdir -p -m 1730 /var/spool/cron/crontabs",
        deps.join("root/usr/bin/crontab").display()
    ));
    root
}

fn crontab(root: &HeldRoot, user: &str) -> String {
    root.sh_ok(&format!("crontab -l -u {user} 2>/dev/null || true"))
}

fn cron(id: &str, fields: &str) -> String {
    format!("  - {{id: {id}, type: cron, {fields}}}\n")
}

#[test]
fn crontab_entries_are_created_updated_removed_and_left_alone() {
    let config = format!(
        "apply:\n{}{}",
        cron("path", "name: PATH, env: true, job: /usr/bin:/bin"),
        cron(
            "backup",
            "name: nightly backup, hour: 2, minute: 30, job: /usr/local/bin/backup"
        )
    );
    let root = root(&config);
    let world = &root.world;

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("+30 2 * * * /usr/local/bin/backup"),
        "{}",
        dry.all()
    );
    assert_eq!(crontab(&root, "root"), "");

    let (plan_path, plan) = world.plan();
    let first = common::node(&plan, "apply.path");
    assert_eq!(first["action"], "create", "{first:#}");
    assert_eq!(first["before"]["exists"], false);
    let second = common::node(&plan, "apply.backup");
    // The crontab the first entry makes is there when the second runs.
    assert_eq!(second["action"], "update", "{second:#}");
    assert_eq!(second["precondition"], "chained");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        crontab(&root, "root"),
        "# driftless: PATH\nPATH=/usr/bin:/bin\n# driftless: nightly backup\n30 2 * * * /usr/local/bin/backup\n"
    );
    world.assert_converged();

    // A line of the user's own stays; the entry is updated in place, then removed.
    root.sh_ok("(crontab -l; echo '@reboot /usr/bin/true') | crontab -");
    world.set_config(&format!(
        "apply:\n{}",
        cron("backup", "name: nightly backup, special_time: daily, job: /usr/local/bin/backup --all, disabled: true")
    ));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.backup");
    assert_eq!(node["action"], "update");
    assert!(
        node["diff"].as_str().is_some_and(|d| d
            .contains("-30 2 * * * /usr/local/bin/backup\n+#@daily /usr/local/bin/backup --all")),
        "{node:#}"
    );
    world.apply();
    assert!(crontab(&root, "root").contains(
        "# driftless: nightly backup\n#@daily /usr/local/bin/backup --all\n@reboot /usr/bin/true\n"
    ));
    world.assert_converged();

    world.set_config(&format!(
        "apply:\n{}",
        cron("backup", "name: nightly backup, state: absent")
    ));
    world.apply();
    assert_eq!(
        crontab(&root, "root"),
        "# driftless: PATH\nPATH=/usr/bin:/bin\n@reboot /usr/bin/true\n"
    );
    world.assert_converged();
}

#[test]
fn a_crontab_changed_since_the_plan_is_refused() {
    let root = root(&format!(
        "apply:\n{}",
        cron("job", "name: job, job: /bin/true")
    ));
    let world = &root.world;
    let (plan_path, _) = world.plan();
    root.sh_ok("echo '@reboot /bin/false' | crontab -");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.job") && run.stderr.contains("the crontab of root changed"),
        "{}",
        run.all()
    );
    assert_eq!(crontab(&root, "root"), "@reboot /bin/false\n");
}

#[test]
fn cron_d_entries_are_file_edits_with_the_user_column() {
    let config = format!(
        "apply:\n{}{}",
        cron(
            "a",
            "name: a, cron_file: jobs, user: nobody, minute: \"*/5\", job: /bin/a"
        ),
        cron(
            "b",
            "name: b, cron_file: jobs, weekday: mon-fri, hour: 6, minute: 0, job: /bin/b"
        )
    );
    let root = root(&config);
    let world = &root.world;
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(root.file("/etc/cron.d/jobs"), None);

    let (plan_path, plan) = world.plan();
    let b = common::node(&plan, "apply.b");
    assert_eq!(b["precondition"], "chained");
    assert_eq!(b["after"]["path"], "/etc/cron.d/jobs");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        root.file("/etc/cron.d/jobs").as_deref(),
        Some(
            "# driftless: a\n*/5 * * * * nobody /bin/a\n# driftless: b\n0 6 * * mon-fri root /bin/b\n"
        )
    );
    world.assert_converged();

    world.set_config(&format!(
        "apply:\n{}{}",
        cron("a", "name: a, cron_file: jobs, state: absent"),
        cron(
            "b",
            "name: b, cron_file: jobs, weekday: mon-fri, hour: 7, minute: 0, job: /bin/b"
        )
    ));
    world.apply();
    assert_eq!(
        root.file("/etc/cron.d/jobs").as_deref(),
        Some("# driftless: b\n0 7 * * mon-fri root /bin/b\n")
    );
    world.assert_converged();

    // Stale: the file changed since the plan.
    world.set_config(&format!(
        "apply:\n{}",
        cron(
            "b",
            "name: b, cron_file: jobs, hour: 8, minute: 0, job: /bin/b"
        )
    ));
    let (plan_path, _) = world.plan();
    root.sh_ok("echo '# mine' >> /etc/cron.d/jobs");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.b"), "{}", run.all());
}

#[test]
fn a_job_from_a_secret_is_written_but_never_shown() {
    const SECRET: &str = "s3cr3t-cron-token-4412";
    let config = "apply:\n  - id: token\n    type: cron\n    name: token\n    job: \"fetch --token {{ secrets.TOKEN }}\"\n  - id: other\n    type: cron\n    name: other\n    job: /bin/true\n";
    let mut root = root(config);
    root.world
        .envs
        .push(("TOKEN".to_owned(), SECRET.to_owned()));
    let world = &root.world;
    let (plan_path, plan) = world.plan();
    assert!(!plan.to_string().contains(SECRET), "{plan:#}");
    // The other entry of the same crontab would show it in its diff: sensitive too.
    for address in ["apply.token", "apply.other"] {
        let node = common::node(&plan, address);
        assert_ne!(node["after_sensitive"], false, "{node:#}");
        assert_eq!(node["after"]["content"], "(sensitive)", "{node:#}");
    }
    let show = world.run(&["show", plan_path.to_str().expect("utf-8 path")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert!(!show.all().contains(SECRET), "{}", show.all());
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains(SECRET), "{}", run.all());
    assert_eq!(
        crontab(&root, "root"),
        format!(
            "# driftless: token\n* * * * * fetch --token {SECRET}\n# driftless: other\n* * * * * /bin/true\n"
        )
    );
    for report in world.reports() {
        assert!(!report.to_string().contains(SECRET), "{report:#}");
    }
    let (_, again) = world.plan();
    for address in ["apply.token", "apply.other"] {
        assert_eq!(common::action(&again, address), "no-op", "{again:#}");
    }
}
