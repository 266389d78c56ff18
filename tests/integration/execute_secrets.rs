//! Secrets: a planted value appears in no plan, output or run report, yet `execute` writes it
//! (re-rendered at execute time); a sensitive plan is refused when the config changed.

use crate::common::{self, World, read, tree};
use sha2::{Digest, Sha256};

const SECRET: &str = "s3cr3t-e2e-91c4a7f2d0";

const CONFIG: &str = r#"
apply:
  - id: password-file
    type: file
    path: "{{ root }}/password"
    content: "password={{ secrets.DB_PASSWORD }}\n"
    mode: "0600"
  - id: token-line
    type: lineinfile
    path: "{{ root }}/app.conf"
    regexp: "^token="
    line: "token={{ secrets.DB_PASSWORD }}"
    create: true
  - id: plain
    type: file
    path: "{{ root }}/plain"
    content: "nothing secret\n"
"#;

fn world() -> World {
    let mut world = World::new(CONFIG);
    world
        .envs
        .push(("DB_PASSWORD".to_owned(), SECRET.to_owned()));
    world
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "the secret appears in {what}:\n{text}"
    );
    for leak in [
        hex(format!("password={SECRET}\n").as_bytes()),
        hex(format!("token={SECRET}\n").as_bytes()),
    ] {
        assert!(
            !text.contains(&leak),
            "a hash of the secret appears in {what}"
        );
    }
}

#[test]
fn secret_is_in_no_output_but_in_the_files() {
    let world = world();
    let plan_run = world.run(&["plan"]);
    assert_eq!(plan_run.code, 0, "{}", plan_run.all());
    assert_clean("plan stdout and stderr", &plan_run.all());
    let plan = plan_run.json();
    assert_eq!(
        common::node(&plan, "apply.password-file")["after"]["content"],
        "(sensitive)"
    );
    let path = world.temp.path().join("plan.json");
    common::write(&path, plan_run.stdout.as_bytes());
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    assert_eq!(show.code, 0, "{}", show.all());
    assert_clean("show", &show.all());
    let dry = world.run(&["apply", "--dry-run"]);
    assert_clean("apply --dry-run", &dry.all());
    let executed = world.execute(&path, &[]);
    assert_eq!(executed.code, 0, "{}", executed.all());
    assert_clean("execute", &executed.all());
    assert_eq!(
        read(&world.path("password")),
        format!("password={SECRET}\n")
    );
    assert_eq!(read(&world.path("app.conf")), format!("token={SECRET}\n"));
    // Changed again, through apply.
    common::write(&world.path("app.conf"), b"token=old\nother=1\n");
    let applied = world.apply();
    assert_clean("apply", &applied.all());
    assert_eq!(
        read(&world.path("app.conf")),
        format!("token={SECRET}\nother=1\n")
    );
    // Drift: the plan knows the content changed but shows neither side.
    common::write(&world.path("password"), b"password=guess\n");
    let drifted = world.run(&["plan"]);
    assert_clean("plan of drifted secret", &drifted.all());
    assert_eq!(
        common::action(&drifted.json(), "apply.password-file"),
        "update"
    );
    world.apply();
    world.assert_converged();
    let reports = world.reports();
    assert_eq!(reports.len(), 3);
    for report in &reports {
        assert_clean(
            "a run report",
            &serde_json::to_string(report).expect("json"),
        );
    }
    for entry in std::fs::read_dir(&world.audit).expect("audit") {
        assert_clean("a report file", &read(&entry.expect("entry").path()));
    }
}

#[test]
fn sensitive_plan_is_refused_when_the_config_changed() {
    let world = world();
    let (path, _) = world.plan();
    world.set_config(&format!("{CONFIG}# edited after the plan\n"));
    let before = tree(&world.root);
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("not the one the plan was made from"),
        "{}",
        run.all()
    );
    assert_clean("the refusal", &run.all());
    assert_eq!(before, tree(&world.root));
}

#[test]
fn sensitive_plan_is_refused_without_the_secret() {
    let world = world();
    let (path, _) = world.plan();
    // The same plan, run where the secret is not set.
    let without = World::new("apply: []\n");
    let before = tree(&world.root);
    let run = without.execute(&path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("DB_PASSWORD"), "{}", run.all());
    assert_eq!(before, tree(&world.root));
}

/// Edits of one file share its content: when one of them writes a secret, the others' content
/// and diffs would show it (from the chain, or from the file once written).
#[test]
fn secret_line_is_hidden_in_every_edit_of_its_file() {
    let mut world = World::new(
        r#"
apply:
  - {id: before-secret, type: lineinfile, path: "{{ root }}/f", line: "plain0 = {{ n }}", regexp: "^plain0", create: true}
  - {id: secret, type: lineinfile, path: "{{ root }}/f", line: "token={{ secrets.DB_PASSWORD }}", regexp: "^token="}
  - {id: after-secret, type: lineinfile, path: "{{ root }}/f", line: "plain1 = {{ n }}", regexp: "^plain1"}
"#,
    );
    world
        .envs
        .push(("DB_PASSWORD".to_owned(), SECRET.to_owned()));
    let first = world.run(&["-e", "n=1", "plan"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_clean("the plan of a chain", &first.all());
    assert_eq!(world.run(&["-e", "n=1", "apply"]).code, 0);
    assert!(read(&world.path("f")).contains(SECRET));
    // The secret is on disk now; the plain edits change again.
    let second = world.run(&["-e", "n=2", "plan"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_clean("the plan of a file holding the secret", &second.all());
    let applied = world.run(&["-e", "n=2", "apply"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert_clean("apply", &applied.all());
    assert_eq!(
        read(&world.path("f")),
        format!("plain0 = 2\ntoken={SECRET}\nplain1 = 2\n")
    );
}

/// `--secret NAME=@PATH`: a secret from a private file, named on the command line. The plan
/// records the path, never the value; `execute` reads the same file again.
#[test]
fn a_secret_from_a_file_given_on_the_command_line_reaches_only_the_host() {
    let world = World::new(
        "apply:\n  - {type: file, path: \"{{ root }}/db.conf\", content: \"password={{ secrets.db_password }}\\n\"}\n",
    );
    let secret_file = world.temp.path().join("db.pass");
    std::fs::write(&secret_file, "file-s3cret-51c0ffee\n").expect("secret file");
    common::set_mode(&secret_file, 0o600);
    let arg = format!("db_password=@{}", secret_file.display());
    let plan = world.run(&["--secret", &arg, "plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        !plan.all().contains("file-s3cret-51c0ffee"),
        "{}",
        plan.all()
    );
    let json = plan.json();
    assert_eq!(
        json["config"]["secret_files"]["db_password"],
        secret_file.display().to_string()
    );
    let plan_path = world.temp.path().join("plan.json");
    std::fs::write(&plan_path, &plan.stdout).expect("plan.json");
    let show = world.run(&["show", plan_path.to_str().expect("utf-8")]);
    assert!(
        show.stdout.contains("Made with --secret db_password=@"),
        "{}",
        show.all()
    );
    // No --secret again: the plan says where the value is.
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains("file-s3cret-51c0ffee"));
    assert_eq!(
        common::read(&world.path("db.conf")),
        "password=file-s3cret-51c0ffee\n"
    );
    for report in world.reports() {
        assert!(!report.to_string().contains("file-s3cret-51c0ffee"));
    }
}

#[test]
fn a_secret_file_others_may_read_or_a_secret_value_on_the_command_line_is_refused() {
    let world = World::new(
        "apply:\n  - {type: file, path: \"{{ root }}/db.conf\", content: \"{{ secrets.db }}\"}\n",
    );
    let secret_file = world.temp.path().join("db.pass");
    std::fs::write(&secret_file, "x").expect("secret file");
    common::set_mode(&secret_file, 0o644);
    let arg = format!("db=@{}", secret_file.display());
    let run = world.run(&["--secret", &arg, "plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("is readable by group or others"),
        "{}",
        run.all()
    );
    let run = world.run(&["--secret", "db=hunter2-on-the-line", "plan"]);
    assert_eq!(run.code, 64, "{}", run.all());
    assert!(
        run.stderr.contains("must be a file, `db=@PATH`"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("hunter2-on-the-line"), "{}", run.all());
}
