//! Execution cannot be redirected: a directory on a managed path replaced by a symbolic link
//! after the plan, or a followed link re-pointed, makes the plan stale, and nothing is changed
//! where the link leads. And the files the apply types read from the host are bounded: regular
//! files of at most 16 MiB.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, World, tree};

/// Plans `config` (files under `root/<swapped>` made by `prepare`), then moves the directory
/// `swapped` aside to `root/decoy` and puts a symbolic link to it in its place: every path
/// below now resolves to exactly the files the plan saw, through a link the plan did not see.
/// `execute` must refuse the plan as stale, naming `address`, and leave the decoy unchanged.
fn swapped_directory_is_refused(config: &str, swapped: &str, address: &str, prepare: fn(&World)) {
    let world = World::new(config);
    prepare(&world);
    swap_and_execute(&world, swapped, address);
}

/// `run` refused the plan as stale, naming `address`.
fn assert_stale(run: &common::Run, address: &str) {
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("the plan is stale") && run.stderr.contains(address),
        "not refused as stale naming {address}:\n{}",
        run.all()
    );
}

fn swap_and_execute(world: &World, swapped: &str, address: &str) {
    let (plan, _) = world.plan();
    let decoy = world.path("decoy");
    std::fs::rename(world.path(swapped), &decoy).expect("move aside");
    symlink(&decoy, world.path(swapped)).expect("symlink");
    let before = tree(&decoy);
    let run = world.execute(&plan, &[]);
    assert_stale(&run, address);
    assert!(
        run.stderr.contains("the way to it changed"),
        "{}",
        run.all()
    );
    assert_eq!(tree(&decoy), before, "the link's target changed");
}

fn etc_app(world: &World) {
    std::fs::create_dir_all(world.path("etc/app")).expect("mkdir");
}

fn etc_app_conf(world: &World) {
    etc_app(world);
    common::write(&world.path("etc/app/conf"), b"old\n");
    common::set_mode(&world.path("etc/app/conf"), 0o644);
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_write() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/etc/app/conf", content: "new\n"}
"#,
        "etc/app",
        "apply.conf",
        etc_app_conf,
    );
}

#[test]
fn deeper_ancestor_replaced_by_a_symlink_after_plan_is_stale_for_a_write() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/etc/app/conf", content: "new\n"}
"#,
        "etc",
        "apply.conf",
        etc_app_conf,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_new_file() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: conf, type: copy, dest: "{{ root }}/etc/app/new", content: "new\n"}
"#,
        "etc/app",
        "apply.conf",
        etc_app,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_mode_and_owner() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/etc/app/conf", mode: "0600", owner: 1234, group: 1234}
"#,
        "etc/app",
        "apply.conf",
        etc_app_conf,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_new_directory() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: made, type: directory, path: "{{ root }}/etc/app/made/deeper", parents: true}
"#,
        "etc",
        "apply.made",
        etc_app,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_new_link() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: ln, type: link, path: "{{ root }}/etc/app/current", src: /nowhere}
"#,
        "etc/app",
        "apply.ln",
        etc_app,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_removal() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: gone, type: file, path: "{{ root }}/etc/app/conf", state: absent}
"#,
        "etc/app",
        "apply.gone",
        etc_app_conf,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_a_line_edit() {
    swapped_directory_is_refused(
        r#"
apply:
  - {id: line, type: lineinfile, path: "{{ root }}/etc/app/conf", line: "added"}
"#,
        "etc/app",
        "apply.line",
        etc_app_conf,
    );
}

#[test]
fn parent_directory_replaced_by_a_symlink_after_plan_is_stale_for_sensitive_content() {
    let mut world = World::new(
        r#"
apply:
  - {id: token, type: file, path: "{{ root }}/etc/app/conf", content: "{{ secrets.TOKEN }}"}
"#,
    );
    world
        .envs
        .push(("TOKEN".to_owned(), "s3cret-token".to_owned()));
    etc_app_conf(&world);
    swap_and_execute(&world, "etc/app", "apply.token");
}

#[test]
fn followed_link_re_pointed_after_plan_is_stale() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/current", follow: true, content: "new\n"}
"#,
    );
    // Two files alike in every observable way: only the link tells them apart.
    for name in ["planned", "other"] {
        common::write(&world.path(name), b"old\n");
        common::set_mode(&world.path(name), 0o644);
    }
    symlink("planned", world.path("current")).expect("symlink");
    let (plan, _) = world.plan();
    std::fs::remove_file(world.path("current")).expect("rm link");
    symlink("other", world.path("current")).expect("symlink");
    let run = world.execute(&plan, &[]);
    assert_stale(&run, "apply.conf");
    assert_eq!(common::read(&world.path("other")), "old\n");
    assert_eq!(common::read(&world.path("planned")), "old\n");
}

#[test]
fn link_further_down_a_followed_chain_re_pointed_after_plan_is_stale() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/current", follow: true, content: "new\n"}
"#,
    );
    for name in ["planned", "other"] {
        common::write(&world.path(name), b"old\n");
        common::set_mode(&world.path(name), 0o644);
    }
    // current -> middle -> planned; the plan follows both links.
    symlink("middle", world.path("current")).expect("symlink");
    symlink("planned", world.path("middle")).expect("symlink");
    let (plan, _) = world.plan();
    std::fs::remove_file(world.path("middle")).expect("rm link");
    symlink("other", world.path("middle")).expect("symlink");
    let run = world.execute(&plan, &[]);
    assert_stale(&run, "apply.conf");
    assert_eq!(common::read(&world.path("other")), "old\n");
}

#[test]
fn followed_link_is_still_written_through_when_unchanged() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/current", follow: true, content: "new\n"}
"#,
    );
    std::fs::create_dir(world.path("releases")).expect("mkdir");
    common::write(&world.path("releases/conf"), b"old\n");
    symlink("releases/conf", world.path("current")).expect("symlink");
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("releases/conf")), "new\n");
    assert!(
        std::fs::symlink_metadata(world.path("current")).is_ok_and(|m| m.is_symlink()),
        "the link itself was replaced"
    );
}

#[test]
fn symlinked_directory_the_plan_saw_is_followed() {
    // Like /var/run -> /run: a link on the path that was there when planning is fine.
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/run-link/app.pid", content: "1\n"}
"#,
    );
    std::fs::create_dir(world.path("run")).expect("mkdir");
    symlink("run", world.path("run-link")).expect("symlink");
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("run/app.pid")), "1\n");
    world.assert_converged();
}

#[test]
fn directories_made_by_the_plan_do_not_make_its_files_stale() {
    let world = World::new(
        r#"
apply:
  - {id: dir, type: directory, path: "{{ root }}/a/b", parents: true}
  - {id: conf, type: file, path: "{{ root }}/a/b/conf", content: "x\n"}
"#,
    );
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("a/b/conf")), "x\n");
}

#[test]
fn symlink_made_where_a_missing_directory_was_planned_is_not_followed() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/missing/conf", content: "x\n"}
"#,
    );
    let decoy = world.path("decoy");
    std::fs::create_dir(&decoy).expect("mkdir");
    let (plan, _) = world.plan();
    symlink(&decoy, world.path("missing")).expect("symlink");
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("apply.conf"), "{}", run.all());
    assert!(!decoy.join("conf").exists(), "written through the new link");
}

/// `execute` of `plan` must be refused as stale, naming `address` and saying `why`.
fn assert_refused_as_stale(world: &World, plan: &Path, address: &str, why: &str) {
    let run = world.execute(plan, &[]);
    assert_stale(&run, address);
    assert!(run.stderr.contains(why), "no `{why}`:\n{}", run.all());
}

/// Makes `world.path(relative)` (and its parents) as another user would: owned by `uid`,
/// mode `mode`, each.
fn make_directories_as(world: &World, relative: &str, uid: u32, mode: u32) {
    std::fs::create_dir_all(world.path(relative)).expect("mkdir -p");
    let mut made = Path::new(relative);
    while made != Path::new("") && made != Path::new("t") {
        std::os::unix::fs::chown(world.root.join(made), Some(uid), Some(uid)).expect("chown");
        common::set_mode(&world.root.join(made), mode);
        made = made.parent().unwrap_or(Path::new(""));
    }
}

#[test]
fn missing_parents_made_by_another_user_after_plan_are_stale() {
    let world = World::new(
        r#"
apply:
  - {id: dir, type: directory, path: "{{ root }}/t/a/b/c", parents: true, mode: "0700"}
  - {id: secret, type: file, path: "{{ root }}/t/a/b/c/secret", content: "s3cret\n", mode: "0600"}
"#,
    );
    std::fs::create_dir(world.path("t")).expect("mkdir");
    let (plan, _) = world.plan();
    make_directories_as(&world, "t/a/b", 65534, 0o777);
    let planted = format!(
        "{}/t/a was made since the plan by uid 65534",
        world.root.display()
    );
    assert_refused_as_stale(&world, &plan, "apply.dir", &planted);
    assert_refused_as_stale(&world, &plan, "apply.secret", &planted);
    assert!(
        !world.path("t/a/b/c").exists(),
        "made under the other user's directory"
    );
}

#[test]
fn missing_parent_owned_by_another_user_after_plan_is_stale_even_when_only_it_may_write() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: file, path: "{{ root }}/t/a/conf", content: "x\n"}
"#,
    );
    std::fs::create_dir(world.path("t")).expect("mkdir");
    let (plan, _) = world.plan();
    make_directories_as(&world, "t/a", 65534, 0o755);
    assert_refused_as_stale(
        &world,
        &plan,
        "apply.conf",
        "made since the plan by uid 65534",
    );
    assert!(!world.path("t/a/conf").exists());
}

#[test]
fn missing_parent_writable_by_others_after_plan_is_stale_even_when_root_owns_it() {
    let world = World::new(
        r#"
apply:
  - {id: conf, type: copy, dest: "{{ root }}/t/a/b/conf", content: "x\n"}
"#,
    );
    std::fs::create_dir(world.path("t")).expect("mkdir");
    let (plan, _) = world.plan();
    std::fs::create_dir_all(world.path("t/a/b")).expect("mkdir -p");
    common::set_mode(&world.path("t/a/b"), 0o757);
    let why = format!(
        "{}/t/a/b was made since the plan and is writable by others (mode 0757)",
        world.root.display()
    );
    assert_refused_as_stale(&world, &plan, "apply.conf", &why);
    assert!(!world.path("t/a/b/conf").exists());
}

#[test]
fn directories_this_run_makes_are_trusted_whatever_their_mode() {
    // A shared directory the plan makes world-writable, and a file the plan puts in it.
    let world = World::new(
        r#"
apply:
  - {id: shared, type: directory, path: "{{ root }}/t/shared/drop", parents: true, mode: "1777"}
  - {id: readme, type: file, path: "{{ root }}/t/shared/drop/README", content: "x\n"}
"#,
    );
    let (plan, _) = world.plan();
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("t/shared/drop/README")), "x\n");
}

/// `link` with `kind: hard` from `t/hl` to `t/srcdir/s`, and a victim's file elsewhere.
fn hard_link_world() -> World {
    let world = World::new(
        r#"
apply:
  - {id: hl, type: link, kind: hard, path: "{{ root }}/t/hl", src: "{{ root }}/t/srcdir/s"}
"#,
    );
    std::fs::create_dir_all(world.path("t/srcdir")).expect("mkdir");
    std::fs::create_dir_all(world.path("victim")).expect("mkdir");
    common::write(&world.path("victim/s"), b"victim\n");
    world
}

#[test]
fn hard_link_source_swapped_for_another_inode_after_plan_is_stale() {
    let world = hard_link_world();
    common::write(&world.path("t/srcdir/s"), b"mine\n");
    let (plan, _) = world.plan();
    std::fs::remove_file(world.path("t/srcdir/s")).expect("rm");
    std::fs::hard_link(world.path("victim/s"), world.path("t/srcdir/s")).expect("ln");
    assert_refused_as_stale(&world, &plan, "apply.hl", "the way to it changed");
    assert!(
        !world.path("t/hl").exists(),
        "linked to the swapped-in inode"
    );
}

#[test]
fn hard_link_source_that_appears_after_plan_is_stale() {
    let world = hard_link_world();
    let (plan, _) = world.plan();
    std::fs::hard_link(world.path("victim/s"), world.path("t/srcdir/s")).expect("ln");
    assert_refused_as_stale(&world, &plan, "apply.hl", "the way to it changed");
    assert!(!world.path("t/hl").exists(), "linked to the victim's inode");
}

#[test]
fn hard_link_source_replaced_by_a_symlink_after_plan_is_stale() {
    let world = hard_link_world();
    common::write(&world.path("t/srcdir/s"), b"mine\n");
    let (plan, _) = world.plan();
    std::fs::remove_file(world.path("t/srcdir/s")).expect("rm");
    symlink(world.path("victim/s"), world.path("t/srcdir/s")).expect("symlink");
    assert_refused_as_stale(&world, &plan, "apply.hl", "the way to it changed");
    assert!(!world.path("t/hl").exists());
}

/// Runs `driftless -c CONFIG -e root=ROOT ARGS` and gives up (killing it) after 20 s: a read
/// that blocks must fail the test, not hang it.
fn run_with_deadline(world: &World, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("-c")
        .arg(&world.config)
        .arg("--env-file")
        .arg(&world.env_file)
        .arg("-e")
        .arg(format!("root={}", world.root.display()))
        .args(args)
        .env_clear()
        .env("HOME", world.temp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn driftless");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
            }
            return (status.code().unwrap_or(-1), stderr);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("driftless {args:?} did not finish in 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn make_fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

#[test]
fn copy_remote_src_that_is_a_fifo_is_refused_without_reading() {
    let world = World::new(
        r#"
apply:
  - {id: c, type: copy, src: "{{ root }}/pipe", remote_src: true, dest: "{{ root }}/out"}
"#,
    );
    make_fifo(&world.path("pipe"));
    let (code, stderr) = run_with_deadline(&world, &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not a regular file (it is a FIFO)"),
        "{stderr}"
    );
    assert!(!world.path("out").exists());
}

#[test]
fn copy_remote_src_that_is_a_device_is_refused_without_reading() {
    let world = World::new(
        r#"
apply:
  - {id: c, type: copy, src: /dev/zero, remote_src: true, dest: "{{ root }}/out"}
"#,
    );
    let (code, stderr) = run_with_deadline(&world, &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not a regular file (it is a character device)"),
        "{stderr}"
    );
}

/// A sparse file just over the limit: large to read, nothing on disk.
fn oversized(path: &Path) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let file = std::fs::File::create(path).expect("create");
    file.set_len((16 << 20) + 1).expect("set_len");
}

#[test]
fn copy_source_over_the_size_limit_is_refused_naming_it() {
    let world = World::new(
        r#"
apply:
  - {id: local, type: copy, src: files/big, dest: "{{ root }}/local"}
  - {id: remote, type: copy, src: "{{ root }}/big", remote_src: true, dest: "{{ root }}/remote"}
"#,
    );
    oversized(&world.config.join("files/big"));
    oversized(&world.path("big"));
    let (code, stderr) = run_with_deadline(&world, &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    for address in ["apply.local", "apply.remote"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(address))
            .unwrap_or_else(|| panic!("no error for {address}:\n{stderr}"));
        assert!(
            line.contains("larger than 16 MiB, the most driftless reads of one file"),
            "{line}"
        );
    }
}

#[test]
fn template_file_that_is_a_fifo_is_refused_without_reading() {
    let world = World::new(
        r#"
apply:
  - {id: t, type: template, src: templates/t.j2, dest: "{{ root }}/out"}
"#,
    );
    std::fs::create_dir_all(world.config.join("templates")).expect("mkdir");
    make_fifo(&world.config.join("templates/t.j2"));
    let (code, stderr) = run_with_deadline(&world, &["check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not a regular file (it is a FIFO)"),
        "{stderr}"
    );
}

#[test]
fn template_file_over_the_size_limit_is_refused_naming_it() {
    let world = World::new(
        r#"
apply:
  - {id: t, type: template, src: templates/t.j2, dest: "{{ root }}/out"}
"#,
    );
    oversized(&world.config.join("templates/t.j2"));
    let (code, stderr) = run_with_deadline(&world, &["check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("larger than 16 MiB"), "{stderr}");
}

#[test]
fn line_edit_of_a_file_over_the_size_limit_is_refused_naming_it() {
    let world = World::new(
        r#"
apply:
  - {id: line, type: lineinfile, path: "{{ root }}/huge.log", line: "x"}
"#,
    );
    oversized(&world.path("huge.log"));
    let (code, stderr) = run_with_deadline(&world, &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("apply.line") && stderr.contains("larger than 16 MiB"),
        "{stderr}"
    );
}

#[test]
fn file_over_the_size_limit_is_still_managed_by_hash() {
    let world = World::new(
        r#"
apply:
  - {id: big, type: file, path: "{{ root }}/big", content: "small now\n"}
"#,
    );
    oversized(&world.path("big"));
    let (plan, json) = world.plan();
    let diff = common::node(&json, "apply.big")["diff"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        diff.contains("Content differs (16777217 → 10 bytes; too large to show)"),
        "{diff}"
    );
    let run = world.execute(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("big")), "small now\n");
}

#[test]
fn fifo_in_the_config_dir_does_not_hang_the_plan() {
    let world = World::new(
        r#"
apply:
  - {id: f, type: file, path: "{{ root }}/f", content: "x\n"}
"#,
    );
    std::fs::create_dir_all(world.config.join("files")).expect("mkdir");
    make_fifo(&world.config.join("files/pipe"));
    let (code, stderr) = run_with_deadline(&world, &["plan"]);
    assert_eq!(code, 0, "{stderr}");
}
