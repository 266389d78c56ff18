//! Debian's node_exporter and `driftless facts --serve` on this machine, each with its
//! default collectors, compared /metrics to /metrics: every family node_exporter shows must be
//! in driftless's with the same type and the same label names, and every node_exporter
//! collector that ran must be reported under its name in `node_scrape_collector_success`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use crate::facts_support::{Guard, find, http, parse_response, samples, serve, test_deps_bin};

/// node_exporter's metrics about itself (the Go runtime, its HTTP handler, its build), which
/// an exporter written in Rust has no counterpart for; driftless has `driftless_build_info`
/// and the `process_*` metrics.
const EXPORTER_OWN: &[&str] = &["go_", "promhttp_", "node_exporter_build_info"];

/// node_exporter collectors driftless does not have (docs/metrics.md says why); on this
/// machine they run without showing any family.
const NOT_BUILT: &[&str] = &[
    "bcache",
    "btrfs",
    "xfs",
    "nfs",
    "nfsd",
    "ipvs",
    "tapestats",
    "dmi",
    "systemd",
    "fibrechannel",
    "infiniband",
    "zfs",
];

/// A family as an exposition declares it: type, and the label names of its samples.
#[derive(Debug, Default, PartialEq)]
struct Declared {
    kind: String,
    labels: BTreeSet<String>,
}

fn families(text: &str) -> BTreeMap<String, Declared> {
    let mut out: BTreeMap<String, Declared> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            out.entry(name.to_owned()).or_default().kind = kind.to_owned();
        }
    }
    for sample in samples(text) {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                sample
                    .name
                    .strip_suffix(s)
                    .filter(|base| out.get(*base).is_some_and(|d| d.kind != "untyped"))
            })
            .unwrap_or(&sample.name)
            .to_owned();
        let declared = out.entry(family).or_default();
        declared.labels.extend(
            sample
                .labels
                .iter()
                .filter(|(k, _)| k != "le" && k != "quantile")
                .map(|(k, _)| k.clone()),
        );
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Debian's node_exporter with its default collectors on a free port; its /metrics text.
fn node_exporter_metrics() -> String {
    let port = free_port();
    let child = Command::new(test_deps_bin().join("prometheus-node-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-node-exporter");
    let _guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            // HTTP/1.0, so that Go answers without chunked encoding.
            stream
                .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .expect("write");
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).expect("read");
            let response = parse_response(&raw);
            assert_eq!(response.status, 200);
            return response.text();
        }
        assert!(Instant::now() < deadline, "node_exporter never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn driftless_has_every_family_node_exporter_shows_here() {
    let theirs_text = node_exporter_metrics();
    let (_guard, port) = serve(&["--no-config"]);
    let ours_text = http(port, "GET", "/metrics", &[]).text();
    let theirs = families(&theirs_text);
    let ours = families(&ours_text);
    assert!(
        theirs.len() > 200,
        "node_exporter showed {} families",
        theirs.len()
    );

    let mut problems = Vec::new();
    for (name, declared) in &theirs {
        if EXPORTER_OWN.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        match ours.get(name) {
            None => problems.push(format!("missing {name} {declared:?}")),
            Some(mine) if mine != declared => problems.push(format!(
                "{name}: node_exporter {declared:?}, driftless {mine:?}"
            )),
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every node_exporter collector that ran here is reported under its own name.
    let their_samples = samples(&theirs_text);
    let our_samples = samples(&ours_text);
    for sample in their_samples
        .iter()
        .filter(|s| s.name == "node_scrape_collector_success")
    {
        let collector = &sample.labels[0].1;
        if NOT_BUILT.contains(&collector.as_str()) {
            continue;
        }
        let mine = find(
            &our_samples,
            "node_scrape_collector_success",
            &[("collector", collector)],
        );
        let Some(mine) = mine else {
            problems.push(format!(
                "no node_scrape_collector_success{{collector=\"{collector}\"}}"
            ));
            continue;
        };
        if mine.value != sample.value {
            problems.push(format!(
                "collector {collector}: node_exporter success {}, driftless {}",
                sample.value, mine.value
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
