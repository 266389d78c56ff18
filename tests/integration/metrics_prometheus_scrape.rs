//! Prometheus's real scrape of a secured endpoint (issue 14): Debian's `prometheus` scrapes
//! `driftless facts --serve` over TLS with basic auth (a web-config.yml as node_exporter takes
//! it; the CA and certificates made with `openssl`), and one series of every family driftless
//! serves is found through Prometheus's HTTP API. Beside it, Debian's node_exporter (default
//! collectors) runs on the same machine: its `/metrics` is compared with driftless's family by
//! family and label set by label set, and every family node_exporter has here must be in
//! driftless's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::facts_support::*;
use crate::metrics_tls_support::*;

/// The exporter's own runtime, which is Go's in node_exporter: not host metrics.
fn is_go_runtime(name: &str) -> bool {
    name.starts_with("go_") || name.starts_with("promhttp_") || name == "node_exporter_build_info"
}

/// A sample's family: its name without the suffixes a histogram or summary adds.
fn family_of<'a>(name: &'a str, families: &BTreeSet<String>) -> &'a str {
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families.contains(base)
        {
            return base;
        }
    }
    name
}

/// Family name to the label sets of its samples.
fn by_family(text: &str) -> BTreeMap<String, BTreeSet<Vec<(String, String)>>> {
    let declared: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let mut families: BTreeMap<String, BTreeSet<Vec<(String, String)>>> = BTreeMap::new();
    for sample in samples(text) {
        let family = family_of(&sample.name, &declared).to_owned();
        families.entry(family).or_default().insert(sample.labels);
    }
    families
}

/// node_exporter 1.5 (Debian) with its default collectors, scraped once after a warm-up.
fn node_exporter_recording() -> String {
    let port = free_port();
    let child = Command::new(test_deps_bin().join("prometheus-node-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-node-exporter");
    let _guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "node_exporter never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = http(port, "GET", "/metrics", &[]);
    assert_eq!(answer.status, 200);
    if answer
        .headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        dechunk(&answer.body)
    } else {
        answer.text()
    }
}

/// The body of a chunked answer (Go chunks a large answer to HTTP/1.1).
fn dechunk(mut raw: &[u8]) -> String {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return String::from_utf8_lossy(&body).into_owned();
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[test]
fn prometheus_scrapes_driftless_over_tls_with_basic_auth_and_every_node_exporter_family_is_there() {
    let certs = Certs::new();
    let web_config = certs.web_config(&format!(
        "tls_server_config:\n  cert_file: leaf.pem\n  key_file: leaf.key\nbasic_auth_users:\n  {USER}: '{}'\n",
        password_hash()
    ));
    let (_driftless, port) = serve(&[
        "--no-config",
        "--web.config.file",
        web_config.to_str().expect("utf-8"),
    ]);
    let prometheus = Prometheus::start(&format!(
        "  - job_name: driftless\n    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: {USER}\n      password: '{PASSWORD}'\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
        certs.path("ca.pem").display()
    ));
    prometheus.wait_until_up("driftless");

    let client = client_config(&certs.path("ca.pem"), None);
    let authorization = basic(USER, PASSWORD);
    let driftless_text = https(
        port,
        &client,
        "/metrics",
        &[("Authorization", &authorization)],
    )
    .expect("scrape driftless")
    .text();
    let driftless = by_family(&driftless_text);

    // One series of every family, through Prometheus's HTTP API.
    let sample_names: BTreeSet<String> = samples(&driftless_text)
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut not_in_prometheus = Vec::new();
    for name in &sample_names {
        let found = query(
            prometheus.port,
            &format!("count({{__name__=\"{name}\",job=\"driftless\"}})"),
        );
        if found["data"]["result"][0]["value"][1].as_str().is_none() {
            not_in_prometheus.push(name.clone());
        }
    }
    assert!(
        not_in_prometheus.is_empty(),
        "series driftless serves that Prometheus does not have: {not_in_prometheus:?}"
    );

    // node_exporter on this machine, family by family and label set by label set.
    let recording = node_exporter_recording();
    let node_exporter = by_family(&recording);
    let mut missing = Vec::new();
    let mut other_label_names = Vec::new();
    let mut other_label_sets = Vec::new();
    for (family, ne_sets) in node_exporter.iter().filter(|(f, _)| !is_go_runtime(f)) {
        let Some(ours) = driftless.get(family) else {
            missing.push(family.clone());
            continue;
        };
        let names = |sets: &BTreeSet<Vec<(String, String)>>| -> BTreeSet<String> {
            sets.iter().flatten().map(|(k, _)| k.clone()).collect()
        };
        if names(ne_sets) != names(ours) {
            other_label_names.push(format!(
                "{family}: node_exporter {:?}, driftless {:?}",
                names(ne_sets),
                names(ours)
            ));
        }
        let only_ne: Vec<_> = ne_sets.difference(ours).collect();
        if !only_ne.is_empty() {
            other_label_sets.push(format!("{family}: only node_exporter has {only_ne:?}"));
        }
    }
    // Label values that differ (a device that came or went between the two scrapes, a
    // collector name) are printed for a reader; families and label names must match.
    for difference in &other_label_sets {
        eprintln!("label sets differ: {difference}");
    }
    assert!(
        missing.is_empty() && other_label_names.is_empty(),
        "{} node_exporter families missing from driftless: {missing:?}\nlabel names differ: {other_label_names:#?}",
        missing.len()
    );
}
