//! Nothing in the config repository runs code, and the config digest covers every file a run
//! reads: `plan` runs git with the repository's fsmonitor, hooks and filter drivers off and
//! without the caller's `GIT_*` environment; a hidden template, a hidden include or a re-pointed
//! symlink edited after the plan makes `execute` refuse a plan it would re-render.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::{self, World};

/// `git ARGS` in `dir`, checked to succeed.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The world's config dir as a committed Git repository; returns the commit.
fn commit_config(world: &World) -> String {
    git(&world.config, &["init", "-q"]);
    git(&world.config, &["add", "-A"]);
    git(&world.config, &["commit", "-q", "-m", "config"]);
    git(&world.config, &["rev-parse", "HEAD"])
}

/// An executable script that creates `marker` when anything runs it.
fn marker_script(world: &World, marker: &Path) -> String {
    let script = world.temp.path().join("ran-by-git.sh");
    common::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()).as_bytes(),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script.display().to_string()
}

/// Rewrites the config file with the same bytes: its stat data no longer matches Git's index,
/// so `git status` must look at the content (through filters) and refresh the index.
fn touch_config(world: &World) {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let path = world.config.join("main.yaml");
    let text = std::fs::read(&path).expect("read main.yaml");
    common::write(&path, &text);
}

const PLAIN: &str = r#"
apply:
  - id: motd
    type: file
    path: "{{ root }}/motd"
    content: "hello\n"
"#;

#[test]
fn plan_does_not_run_the_config_repos_fsmonitor() {
    let world = World::new(PLAIN);
    let commit = commit_config(&world);
    let marker = world.temp.path().join("fsmonitor-ran");
    let script = marker_script(&world, &marker);
    git(&world.config, &["config", "core.fsmonitor", &script]);
    touch_config(&world);
    let (_, plan) = world.plan();
    assert!(!marker.exists(), "plan ran the repository's core.fsmonitor");
    assert_eq!(plan["config"]["git_commit"], commit.as_str());
}

#[test]
fn plan_does_not_run_the_config_repos_hooks() {
    let world = World::new(PLAIN);
    commit_config(&world);
    let marker = world.temp.path().join("hook-ran");
    let script = marker_script(&world, &marker);
    let hook = world.config.join(".git/hooks/post-index-change");
    std::fs::copy(&script, &hook).expect("install hook");
    touch_config(&world);
    world.plan();
    assert!(!marker.exists(), "plan ran a hook of the repository");
}

#[test]
fn plan_does_not_run_the_config_repos_filter_drivers() {
    let world = World::new(PLAIN);
    // Two drivers, one whose name holds a dot; each set for some files.
    world.config_file(
        ".gitattributes",
        "*.yaml filter=evil\n*.j2 filter=evil.two\n",
    );
    world.config_file("templates/x.j2", "x\n");
    commit_config(&world);
    let marker = world.temp.path().join("filter-ran");
    let script = marker_script(&world, &marker);
    for driver in ["evil", "evil.two"] {
        git(
            &world.config,
            &["config", &format!("filter.{driver}.clean"), &script],
        );
        git(
            &world.config,
            &["config", &format!("filter.{driver}.required"), "true"],
        );
    }
    let template = world.config.join("templates/x.j2");
    touch_config(&world);
    common::write(&template, b"x\n");
    let (_, plan) = world.plan();
    assert!(
        !marker.exists(),
        "plan ran a filter driver of the repository"
    );
    assert!(
        plan["config"]["git_commit"].is_string(),
        "{}",
        plan["config"]
    );
}

#[test]
fn plan_describes_the_config_dirs_own_repository_whatever_the_git_environment_says() {
    let other = tempfile::tempdir().expect("temp dir");
    git(other.path(), &["init", "-q"]);
    git(
        other.path(),
        &["commit", "-q", "--allow-empty", "-m", "another repository"],
    );
    let other_commit = git(other.path(), &["rev-parse", "HEAD"]);
    let mut world = World::new(PLAIN);
    let own_commit = commit_config(&world);
    world.envs.push((
        "GIT_DIR".to_owned(),
        other.path().join(".git").display().to_string(),
    ));
    let (_, plan) = world.plan();
    assert_eq!(plan["config"]["git_commit"], own_commit.as_str());
    assert_ne!(own_commit, other_commit);
}

#[test]
fn plan_takes_no_metadata_from_a_repository_owned_by_another_user_and_says_so() {
    // The tests run as root: the config repository is handed to `nobody`.
    let world = World::new(PLAIN);
    commit_config(&world);
    let marker = world.temp.path().join("fsmonitor-ran");
    let script = marker_script(&world, &marker);
    git(&world.config, &["config", "core.fsmonitor", &script]);
    let status = Command::new("chown")
        .args(["-R", "65534"])
        .arg(&world.config)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown failed");
    let run = world.run(&["plan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan = run.json();
    assert!(
        plan["config"].get("git_commit").is_none(),
        "{}",
        plan["config"]
    );
    assert!(
        run.stderr.contains("git does not trust the repository of")
            && run.stderr.contains("safe.directory"),
        "{}",
        run.all()
    );
    assert!(!marker.exists(), "plan ran the repository's core.fsmonitor");
}

const SECRET: &str = "repo-digest-secret-5c1e";

/// A world whose `template` task renders `src` with a secret, so that `execute` renders it
/// again from the config.
fn sensitive_template_world(src: &str) -> World {
    let mut world = World::new(&format!(
        r#"
apply:
  - id: app
    type: template
    src: "{src}"
    dest: "{{{{ root }}}}/app.conf"
"#
    ));
    world.envs.push(("TOKEN".to_owned(), SECRET.to_owned()));
    world
}

/// Plans, lets `edit` change the config dir, and asserts that `execute` refuses the plan and
/// writes nothing.
fn assert_edit_after_plan_is_refused(world: &World, edit: impl FnOnce()) {
    let (plan_path, plan) = world.plan();
    assert_eq!(
        common::node(&plan, "apply.app")["after"]["content"],
        "(sensitive)"
    );
    edit();
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("not the one the plan was made from"),
        "{}",
        run.all()
    );
    assert!(!world.path("app.conf").exists(), "execute wrote the file");
}

#[test]
fn execute_refuses_a_plan_whose_template_in_a_hidden_directory_changed() {
    let world = sensitive_template_world(".templates/app.j2");
    world.config_file(".templates/app.j2", "token={{ secrets.TOKEN }}\n");
    assert_edit_after_plan_is_refused(&world, || {
        world.config_file(".templates/app.j2", "token={{ secrets.TOKEN }}\nevil=1\n");
    });
}

#[test]
fn execute_refuses_a_plan_whose_hidden_included_template_changed() {
    let world = sensitive_template_world("templates/app.j2");
    world.config_file(
        "templates/app.j2",
        "token={{ secrets.TOKEN }}\n{% include \"templates/.part.j2\" %}",
    );
    world.config_file("templates/.part.j2", "part=1\n");
    assert_edit_after_plan_is_refused(&world, || {
        world.config_file("templates/.part.j2", "part=evil\n");
    });
}

#[test]
fn execute_refuses_a_plan_whose_template_directory_link_was_repointed() {
    let world = sensitive_template_world("templates/current/app.j2");
    world.config_file("templates/v1/app.j2", "token={{ secrets.TOKEN }}\n");
    world.config_file("templates/v2/app.j2", "token={{ secrets.TOKEN }}\nevil=1\n");
    let link = world.config.join("templates/current");
    std::os::unix::fs::symlink("v1", &link).expect("symlink");
    assert_edit_after_plan_is_refused(&world, || {
        std::fs::remove_file(&link).expect("remove link");
        std::os::unix::fs::symlink("v2", &link).expect("symlink");
    });
}

#[test]
fn a_template_inside_dot_git_is_refused() {
    // Named directly, and through a symlink to `.git`.
    for (src, link) in [
        (".git/description", None),
        ("meta/description", Some("meta")),
    ] {
        let world = sensitive_template_world(src);
        commit_config(&world);
        if let Some(name) = link {
            std::os::unix::fs::symlink(".git", world.config.join(name)).expect("symlink");
        }
        let run = world.run(&["check"]);
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(
            run.stderr.contains(&format!("`{src}` is in `.git`")),
            "{}",
            run.all()
        );
    }
}

/// Every git call goes through `src/git.rs`, which turns off what would run the repository's
/// code: a `Command::new("git")` anywhere else would bypass it.
#[test]
fn git_is_run_only_through_the_hardened_helper() {
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let helper = src.join("git.rs");
    let offenders: Vec<_> = files
        .iter()
        .filter(|path| **path != helper)
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("read source");
            text.contains(r#"Command::new("git")"#)
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "run git through driftless::git (src/git.rs), not directly: {offenders:?}"
    );
}
