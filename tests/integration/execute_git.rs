//! `git` with real git and a local bare repository (built by the test in its temp dir) as the
//! remote: a clone at a branch, a tag, a commit and the remote's HEAD; a new commit pushed and
//! the checkout moved to it; a re-run unchanged; a dry run that changes nothing; local changes
//! refused without `force` and discarded with it; a stale plan (the remote moved, `dest`
//! changed) refused naming the node; a version the remote lacks; a repository named by a
//! secret that appears in no output. No network; git never reads the user's configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, World};

/// A bare repository (the remote) and a work tree that pushes to it.
struct Remote {
    bare: PathBuf,
    work: PathBuf,
    home: PathBuf,
}

impl Remote {
    /// A remote in `dir` whose `main` has one commit (`app.txt` = "v1").
    fn new(dir: &Path) -> Remote {
        let remote = Remote {
            bare: dir.join("remote.git"),
            work: dir.join("upstream"),
            home: dir.join("git-home"),
        };
        std::fs::create_dir_all(&remote.home).expect("mkdir home");
        remote.git(
            dir,
            &["init", "-q", "--bare", "-b", "main", path(&remote.bare)],
        );
        remote.git(dir, &["init", "-q", "-b", "main", path(&remote.work)]);
        remote.commit("app.txt", "v1\n");
        remote
    }

    /// Git as the test user, with no configuration of theirs (nor the system's).
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Commits `file` = `content` on `main` and pushes it: the new commit's id.
    fn commit(&self, file: &str, content: &str) -> String {
        common::write(&self.work.join(file), content.as_bytes());
        self.git(&self.work, &["add", file]);
        self.git(&self.work, &["commit", "-q", "-m", file]);
        self.git(&self.work, &["push", "-q", path(&self.bare), "main"]);
        self.head()
    }

    fn head(&self) -> String {
        self.git(&self.work, &["rev-parse", "HEAD"])
    }

    /// An annotated tag at HEAD, pushed.
    fn tag(&self, name: &str) {
        self.git(&self.work, &["tag", "-a", name, "-m", name]);
        self.git(&self.work, &["push", "-q", path(&self.bare), name]);
    }

    /// The commit and the branch (or `detached`) of the checkout at `dest`.
    fn checkout_of(&self, dest: &Path) -> (String, String) {
        let commit = self.git(dest, &["rev-parse", "HEAD"]);
        let branch = Command::new("git")
            .arg("-C")
            .arg(dest)
            .args(["symbolic-ref", "-q", "--short", "HEAD"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", &self.home)
            .output()
            .expect("git");
        let branch = String::from_utf8_lossy(&branch.stdout).trim().to_owned();
        let branch = if branch.is_empty() {
            "detached".to_owned()
        } else {
            branch
        };
        (commit, branch)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A world with one `git` task into `{{ root }}/app` (`extra`: more fields), and its remote.
fn world(extra: &str) -> (World, Remote) {
    let world = World::new("");
    let remote = Remote::new(world.temp.path());
    world.set_config(&config(&remote, extra));
    (world, remote)
}

fn config(remote: &Remote, extra: &str) -> String {
    format!(
        "apply:\n  - type: git\n    repo: \"{}\"\n    dest: \"{{{{ root }}}}/app\"\n{extra}",
        path(&remote.bare)
    )
}

fn address(world: &World) -> String {
    format!("apply.git:{}/app", world.root.display())
}

/// The entries of `dir`: no temp directory left beside the checkout.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn show(world: &World, plan: &Path) -> String {
    let run = world.run(&["show", path(plan)]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

#[test]
fn a_branch_is_cloned_then_moved_to_a_new_commit() {
    let (world, remote) = world("    version: main\n");
    let first = remote.head();
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["action"], "create");
    assert_eq!(node["before"]["state"], "absent");
    assert_eq!(node["after"]["commit"], first.as_str());
    assert_eq!(node["after"]["branch"], "main");
    // Planning fetches nothing and makes nothing.
    assert!(!world.path("app").exists());
    let shown = show(&world, &plan_path);
    assert!(
        shown.contains(&format!(
            "clone {} at main (commit {first})",
            path(&remote.bare)
        )),
        "{shown}"
    );
    // The temp directory of a clone killed before its rename, from an earlier run.
    let leftover = world.root.join(".app.driftless-0123456789abcdef");
    common::write(&leftover.join(".git/HEAD"), b"ref: refs/heads/main\n");
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&leftover)
        .and_then(|d| d.set_modified(long_ago))
        .expect("age the leftover");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let dest = world.path("app");
    assert_eq!(
        remote.checkout_of(&dest),
        (first.clone(), "main".to_owned())
    );
    assert_eq!(common::read(&dest.join("app.txt")), "v1\n");
    assert_eq!(names(&world.root), ["app"]);
    world.assert_converged();

    // A hook in the checkout is never run by driftless's git.
    let marker = world.temp.path().join("hook-ran");
    let hook = dest.join(".git/hooks/post-checkout");
    common::write(
        &hook,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()).as_bytes(),
    );
    common::set_mode(&hook, 0o755);
    let second = remote.commit("app.txt", "v2\n");
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["action"], "update");
    assert_eq!(node["before"]["commit"], first.as_str());
    assert_eq!(node["after"]["commit"], second.as_str());
    let shown = show(&world, &plan_path);
    assert!(
        shown.contains(&format!("move {} from {first} to {second}", dest.display())),
        "{shown}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(remote.checkout_of(&dest), (second, "main".to_owned()));
    assert_eq!(common::read(&dest.join("app.txt")), "v2\n");
    assert!(!marker.exists(), "the checkout's post-checkout hook ran");
    let again = world.apply();
    assert_eq!(
        again.status_of(&address(&world)).as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
}

#[test]
fn a_tag_a_commit_the_remote_head_and_a_shallow_clone() {
    let world = World::new("");
    let remote = Remote::new(world.temp.path());
    let tagged = remote.head();
    remote.tag("v1.0");
    let middle = remote.commit("app.txt", "v2\n");
    let tip = remote.commit("app.txt", "v3\n");
    let bare = path(&remote.bare);
    world.set_config(&format!(
        r#"
apply:
  - type: git
    repo: "{bare}"
    dest: "{{{{ root }}}}/tag"
    version: v1.0
  - type: git
    repo: "file://{bare}"
    dest: "{{{{ root }}}}/commit"
    version: "{middle}"
  - type: git
    repo: "{bare}"
    dest: "{{{{ root }}}}/head"
  - type: git
    repo: "file://{bare}"
    dest: "{{{{ root }}}}/shallow"
    version: main
    depth: 1
"#
    ));
    let (_, plan) = world.plan();
    let root = world.root.display().to_string();
    let tag = common::node(&plan, &format!("apply.git:{root}/tag"));
    // The annotated tag is peeled to the commit it tags.
    assert_eq!(tag["after"]["commit"], tagged.as_str());
    assert_eq!(tag["after"]["ref_name"], "refs/tags/v1.0");
    let head = common::node(&plan, &format!("apply.git:{root}/head"));
    assert_eq!(head["after"]["branch"], "main");
    world.apply();
    let detached = |c: &str| (c.to_owned(), "detached".to_owned());
    assert_eq!(remote.checkout_of(&world.path("tag")), detached(&tagged));
    assert_eq!(remote.checkout_of(&world.path("commit")), detached(&middle));
    assert_eq!(
        remote.checkout_of(&world.path("head")),
        (tip.clone(), "main".to_owned())
    );
    let shallow = world.path("shallow");
    assert_eq!(remote.checkout_of(&shallow), (tip, "main".to_owned()));
    assert_eq!(
        remote.git(&shallow, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    assert_eq!(remote.git(&shallow, &["rev-list", "--count", "HEAD"]), "1");
    world.assert_converged();
}

#[test]
fn a_dry_run_changes_nothing_and_update_false_keeps_a_checkout() {
    let (world, remote) = world("");
    let run = world.run(&["apply", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!world.path("app").exists());
    assert!(names(&world.root).is_empty());
    world.apply();
    let first = remote.head();
    remote.commit("app.txt", "v2\n");
    let run = world.run(&["apply", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(remote.checkout_of(&world.path("app")).0, first);
    // `update: false`: the checkout stays where it is, without asking the remote.
    world.set_config(&config(&remote, "    update: false\n"));
    world.step(&address(&world), "no-op");
    assert_eq!(remote.checkout_of(&world.path("app")).0, first);
}

#[test]
fn local_changes_are_refused_without_force_and_discarded_with_it() {
    let (world, remote) = world("    version: main\n");
    world.apply();
    let dest = world.path("app");
    common::write(&dest.join("app.txt"), b"edited on the host\n");
    common::write(&dest.join("notes.txt"), b"untracked\n");
    let second = remote.commit("app.txt", "v2\n");
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("has local changes (M app.txt)") && run.stderr.contains("force"),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&dest.join("app.txt")), "edited on the host\n");

    world.set_config(&config(&remote, "    version: main\n    force: true\n"));
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["action"], "update");
    assert_eq!(node["after"]["discard_local_changes"], true);
    let shown = show(&world, &plan_path);
    assert!(shown.contains("discard the local changes"), "{shown}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(remote.checkout_of(&dest).0, second);
    assert_eq!(common::read(&dest.join("app.txt")), "v2\n");
    // Untracked files are no local changes: left alone, as Ansible's module leaves them.
    assert_eq!(common::read(&dest.join("notes.txt")), "untracked\n");
    world.assert_converged();
}

#[test]
fn a_plan_is_refused_when_the_remote_moved_or_dest_changed() {
    let (world, remote) = world("    version: main\n");
    let (plan_path, _) = world.plan();
    let moved = remote.commit("app.txt", "v2\n");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains(&address(&world))
            && run.all().contains("moved since the plan")
            && run.all().contains(&moved),
        "{}",
        run.all()
    );
    assert!(!world.path("app").exists());
    assert!(names(&world.root).is_empty());

    world.apply();
    remote.commit("app.txt", "v3\n");
    let (plan_path, _) = world.plan();
    let dest = world.path("app");
    common::write(&dest.join("app.txt"), b"edited after the plan\n");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains(&address(&world)) && run.all().contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(remote.checkout_of(&dest).0, moved);
    assert_eq!(
        common::read(&dest.join("app.txt")),
        "edited after the plan\n"
    );
}

#[test]
fn a_version_the_remote_lacks_is_a_plan_error_naming_it() {
    let (world, remote) = world("    version: no-such-branch\n");
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("`version` `no-such-branch` is not a branch or tag"),
        "{}",
        run.all()
    );
    // A full commit id is taken as is; one the remote lacks fails the node, and leaves
    // neither a checkout nor a temp directory.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    world.set_config(&config(&remote, &format!("    version: \"{missing}\"\n")));
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains(&address(&world)), "{}", run.all());
    assert!(names(&world.root).is_empty(), "{:?}", names(&world.root));
}

#[test]
fn a_secret_in_repo_appears_in_no_output() {
    const SECRET: &str = "t0ken-9c1e77f3b2";
    let mut world = World::new("");
    let hidden = world.temp.path().join(SECRET);
    std::fs::create_dir_all(&hidden).expect("mkdir");
    let remote = Remote::new(&hidden);
    world
        .envs
        .push(("REPO".to_owned(), path(&remote.bare).to_owned()));
    let yaml = "apply:\n  - type: git\n    repo: \"{{ secrets.REPO }}\"\n    dest: \"{{ root }}/app\"\n    version: main\n";
    world.set_config(yaml);
    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["after"]["repo"], "(sensitive)");
    let shown = show(&world, &plan_path);
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(remote.checkout_of(&world.path("app")).0, remote.head());
    let again = world.apply();
    let mut outputs = vec![
        std::fs::read_to_string(&plan_path).expect("plan"),
        shown,
        run.all(),
        again.all(),
    ];
    // The remote moves after a plan: the plan holds no URL to ask again before running, so
    // the fetched ref is checked, and the node refused before its checkout moves.
    let before_move = remote.head();
    remote.commit("app.txt", "v2\n");
    let (plan_path, _) = world.plan();
    let moved = remote.commit("app.txt", "v3\n");
    let refused = world.execute(&plan_path, &[]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(
        refused.all().contains(&address(&world)) && refused.all().contains(&moved),
        "{}",
        refused.all()
    );
    assert_eq!(remote.checkout_of(&world.path("app")).0, before_move);
    outputs.push(refused.all());
    outputs.extend(world.reports().iter().map(|r| r.to_string()));
    // A remote that fails: git's message (which quotes the URL) is not shown.
    world.envs[0].1 = format!("{}/{SECRET}/missing.git", world.temp.path().display());
    let failed = world.run(&["plan"]);
    assert_ne!(failed.code, 0, "{}", failed.all());
    outputs.push(failed.all());
    for output in outputs {
        assert!(!output.contains(SECRET), "the secret leaked:\n{output}");
    }
    // The clone's config records the URL: readable by its owner only.
    let config = world.path("app/.git/config");
    assert_eq!(common::mode(&config), 0o600);
}

#[test]
fn a_clone_waits_for_its_directory_replaces_an_empty_one_and_refuses_anything_else() {
    let world = World::new("");
    let remote = Remote::new(world.temp.path());
    let bare = path(&remote.bare);
    world.set_config(&format!(
        r#"
apply:
  - type: directory
    path: "{{{{ root }}}}/srv"
  - type: git
    repo: "{bare}"
    dest: "{{{{ root }}}}/srv/app"
  - type: git
    repo: "{bare}"
    dest: "{{{{ root }}}}/empty"
"#
    ));
    std::fs::create_dir(world.path("empty")).expect("mkdir");
    let (_, plan) = world.plan();
    let root = world.root.display().to_string();
    let app = common::node(&plan, &format!("apply.git:{root}/srv/app"));
    assert_eq!(
        app["depends_on"][0]["address"],
        format!("apply.directory:{root}/srv").as_str()
    );
    assert_eq!(app["depends_on"][0]["reason"], "parent directory");
    let empty = common::node(&plan, &format!("apply.git:{root}/empty"));
    assert_eq!(empty["before"]["state"], "empty-directory");
    assert_eq!(empty["action"], "create");
    world.apply();
    assert_eq!(remote.checkout_of(&world.path("srv/app")).0, remote.head());
    assert_eq!(remote.checkout_of(&world.path("empty")).0, remote.head());
    world.assert_converged();

    common::write(&world.path("other/file"), b"not a checkout\n");
    world.set_config(&config(&remote, "").replace("/app\"", "/other\""));
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("is a directory that is not a git checkout"),
        "{}",
        run.all()
    );
    assert_eq!(names(&world.path("other")), ["file"]);
}
