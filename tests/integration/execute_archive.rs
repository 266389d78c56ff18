//! `archive` on real files: created, re-made when an input changes or goes, left alone when
//! nothing changed (a second apply), dry runs that write nothing, globs and exclusions, stale
//! plans refused, and every format read back by the system's `tar` and `unzip`.

use std::path::Path;
use std::process::Command;

use crate::common::{self, World, read};

fn config(fields: &str) -> String {
    format!("apply:\n  - {{id: a, type: archive, {fields}}}\n")
}

/// `root/app` with two files, a directory and a link.
fn inputs(world: &World) {
    common::write(&world.path("app/main.conf"), b"port = 80\n");
    common::write(&world.path("app/lib/util.sh"), b"echo util\n");
    common::set_mode(&world.path("app/lib/util.sh"), 0o755);
    std::os::unix::fs::symlink("main.conf", world.path("app/current")).expect("symlink");
}

type Listing = std::collections::BTreeMap<String, String>;

/// The entries below `dir` (only `top` and what is below it, when given): a file's mode and
/// content, a link's target, a directory.
fn listing(dir: &Path, top: &str) -> Listing {
    fn walk(root: &Path, path: &Path, out: &mut Listing) {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            let path = entry.expect("entry").path();
            let name = path
                .strip_prefix(root)
                .expect("below")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let what = if meta.file_type().is_symlink() {
                format!(
                    "link -> {}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if meta.is_dir() {
                walk(root, &path, out);
                "dir".to_owned()
            } else {
                use std::os::unix::fs::PermissionsExt;
                format!(
                    "file {:o} {}",
                    meta.permissions().mode() & 0o777,
                    read(&path)
                )
            };
            out.insert(name, what);
        }
    }
    let mut out = Listing::new();
    if top.is_empty() {
        walk(dir, dir, &mut out);
    } else {
        walk(dir, &dir.join(top), &mut out);
        out.insert(top.to_owned(), "dir".to_owned());
    }
    out
}

/// What an archive holds, extracted by the system's tools into a fresh directory.
fn extracted(archive: &Path, zip: bool) -> Listing {
    let out = tempfile::tempdir().expect("temp dir");
    let status = if zip {
        Command::new("unzip")
            .arg("-q")
            .arg(archive)
            .arg("-d")
            .arg(out.path())
            .status()
    } else {
        Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(out.path())
            .status()
    }
    .expect("run tar or unzip");
    assert!(status.success(), "extracting {}", archive.display());
    listing(out.path(), "")
}

#[test]
fn an_archive_is_created_then_left_alone_then_made_again_when_an_input_changes() {
    let world = World::new(&config(
        "path: \"{{ root }}/app\", dest: \"{{ root }}/app.tar.gz\"",
    ));
    inputs(&world);
    let dest = world.path("app.tar.gz");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(!dest.exists(), "a dry run wrote the archive");

    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.a");
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["after"]["inputs"].as_array().map(Vec::len), Some(5));
    world.step("apply.a", "create");
    assert_eq!(extracted(&dest, false), listing(&world.root, "app"));
    // The record is a pax global header: `tar` lists only the inputs.
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&dest)
        .output()
        .expect("tar -t");
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "app/\napp/current\napp/lib/\napp/lib/util.sh\napp/main.conf\n"
    );
    world.step("apply.a", "no-op");

    // A changed input: the plan names it in the diff; the archive is made again.
    common::write(&world.path("app/main.conf"), b"port = 8080\n");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.a");
    assert_eq!(node["action"], "update", "{node:#}");
    let diff = node["diff"].as_str().expect("diff");
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("app/main.conf"))
            && diff
                .lines()
                .any(|l| l.starts_with('+') && l.contains("app/main.conf")),
        "{diff}"
    );
    assert!(
        !diff
            .lines()
            .any(|l| (l.starts_with('-') || l.starts_with('+')) && l.contains("util.sh")),
        "{diff}"
    );
    assert_ne!(
        node["before"]["inputs_sha256"],
        node["after"]["inputs_sha256"]
    );
    world.step("apply.a", "update");
    assert_eq!(
        extracted(&dest, false)["app/main.conf"],
        "file 644 port = 8080\n"
    );

    // A removed input: made again without it.
    std::fs::remove_file(world.path("app/lib/util.sh")).expect("remove");
    world.step("apply.a", "update");
    assert!(!extracted(&dest, false).contains_key("app/lib/util.sh"));
    world.step("apply.a", "no-op");
}

#[test]
fn globs_and_exclusions_choose_the_inputs() {
    let world = World::new(&config(
        "path: [\"{{ root }}/etc/*.conf\", \"{{ root }}/etc/extra\"], \
         exclude_path: \"{{ root }}/etc/skip*\", dest: \"{{ root }}/etc.tar\", format: tar",
    ));
    for name in [
        "a.conf",
        "b.conf",
        "skip.conf",
        "notes.txt",
        ".hidden.conf",
        "extra",
    ] {
        common::write(&world.path(&format!("etc/{name}")), name.as_bytes());
    }
    world.step("apply.a", "create");
    let names: Vec<String> = extracted(&world.path("etc.tar"), false)
        .into_keys()
        .collect();
    assert_eq!(names, ["a.conf", "b.conf", "extra"]);
    // A new file the glob matches makes the archive again.
    common::write(&world.path("etc/c.conf"), b"c");
    world.step("apply.a", "update");
    assert!(extracted(&world.path("etc.tar"), false).contains_key("c.conf"));
    world.assert_converged();
}

#[test]
fn every_format_reads_back_with_the_system_tools() {
    for (format, file) in [
        ("gz", "out.tgz"),
        ("bz2", "out.tbz2"),
        ("xz", "out.txz"),
        ("tar", "out.tar"),
        ("zip", "out.zip"),
    ] {
        let world = World::new(&config(&format!(
            "path: \"{{{{ root }}}}/app\", dest: \"{{{{ root }}}}/{file}\", format: {format}, mode: \"0600\""
        )));
        inputs(&world);
        world.step("apply.a", "create");
        let dest = world.path(file);
        assert_eq!(common::mode(&dest), 0o600, "{format}");
        assert_eq!(
            extracted(&dest, format == "zip"),
            listing(&world.root, "app"),
            "{format}"
        );
        world.step("apply.a", "no-op");
        // Another format is another archive: made again.
        let other = if format == "zip" { "tar" } else { "zip" };
        world.set_config(&config(&format!(
            "path: \"{{{{ root }}}}/app\", dest: \"{{{{ root }}}}/{file}\", format: {other}, mode: \"0600\""
        )));
        world.step("apply.a", "update");
    }
}

#[test]
fn an_input_or_archive_changed_since_the_plan_is_refused() {
    let world = World::new(&config(
        "path: \"{{ root }}/app\", dest: \"{{ root }}/app.zip\", format: zip",
    ));
    inputs(&world);
    let (plan_path, _) = world.plan();
    common::write(&world.path("app/main.conf"), b"changed\n");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.a") && run.stderr.contains("inputs"),
        "{}",
        run.all()
    );
    assert!(!world.path("app.zip").exists());

    world.apply();
    let (plan_path, _) = world.plan();
    common::write(&world.path("app.zip"), b"not the archive the plan saw");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert_eq!(read(&world.path("app.zip")), "not the archive the plan saw");
}

#[test]
fn an_archive_not_made_by_driftless_is_made_again_once() {
    let world = World::new(&config(
        "path: \"{{ root }}/app\", dest: \"{{ root }}/app.tar.gz\"",
    ));
    inputs(&world);
    let status = Command::new("tar")
        .arg("-czf")
        .arg(world.path("app.tar.gz"))
        .arg("-C")
        .arg(&world.root)
        .arg("app")
        .status()
        .expect("tar");
    assert!(status.success());
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.a");
    assert_eq!(node["action"], "update", "{node:#}");
    assert!(node["before"].get("inputs_sha256").is_none(), "{node:#}");
    world.step("apply.a", "update");
    world.step("apply.a", "no-op");
}

#[test]
fn an_archive_waits_for_the_task_managing_a_path_it_names() {
    let world = World::new(
        "apply:\n  - {id: d, type: directory, path: \"{{ root }}/app\"}\n  \
         - {id: a, type: archive, path: \"{{ root }}/app\", dest: \"{{ root }}/app.tar\", format: tar}\n",
    );
    inputs(&world);
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.a");
    assert_eq!(
        node["depends_on"],
        serde_json::json!([{"address": "apply.d", "reason": "archived path"}])
    );
    assert_eq!(node["after"]["inputs_managed"], true);
    world.apply();
    world.assert_converged();
}
