//! Shared helpers of the facts tests: the real binary, the real Prometheus tools (installed by
//! `scripts/install-test-deps` when missing; a test that needs them and cannot get them
//! fails), process guards, a tiny HTTP client, and a text-format reader.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::deps;

pub fn driftless() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_driftless"))
}

/// The directory holding `prometheus`, `promtool` and `prometheus-node-exporter`.
pub fn test_deps_bin() -> PathBuf {
    deps::test_deps(&["bin/promtool", "bin/prometheus"]).join("bin")
}

/// Kills and reaps the child when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `driftless facts --serve 127.0.0.1:0 <extra>` and returns the guard and the port.
pub fn serve(extra: &[&str]) -> (Guard, u16) {
    let mut child = Command::new(driftless())
        .args(["facts", "--serve", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start driftless facts --serve");
    let stderr = child.stderr.take().expect("stderr");
    let guard = Guard(child);
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "driftless exited before serving");
        let line_trimmed = line.trim();
        let after_scheme = line_trimmed
            .strip_prefix("serving metrics on http://127.0.0.1:")
            .or_else(|| line_trimmed.strip_prefix("serving metrics on https://127.0.0.1:"));
        if let Some(rest) = after_scheme {
            let port: u16 = rest
                .trim_end_matches("/metrics")
                .parse()
                .expect("port in the serving line");
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return (guard, port);
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (Connection: close).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: raw[end..].to_vec(),
    }
}

/// One sample of a text exposition: name, labels (sorted), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Reads the samples of a Prometheus text (or OpenMetrics) exposition.
pub fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("sample name");
        let name = line[..name_end].to_owned();
        let mut labels = Vec::new();
        let mut rest = &line[name_end..];
        if rest.starts_with('{') {
            let mut chars = rest.char_indices().skip(1).peekable();
            let mut key = String::new();
            let mut close = 0;
            while let Some((i, c)) = chars.next() {
                match c {
                    '}' => {
                        close = i;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'));
                        let mut value = String::new();
                        while let Some((_, c)) = chars.next() {
                            match c {
                                '"' => break,
                                '\\' => match chars.next().map(|(_, c)| c) {
                                    Some('n') => value.push('\n'),
                                    Some('\\') => value.push('\\'),
                                    Some('"') => value.push('"'),
                                    other => panic!("bad escape {other:?} in {line}"),
                                },
                                c => value.push(c),
                            }
                        }
                        labels.push((std::mem::take(&mut key), value));
                    }
                    c => key.push(c),
                }
            }
            rest = &rest[close + 1..];
        }
        let value_text = rest.split_whitespace().next().expect("value");
        let value = match value_text {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        labels.sort();
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(k2, v2)| k2 == k && v2 == v))
    })
}

/// `/proc/meminfo`'s MemTotal in bytes.
pub fn proc_mem_total() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    kib * 1024.0
}

/// The number of `cpuN` lines of `/proc/stat`.
pub fn proc_cpu_count() -> usize {
    std::fs::read_to_string("/proc/stat")
        .expect("stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
}

/// Size of the filesystem at `path` in bytes as node_exporter computes it (blocks × f_bsize),
/// from coreutils' `stat -f`.
pub fn statfs_size(path: &str) -> f64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%b %s", path])
        .output()
        .expect("stat -f");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|p| p.parse::<f64>().expect("number"));
    let (blocks, bsize) = (parts.next().expect("blocks"), parts.next().expect("bsize"));
    blocks * bsize
}

/// Runs `promtool check metrics` on `text`; returns its exit code and output.
pub fn promtool_check(text: &str) -> (i32, String) {
    let mut child = Command::new(test_deps_bin().join("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A config dir with one file.
pub fn config_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("facts.yaml"), yaml).expect("write config");
    dir
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A query through Prometheus's HTTP API (`/api/v1/query`), its JSON answer.
pub fn query(port: u16, expr: &str) -> serde_json::Value {
    let encoded: String = expr
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let r = http(port, "GET", &format!("/api/v1/query?query={encoded}"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).expect("JSON from Prometheus")
}

/// Debian's Prometheus (from scripts/install-test-deps) on a free loopback port, scraping
/// every second; killed when dropped.
pub struct Prometheus {
    pub port: u16,
    _guard: Guard,
    _work: tempfile::TempDir,
}

impl Prometheus {
    /// Starts it with `scrape_configs` (YAML list items, indented 2).
    pub fn start(scrape_configs: &str) -> Prometheus {
        let work = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = work.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{scrape_configs}"
            ),
        )
        .expect("prometheus config");
        let child = Command::new(test_deps_bin().join("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            port,
            _guard: Guard(child),
            _work: work,
        }
    }

    /// Waits (up to a minute) until `up{job}` is 1.
    pub fn wait_until_up(&self, job: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            // Prometheus listens before its storage is ready, and answers queries 503 until then.
            let ready = TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && http(self.port, "GET", "/-/ready", &[]).status == 200;
            let up = ready.then(|| query(self.port, &format!("up{{job=\"{job}\"}}")));
            let value = up.as_ref().and_then(|v| {
                v["data"]["result"][0]["value"][1]
                    .as_str()
                    .map(str::to_owned)
            });
            if value.as_deref() == Some("1") {
                return;
            }
            if std::time::Instant::now() > deadline {
                let targets = http(self.port, "GET", "/api/v1/targets", &[]);
                panic!("target {job} never up: {up:?}; targets: {}", targets.text());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}
