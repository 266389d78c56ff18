//! `get_url` against a real server on 127.0.0.1 (HTTP, and HTTPS with a test CA given as
//! `ca_file`): a download, a no-op re-run when the checksum matches, a checksum mismatch that
//! keeps the old file and fails the node, a 404 and a timeout that say whether a retry can
//! help, a redirect, a checksum file, `force` without a checksum, a secret header value that
//! is sent but never shown, a dry run that changes nothing and a stale plan refused.

use std::path::Path;

use crate::common::{self, World};
use crate::http_support::{Server, sha256_hex};

const DEST: &str = "apply.get_url:{root}/app.bin";

fn address(world: &World) -> String {
    DEST.replace("{root}", &world.root.display().to_string())
}

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
apply:
  - type: get_url
    url: "{url}"
    dest: "{{{{ root }}}}/app.bin"
{extra}"#
    )
}

/// The names in `dir`: no temp file left behind.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_download_with_a_checksum_is_written_then_left_alone() {
    let server = Server::http("t");
    let content = b"release 1\n".repeat(1000);
    server.put("app.bin", &content);
    let sum = sha256_hex(&content);
    let world = World::new(&config(
        &server.url("/files/app.bin"),
        &format!("    checksum: \"sha256:{sum}\"\n    mode: \"0750\"\n"),
    ));
    let (path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["action"], "create");
    assert_eq!(node["after"]["file"]["sha256"], sum.as_str());
    assert_eq!(node["after"]["fetch"], true);
    // Nothing is downloaded when planning.
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let shown = world.run(&["show", path.to_str().expect("utf-8")]).stdout;
    assert!(
        shown.contains(&format!(
            "download {} (sha256 {sum})",
            server.url("/files/app.bin")
        )),
        "{shown}"
    );
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(std::fs::read(world.path("app.bin")).expect("read"), content);
    assert_eq!(common::mode(&world.path("app.bin")), 0o750);
    world.assert_converged();
    let again = world.apply();
    assert_eq!(
        again.status_of(&address(&world)).as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
    assert_eq!(server.requests().len(), 1, "downloaded once");
    assert_eq!(names(&world.root), ["app.bin"]);
}

#[test]
fn a_checksum_mismatch_keeps_the_old_file_and_fails_the_node() {
    let server = Server::http("t");
    server.put("app.bin", b"tampered\n");
    let world = World::new(&config(
        &server.url("/files/app.bin"),
        &format!("    checksum: \"sha256:{}\"\n", sha256_hex(b"expected\n")),
    ));
    common::write(&world.path("app.bin"), b"old\n");
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(run.status_of(&address(&world)).as_deref(), Some("failed"));
    assert!(
        run.all()
            .contains(&format!("has sha256 {}", sha256_hex(b"tampered\n"))),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&world.path("app.bin")), "old\n");
    assert_eq!(names(&world.root), ["app.bin"]);
}

#[test]
fn a_missing_file_and_a_timeout_fail_saying_whether_a_retry_helps() {
    let server = Server::http("t");
    let world = World::new(&config(&server.url("/files/missing.bin"), ""));
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("answered HTTP 404"), "{}", run.all());
    assert!(run.all().contains("a retry will not help"), "{}", run.all());
    assert!(!world.path("app.bin").exists());

    world.set_config(&config(&server.url("/slow"), "    timeout: 1s\n"));
    let started = std::time::Instant::now();
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(run.all().contains("within 1s"), "{}", run.all());
    assert!(run.all().contains("a retry may succeed"), "{}", run.all());
    assert_eq!(names(&world.root), Vec::<String>::new());
}

#[test]
fn redirects_are_followed() {
    let server = Server::http("t");
    server.put("real.bin", b"moved here\n");
    let world = World::new(&config(&server.url("/redirect/real.bin"), ""));
    world.apply();
    assert_eq!(common::read(&world.path("app.bin")), "moved here\n");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(paths, ["/redirect/real.bin", "/files/real.bin"]);
}

#[test]
fn a_checksum_file_is_read_when_planning() {
    let server = Server::http("t");
    server.put("app.bin", b"v2\n");
    server.put(
        "SHA256SUMS",
        format!(
            "{}  other.bin\n{}  app.bin\n",
            sha256_hex(b"other"),
            sha256_hex(b"v2\n")
        )
        .as_bytes(),
    );
    let world = World::new(&config(
        &server.url("/files/app.bin"),
        &format!(
            "    checksum: \"sha256:{}\"\n",
            server.url("/files/SHA256SUMS")
        ),
    ));
    let (_, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["after"]["checksum"], sha256_hex(b"v2\n").as_str());
    world.apply();
    assert_eq!(common::read(&world.path("app.bin")), "v2\n");
    world.assert_converged();
}

#[test]
fn without_a_checksum_an_existing_file_is_kept_unless_forced() {
    let server = Server::http("t");
    server.put("app.bin", b"served\n");
    let world = World::new(&config(&server.url("/files/app.bin"), ""));
    common::write(&world.path("app.bin"), b"mine\n");
    common::set_mode(&world.path("app.bin"), 0o644);
    world.assert_converged();
    assert_eq!(common::read(&world.path("app.bin")), "mine\n");

    world.set_config(&config(&server.url("/files/app.bin"), "    force: true\n"));
    let run = world.apply();
    assert_eq!(run.status_of(&address(&world)).as_deref(), Some("changed"));
    assert_eq!(common::read(&world.path("app.bin")), "served\n");
    // Forced again: fetched, the same bytes, nothing changed.
    let run = world.apply();
    assert_eq!(
        run.status_of(&address(&world)).as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
}

#[test]
fn https_with_the_test_ca_as_ca_file() {
    let server = Server::https("t");
    server.put("app.bin", b"over tls\n");
    let url = server.url("/files/app.bin");
    let world = World::new(&config(&url, ""));
    // The host does not trust the test CA.
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!world.path("app.bin").exists());

    let ca = server.ca();
    world.set_config(&config(
        &url,
        &format!("    ca_file: \"{}\"\n", ca.display()),
    ));
    world.apply();
    assert_eq!(common::read(&world.path("app.bin")), "over tls\n");
    world.assert_converged();
}

#[test]
fn a_secret_header_is_sent_but_never_shown() {
    let secret = "s3cr3t-t0ken-4e1f9a";
    let server = Server::http(secret);
    server.put("app.bin", b"private\n");
    let mut world = World::new(&config(
        &server.url("/private/app.bin"),
        "    headers:\n      X-Token: \"{{ secrets.TOKEN }}\"\n",
    ));
    world.envs.push(("TOKEN".to_owned(), secret.to_owned()));
    let plan_run = world.run(&["plan"]);
    assert_eq!(plan_run.code, 0, "{}", plan_run.all());
    let (path, plan) = world.plan();
    let node = common::node(&plan, &address(&world));
    assert_eq!(node["after"]["headers"]["X-Token"], "(sensitive)");
    assert_eq!(node["after_sensitive"]["headers"]["X-Token"], true);
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(common::read(&world.path("app.bin")), "private\n");
    // Header names travel in lower case (HTTP/1.1 names are case-insensitive).
    let sent = &server.requests()[0]["headers"];
    let token = sent
        .as_object()
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-token")))
        .map(|(_, v)| v.clone());
    assert_eq!(token, Some(serde_json::Value::from(secret)));
    let dry = world.run(&["apply", "--dry-run"]);
    let reports = serde_json::to_string(&world.reports()).expect("json");
    for output in [
        plan_run.all(),
        show.all(),
        run.all(),
        dry.all(),
        reports,
        common::read(&path),
    ] {
        assert!(!output.contains(secret), "the secret leaked:\n{output}");
    }
}

#[test]
fn a_dry_run_downloads_nothing_and_a_stale_plan_is_refused() {
    let server = Server::http("t");
    server.put("app.bin", b"new\n");
    let world = World::new(&config(
        &server.url("/files/app.bin"),
        &format!("    checksum: \"sha256:{}\"\n", sha256_hex(b"new\n")),
    ));
    common::write(&world.path("app.bin"), b"old\n");
    let before = common::tree(&world.root);
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(common::tree(&world.root), before);
    assert!(server.requests().is_empty());

    let (path, _) = world.plan();
    common::write(&world.path("app.bin"), b"changed meanwhile\n");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains(&address(&world)), "{}", run.all());
    assert!(
        run.all().contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&world.path("app.bin")), "changed meanwhile\n");
    assert!(server.requests().is_empty());
}

#[test]
fn a_download_over_max_size_is_refused_and_nothing_is_left() {
    let server = Server::http("t");
    server.put("big.bin", &[7u8; 4096]);
    let world = World::new(&config(
        &server.url("/files/big.bin"),
        "    max_size: 1000\n",
    ));
    let run = world.run(&["apply"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("is larger than 1000 bytes (`max_size`)"),
        "{}",
        run.all()
    );
    assert_eq!(names(&world.root), Vec::<String>::new());
}
