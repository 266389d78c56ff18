//! `unarchive`: real archives built by the test — tar, tar.gz, tar.xz (the `xz` program) and
//! zip — extracted, updated with new content, re-run as a no-op, dry-run, a stale plan
//! refused; hostile archives (`../x`, `/abs`, a symbolic link out and a file through it, a
//! file under a link the archive makes, a hard link out) refused when planning, nothing
//! written; `strip_components`, `exclude`, `creates`; an archive downloaded by `get_url` in
//! the same run.

use std::io::Write;
use std::path::Path;

use crate::common::{self, World};
use crate::http_support::{Server, sha256_hex};

/// One entry of a test archive, its name written as is (hostile ones included).
enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

fn tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, Option<&str>) =
            match entry {
                E::File(name, data, mode) => (name, tar::EntryType::Regular, data, *mode, None),
                E::Dir(name) => (name, tar::EntryType::Directory, b"", 0o755, None),
                E::Symlink(name, target) => {
                    (name, tar::EntryType::Symlink, b"", 0o777, Some(target))
                }
                E::HardLink(name, target) => (name, tar::EntryType::Link, b"", 0o644, Some(target)),
            };
        let gnu = header.as_gnu_mut().expect("gnu header");
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            gnu.linkname = [0; 100];
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, data).expect("append");
    }
    builder.into_inner().expect("tar")
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("xz")
        .args(["-c", "-z"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xz (Debian `xz-utils`) must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("feed xz");
    let out = child.wait_with_output().expect("xz");
    assert!(out.status.success());
    out.stdout
}

fn zip(entries: &[E<'_>]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for entry in entries {
        match entry {
            E::File(name, data, mode) => {
                writer
                    .start_file(*name, options.unix_permissions(*mode))
                    .expect("zip file");
                writer.write_all(data).expect("zip data");
            }
            E::Dir(name) => writer.add_directory(*name, options).expect("zip dir"),
            E::Symlink(name, target) => writer
                .add_symlink(*name, *target, options)
                .expect("zip link"),
            E::HardLink(..) => panic!("zip has no hard links"),
        }
    }
    writer.finish().expect("zip").into_inner()
}

const APP_V1: &[E<'static>] = &[
    E::Dir("app-1/"),
    E::File("app-1/README", b"version 1\n", 0o644),
    E::Dir("app-1/bin/"),
    E::File("app-1/bin/run", b"#!/bin/sh\necho run\n", 0o755),
    E::Symlink("app-1/current", "bin/run"),
];

fn world_for(archive_name: &str, archive: &[u8], extra: &str) -> World {
    let world = World::new(&format!(
        r#"
apply:
  - id: app
    type: unarchive
    src: files/{archive_name}
    dest: "{{{{ root }}}}/app"
{extra}"#
    ));
    common::write(&world.config.join("files").join(archive_name), archive);
    std::fs::create_dir(world.path("app")).expect("mkdir dest");
    world
}

#[test]
fn every_format_extracts_and_a_rerun_changes_nothing() {
    let plain = tar(APP_V1);
    let formats: [(&str, Vec<u8>); 4] = [
        ("app.tar", plain.clone()),
        ("app.tar.gz", gz(&plain)),
        ("app.tar.xz", xz(&plain)),
        ("app.zip", zip(APP_V1)),
    ];
    for (name, bytes) in formats {
        let world = world_for(name, &bytes, "    strip_components: 1\n");
        let (_, plan) = world.plan();
        let node = common::node(&plan, "apply.app");
        assert_eq!(node["action"], "create", "{name}: {node:#}");
        let changes = node["after"]["changes"].as_array().expect("changes");
        let paths: Vec<&str> = changes
            .iter()
            .map(|c| c["path"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(paths, ["README", "bin", "bin/run", "current"], "{name}");
        world.apply();
        let app = world.path("app");
        assert_eq!(common::read(&app.join("README")), "version 1\n", "{name}");
        assert_eq!(common::mode(&app.join("bin/run")), 0o755, "{name}");
        assert_eq!(
            std::fs::read_link(app.join("current")).expect("link"),
            Path::new("bin/run"),
            "{name}"
        );
        world.assert_converged();
        let again = world.apply();
        assert_eq!(
            again.status_of("apply.app").as_deref(),
            Some("unchanged"),
            "{name}"
        );
    }
}

#[test]
fn new_archive_content_replaces_what_changed_only() {
    let world = world_for("app.tar.gz", &gz(&tar(APP_V1)), "    strip_components: 1\n");
    world.apply();
    let untouched = std::fs::symlink_metadata(world.path("app/bin/run")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.ino()
    });
    let v2 = [
        E::Dir("app-1/"),
        E::File("app-1/README", b"version 2\n", 0o644),
        E::Dir("app-1/bin/"),
        E::File("app-1/bin/run", b"#!/bin/sh\necho run\n", 0o755),
        E::Symlink("app-1/current", "bin/run"),
        E::File("app-1/NEWS", b"new\n", 0o644),
    ];
    common::write(&world.config.join("files/app.tar.gz"), &gz(&tar(&v2)));
    let (path, plan) = world.plan();
    let node = common::node(&plan, "apply.app");
    assert_eq!(node["action"], "update");
    let changes: Vec<(String, String)> = node["after"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default().to_owned(),
                c["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("replace".to_owned(), "README".to_owned()),
            ("create".to_owned(), "NEWS".to_owned())
        ]
    );
    let shown = world.run(&["show", path.to_str().expect("utf-8")]).stdout;
    assert!(
        shown.contains("replace file README (10 bytes, sha256 "),
        "{shown}"
    );
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("app/README")), "version 2\n");
    assert_eq!(common::read(&world.path("app/NEWS")), "new\n");
    let after = std::fs::symlink_metadata(world.path("app/bin/run")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.ino()
    });
    assert_eq!(
        untouched.ok(),
        after.ok(),
        "an unchanged file is not rewritten"
    );
    world.assert_converged();
}

#[test]
fn a_dry_run_writes_nothing_and_a_stale_plan_is_refused() {
    let world = world_for("app.tar", &tar(APP_V1), "");
    let before = common::tree(&world.root);
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("create file app-1/README"),
        "{}",
        dry.all()
    );
    assert_eq!(common::tree(&world.root), before);

    let (path, _) = world.plan();
    common::write(&world.path("app/app-1/README"), b"made meanwhile\n");
    let snapshot = common::tree(&world.root);
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("apply.app"), "{}", run.all());
    assert!(
        run.all().contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(common::tree(&world.root), snapshot);
}

#[test]
fn hostile_archives_are_refused_before_anything_is_written() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot.tar",
            tar(&[E::File("ok", b"ok", 0o644), E::File("../x", b"x", 0o644)]),
            "leaves the destination",
        ),
        (
            "abs.tar",
            tar(&[E::File("/tmp/driftless-abs", b"x", 0o644)]),
            "absolute path",
        ),
        (
            "link-out.tar",
            tar(&[
                E::Symlink("evil", "../outside"),
                E::File("evil/f", b"x", 0o644),
            ]),
            "points out of the destination",
        ),
        (
            "link-abs.tar",
            tar(&[E::Symlink("evil", "/etc")]),
            "points to an absolute path",
        ),
        (
            "through-link.tar",
            tar(&[
                E::Dir("sub/"),
                E::Symlink("l", "sub"),
                E::File("l/f", b"x", 0o644),
            ]),
            "a symbolic link the archive makes",
        ),
        (
            "hard-out.tar",
            tar(&[E::HardLink("h", "../outside/secret")]),
            "points out of the destination",
        ),
        (
            "hard-abs.tar",
            tar(&[E::HardLink("h", "/etc/passwd")]),
            "points out of the destination",
        ),
        (
            "zip-dotdot.zip",
            zip(&[E::File("a", b"a", 0o644), E::File("../../x", b"x", 0o644)]),
            "leaves the destination",
        ),
        (
            "zip-link-out.zip",
            zip(&[E::Symlink("evil", "../../x")]),
            "points out of the destination",
        ),
    ];
    for (name, bytes, why) in cases {
        let world = world_for(name, &bytes, "");
        common::write(&world.path("outside/secret"), b"secret\n");
        let before = common::tree(&world.root);
        let run = world.run(&["apply"]);
        assert_ne!(run.code, 0, "{name}: {}", run.all());
        assert!(run.all().contains(why), "{name}: {}", run.all());
        assert_eq!(common::tree(&world.root), before, "{name}");
        assert!(!Path::new("/tmp/driftless-abs").exists());
    }
}

#[test]
fn a_link_on_the_host_inside_dest_is_not_extracted_through() {
    let world = world_for("app.tar", &tar(&[E::File("sub/f", b"x", 0o644)]), "");
    std::fs::create_dir(world.path("outside")).expect("mkdir");
    std::os::unix::fs::symlink(world.path("outside"), world.path("app/sub")).expect("symlink");
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("is a symbolic link"), "{}", run.all());
    assert!(!world.path("outside/f").exists());
}

#[test]
fn strip_components_exclude_and_creates() {
    let archive = tar(&[
        E::File("top/keep.txt", b"keep\n", 0o644),
        E::File("top/docs/manual.md", b"manual\n", 0o644),
        E::File("top/notes.md", b"notes\n", 0o644),
        E::File("top/data/a.bin", b"a", 0o600),
    ]);
    let world = world_for(
        "app.tar",
        &archive,
        "    strip_components: 1\n    exclude: [docs, \"*.md\"]\n    mode: \"0640\"\n",
    );
    world.apply();
    assert_eq!(common::read(&world.path("app/keep.txt")), "keep\n");
    assert_eq!(common::mode(&world.path("app/keep.txt")), 0o640);
    assert!(!world.path("app/docs").exists());
    assert!(!world.path("app/notes.md").exists());
    assert!(world.path("app/data/a.bin").exists());
    world.assert_converged();

    // With `creates` there, nothing is extracted.
    let other = world_for(
        "app.tar",
        &archive,
        &format!("    creates: \"{}\"\n", "{{ root }}/app/.installed"),
    );
    common::write(&other.path("app/.installed"), b"");
    let (_, plan) = other.plan();
    assert_eq!(common::action(&plan, "apply.app"), "no-op");
    other.apply();
    assert!(!other.path("app/top").exists());
}

#[test]
fn an_archive_downloaded_in_the_same_run_is_extracted_after_it() {
    let server = Server::http("t");
    let v1 = gz(&tar(APP_V1));
    server.put("app.tar.gz", &v1);
    let config = |sum: &str| {
        format!(
            r#"
apply:
  - id: fetch
    type: get_url
    url: "{}"
    dest: "{{{{ root }}}}/app.tar.gz"
    checksum: "sha256:{sum}"
  - id: app
    type: directory
    path: "{{{{ root }}}}/app"
  - id: unpack
    type: unarchive
    src: "{{{{ root }}}}/app.tar.gz"
    remote_src: true
    dest: "{{{{ root }}}}/app"
    strip_components: 1
"#,
            server.url("/files/app.tar.gz")
        )
    };
    let world = World::new(&config(&sha256_hex(&v1)));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.unpack");
    assert_eq!(node["action"], "run");
    let reasons: Vec<&str> = node["depends_on"]
        .as_array()
        .expect("depends_on")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"archive source"), "{node:#}");
    world.apply();
    assert_eq!(common::read(&world.path("app/README")), "version 1\n");
    world.assert_converged();

    // A new release: downloaded, then extracted.
    let v2 = gz(&tar(&[E::File("app-1/README", b"version 2\n", 0o644)]));
    server.put("app.tar.gz", &v2);
    world.set_config(&config(&sha256_hex(&v2)));
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.unpack").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&world.path("app/README")), "version 2\n");
    world.assert_converged();
}

#[test]
fn a_dest_made_by_a_task_of_the_same_run_is_extracted_into() {
    let world = World::new(
        r#"
apply:
  - id: dir
    type: directory
    path: "{{ root }}/opt/app"
    parents: true
  - id: app
    type: unarchive
    src: files/app.tar
    dest: "{{ root }}/opt/app"
"#,
    );
    common::write(&world.config.join("files/app.tar"), &tar(APP_V1));
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.app"), "create");
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        common::read(&world.path("opt/app/app-1/README")),
        "version 1\n"
    );
    world.assert_converged();
}

#[test]
fn owner_and_group_are_given_to_everything_extracted() {
    use std::os::unix::fs::MetadataExt;
    // Giving files away takes root: the test machine runs the tests as root.
    if running_uid() != 0 {
        panic!("this test needs root (chown)");
    }
    let world = world_for(
        "app.tar",
        &tar(APP_V1),
        "    owner: \"65534\"\n    group: \"65534\"\n",
    );
    world.apply();
    for path in [
        "app/app-1",
        "app/app-1/README",
        "app/app-1/bin/run",
        "app/app-1/current",
    ] {
        let meta = std::fs::symlink_metadata(world.path(path)).expect("metadata");
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{path}");
    }
    world.assert_converged();
    let report = world.reports().pop().expect("a report");
    let node = report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["address"] == "apply.app")
        .cloned()
        .expect("the node in the report");
    assert!(
        node.to_string().contains("create file app-1/README"),
        "{node:#}"
    );
}

/// The uid the tests run as (the owner of `/proc/self`).
fn running_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid()
        })
        .unwrap_or(u32::MAX)
}

#[test]
fn a_resealed_plan_hiding_an_entry_from_show_is_refused() {
    let world = world_for("app.tar", &tar(APP_V1), "");
    let (path, mut plan) = world.plan();
    let nodes = plan["nodes"].as_array_mut().expect("nodes");
    let node = nodes
        .iter_mut()
        .find(|n| n["address"] == "apply.app")
        .expect("node");
    let changes = node["after"]["changes"].as_array_mut().expect("changes");
    changes.retain(|c| c["path"] != "app-1/bin/run");
    common::reseal(&mut plan);
    common::write(
        &path,
        serde_json::to_string_pretty(&plan)
            .expect("json")
            .as_bytes(),
    );
    let before = common::tree(&world.root);
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all()
            .contains("the plan's list of changes is not what the archive makes"),
        "{}",
        run.all()
    );
    assert_eq!(common::tree(&world.root), before);
}
