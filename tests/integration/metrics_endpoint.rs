//! The `/metrics` endpoint with node_exporter's web config (issue 14): TLS (plain HTTP
//! refused), client certificates, basic auth, bad web configs refused with the file, line and
//! column, node_exporter's `collect[]`/`exclude[]` filters, and the limits (slow TLS clients,
//! connections, header size, requests per client). Each test runs the real
//! `driftless facts --serve`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::facts_support::*;
use crate::metrics_tls_support::*;

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(Certs::new)
}

/// Serves with a web config of `text` (written next to the test certificates).
fn serve_with(name: &str, text: &str) -> (Guard, u16) {
    let path = certs().path(name);
    std::fs::write(&path, text).expect("write web config");
    serve(&[
        "--no-config",
        "--web.config.file",
        path.to_str().expect("utf-8"),
    ])
}

const TLS: &str = "tls_server_config:\n  cert_file: leaf.pem\n  key_file: leaf.key\n";

fn trusting_client() -> std::sync::Arc<rustls::ClientConfig> {
    client_config(&certs().path("ca.pem"), None)
}

#[test]
fn tls_serves_metrics_and_plain_http_is_refused() {
    let (_server, port) = serve_with("tls.yml", TLS);
    let answer = https(port, &trusting_client(), "/metrics", &[]).expect("HTTPS scrape");
    assert_eq!(answer.status, 200);
    assert!(answer.text().contains("node_load1 "), "{}", answer.text());

    let plain = http(port, "GET", "/metrics", &[]);
    assert_eq!(plain.status, 400);
    assert_eq!(
        plain.text(),
        "Client sent an HTTP request to an HTTPS server.\n"
    );
    assert!(!plain.text().contains("node_"));
}

#[test]
fn require_and_verify_client_cert_takes_only_clients_of_the_ca() {
    let (_server, port) = serve_with(
        "mtls.yml",
        &format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"),
    );
    let ca = certs().path("ca.pem");
    let with =
        |cert: &str, key: &str| client_config(&ca, Some((&certs().path(cert), &certs().path(key))));
    let ok = https(port, &with("client.pem", "client.key"), "/metrics", &[])
        .expect("scrape with a client certificate");
    assert_eq!(ok.status, 200);
    assert!(
        https(port, &client_config(&ca, None), "/metrics", &[]).is_err(),
        "a client without a certificate was served"
    );
    assert!(
        https(port, &with("stranger.pem", "stranger.key"), "/metrics", &[]).is_err(),
        "a client with a certificate of another CA was served"
    );
}

#[test]
fn basic_auth_takes_the_right_password_only_and_answers_others_alike() {
    let (_server, port) = serve_with(
        "auth.yml",
        &format!(
            "{TLS}basic_auth_users:\n  {USER}: '{}'\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
            password_hash()
        ),
    );
    let client = trusting_client();
    let right = basic(USER, PASSWORD);
    let ok = https(port, &client, "/metrics", &[("Authorization", &right)]).expect("scrape");
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("node_load1 "));
    assert_eq!(
        ok.headers.get("x-content-type-options").map(String::as_str),
        Some("nosniff")
    );

    let wrong_password = basic(USER, "wrong");
    let unknown_user = basic("mallory", PASSWORD);
    let refusals = [
        https(
            port,
            &client,
            "/metrics",
            &[("Authorization", &wrong_password)],
        ),
        https(
            port,
            &client,
            "/metrics",
            &[("Authorization", &unknown_user)],
        ),
        https(
            port,
            &client,
            "/metrics",
            &[("Authorization", "Bearer token")],
        ),
        https(port, &client, "/metrics", &[]),
    ];
    for refused in refusals {
        let refused = refused.expect("an answer");
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.headers.get("www-authenticate").map(String::as_str),
            Some("Basic")
        );
        assert_eq!(refused.text(), "Unauthorized\n");
    }
}

/// Runs `driftless facts --serve` with a web config that must be refused; returns stderr.
fn refused(name: &str, text: &str) -> String {
    let path = certs().path(name);
    std::fs::write(&path, text).expect("write web config");
    let out = Command::new(driftless())
        .args(["facts", "--no-config", "--serve", "127.0.0.1:0"])
        .arg("--web.config.file")
        .arg(&path)
        .output()
        .expect("run driftless");
    assert!(!out.status.success(), "a bad web config was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_web_configs_are_refused_at_the_field() {
    let err = refused(
        "plain-password.yml",
        "basic_auth_users:\n  alice: hunter2-in-the-clear\n",
    );
    assert!(err.contains("not a bcrypt hash"), "{err}");
    assert!(err.contains("plain-password.yml:2:3"), "{err}");
    assert!(!err.contains("hunter2"), "the password was shown: {err}");

    let err = refused(
        "unknown-field.yml",
        "tls_server_config:\n  cert_file: leaf.pem\n  key_file: leaf.key\n  client_auth: RequireAndVerifyClientCert\n",
    );
    assert!(err.contains("client_auth"), "{err}");
    assert!(err.contains("unknown-field.yml:4:3"), "{err}");

    let err = refused("tls10.yml", &format!("{TLS}  min_version: TLS10\n"));
    assert!(
        err.contains("`min_version: TLS10` cannot be honoured"),
        "{err}"
    );
    assert!(err.contains("tls10.yml:4:16"), "{err}");

    let err = refused(
        "cbc.yml",
        &format!("{TLS}  max_version: TLS12\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"),
    );
    assert!(
        err.contains("cipher suite TLS_RSA_WITH_AES_128_CBC_SHA cannot be honoured"),
        "{err}"
    );

    let err = refused(
        "no-ca.yml",
        &format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n"),
    );
    assert!(err.contains("needs the client CAs"), "{err}");

    let err = refused(
        "missing-key.yml",
        "tls_server_config:\n  cert_file: leaf.pem\n  key_file: nowhere.key\n",
    );
    assert!(err.contains("nowhere.key"), "{err}");
    assert!(err.contains("missing-key.yml:3:13"), "{err}");
}

#[test]
fn settings_metrics_web_config_is_checked_and_used() {
    let config = config_dir(&format!(
        "settings:\n  metrics:\n    web_config: {}\n",
        certs().path("settings-tls.yml").display()
    ));
    std::fs::write(certs().path("settings-tls.yml"), TLS).expect("write web config");
    let (_server, port) = serve(&["-c", config.path().to_str().expect("utf-8")]);
    let answer = https(port, &trusting_client(), "/metrics", &[]).expect("HTTPS scrape");
    assert_eq!(answer.status, 200);

    let bad = config_dir(
        "settings:\n  metrics:\n    web_config: ''\n    limits:\n      max_connections: 0\n      tls: yes\n",
    );
    let out = Command::new(driftless())
        .args(["check", "-c"])
        .arg(bad.path())
        .output()
        .expect("run driftless check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("`web_config` is empty"), "{err}");
    assert!(err.contains("facts.yaml:3:17"), "{err}");
    assert!(
        err.contains("`max_connections` must be at least 1"),
        "{err}"
    );
    assert!(err.contains("facts.yaml:5:24"), "{err}");
    assert!(err.contains("tls"), "{err}");
}

/// The node_exporter collector names in a scrape's `node_scrape_collector_success`.
fn scraped_collectors(text: &str) -> Vec<String> {
    samples(text)
        .into_iter()
        .filter(|s| s.name == "node_scrape_collector_success")
        .filter_map(|s| {
            s.labels
                .iter()
                .find(|(k, _)| k == "collector")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

#[test]
fn collect_and_exclude_filter_as_node_exporter() {
    let (_server, port) = serve(&["--no-config"]);
    let all = scraped_collectors(&http(port, "GET", "/metrics", &[]).text());
    assert!(all.len() >= 3, "{all:?}");
    let (first, second) = (&all[0], &all[1]);

    let only = http(
        port,
        "GET",
        &format!("/metrics?collect[]={first}&collect%5B%5D={second}"),
        &[],
    );
    assert_eq!(only.status, 200);
    let mut got = scraped_collectors(&only.text());
    got.sort();
    let mut want = vec![first.clone(), second.clone()];
    want.sort();
    assert_eq!(got, want);

    let without = http(port, "GET", &format!("/metrics?exclude[]={first}"), &[]);
    assert_eq!(without.status, 200);
    let got = scraped_collectors(&without.text());
    assert_eq!(got.len(), all.len() - 1);
    assert!(!got.contains(first));

    let unknown = http(port, "GET", "/metrics?collect[]=nope", &[]);
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.text(),
        "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope"
    );
    let both = http(
        port,
        "GET",
        &format!("/metrics?collect[]={first}&exclude[]={second}"),
        &[],
    );
    assert_eq!(both.status, 400);
    assert_eq!(
        both.text(),
        "Combined collect and exclude queries are not allowed."
    );
}

/// Sockets that start a TLS handshake and send the rest of it one byte at a time never hold
/// up a scrape: the handshake runs in the poller, without waiting.
#[test]
fn slow_tls_handshakes_do_not_delay_a_concurrent_scrape() {
    let (_server, port) = serve_with("slow.yml", TLS);
    // The first bytes of a TLS ClientHello record: type 22, version 3.1, a length.
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.write_all(&[22, 3, 1, 0, 200, 1]).expect("write");
            s
        })
        .collect();
    let client = trusting_client();
    for _ in 0..10 {
        for s in &mut slow {
            let _ = s.write_all(&[0]);
        }
        let started = Instant::now();
        let answer = https(port, &client, "/metrics", &[]).expect("scrape");
        assert_eq!(answer.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a scrape took {:?} beside slow handshakes",
            started.elapsed()
        );
    }
}

/// A config dir whose `settings.metrics.limits` are `limits` (YAML, indented 6).
fn limited(limits: &str) -> tempfile::TempDir {
    config_dir(&format!("settings:\n  metrics:\n    limits:\n{limits}"))
}

#[test]
fn connections_past_the_limit_are_closed() {
    let config = limited("      max_connections: 4\n");
    let (_server, port) = serve(&["-c", config.path().to_str().expect("utf-8")]);
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    // The server keeps at most 4: the others are closed (the oldest waiting first).
    std::thread::sleep(Duration::from_millis(300));
    let closed = idle
        .iter_mut()
        .filter(|s: &&mut TcpStream| {
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            match (&**s).read(&mut [0u8; 16]) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            }
        })
        .count();
    assert!(closed >= 6, "only {closed} of 10 connections were closed");
    // And a scrape still gets in.
    assert_eq!(http(port, "GET", "/metrics", &[]).status, 200);
}

#[test]
fn a_request_head_too_large_is_refused() {
    let config = limited("      max_header_bytes: 1024\n");
    let (_server, port) = serve(&["-c", config.path().to_str().expect("utf-8")]);
    let big = "x".repeat(2000);
    let answer = http(port, "GET", "/metrics", &[("X-Big", &big)]);
    assert_eq!(answer.status, 431);
    assert_eq!(
        http(port, "GET", "/metrics", &[("X-Small", "y")]).status,
        200
    );
}

#[test]
fn a_client_past_its_request_rate_gets_429() {
    let config = limited("      client_burst: 3\n      client_interval: 1m\n");
    let (_server, port) = serve(&["-c", config.path().to_str().expect("utf-8")]);
    for _ in 0..3 {
        assert_eq!(http(port, "GET", "/metrics", &[]).status, 200);
    }
    let refused = http(port, "GET", "/metrics", &[]);
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.headers.get("retry-after").map(String::as_str),
        Some("60")
    );
}
