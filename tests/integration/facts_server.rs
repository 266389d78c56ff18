//! The `/metrics` server: content negotiation, gzip, paths and methods, bounded requests,
//! concurrent scrapes, and the listen address from `settings.metrics.listen`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::facts_support::*;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn negotiates_format_and_gzip() {
    let (_guard, port) = serve(&["--no-config"]);

    let plain = http(port, "GET", "/metrics", &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(plain.text().contains("# TYPE node_load1 gauge"));
    assert!(!plain.text().contains("# EOF"));

    let om = http(port, "GET", "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(om.status, 200);
    assert_eq!(
        om.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.text().ends_with("# EOF\n"));

    let text_only = http(
        port,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.1",
        )],
    );
    assert!(text_only.headers["content-type"].starts_with("text/plain"));

    let zipped = http(
        port,
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip"), ("Accept", PROMETHEUS_ACCEPT)],
    );
    assert_eq!(
        zipped.headers.get("content-encoding").map(String::as_str),
        Some("gzip")
    );
    assert_eq!(
        zipped.headers["content-length"].parse::<usize>().ok(),
        Some(zipped.body.len())
    );
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_string(&mut unzipped)
        .expect("valid gzip");
    assert!(unzipped.contains("node_memory_MemTotal_bytes"));
    assert!(unzipped.ends_with("# EOF\n"));
    let (code, output) = promtool_check(&unzipped);
    assert!(code == 0 || code == 3, "promtool {code}: {output}");

    let head = http(port, "HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn other_paths_methods_and_oversized_requests_are_refused() {
    let (_guard, port) = serve(&["--no-config"]);
    assert_eq!(http(port, "GET", "/nope", &[]).status, 404);
    assert_eq!(http(port, "GET", "/", &[]).status, 200);
    assert_eq!(http(port, "POST", "/metrics", &[]).status, 405);

    let huge = "x".repeat(16 * 1024);
    let big = http(port, "GET", "/metrics", &[("X-Padding", &huge)]);
    assert_eq!(big.status, 431);

    let mut garbage = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    garbage
        .write_all(b"NOT HTTP AT ALL\r\n\r\n")
        .expect("write");
    let mut raw = Vec::new();
    garbage
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = garbage.read_to_end(&mut raw);
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 400"));

    // A request followed at once by the client closing its side is still answered.
    let mut half_closed = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    half_closed
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .expect("write");
    half_closed
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    half_closed
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut raw = Vec::new();
    let _ = half_closed.read_to_end(&mut raw);
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));

    // A client that connects and sends nothing does not block the others.
    let _idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let started = Instant::now();
    let ok = http(port, "GET", "/metrics", &[]);
    assert!(ok.status == 200 || ok.status == 503, "{}", ok.status);
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn keep_alive_and_concurrent_scrapes() {
    let (_guard, port) = serve(&["--no-config"]);
    // Several requests on one connection.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    for _ in 0..3 {
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "connection closed early");
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let response = parse_response(&raw);
                let length: usize = response.headers["content-length"].parse().expect("length");
                if raw.len() >= end + 4 + length {
                    assert_eq!(response.status, 200);
                    break;
                }
            }
        }
    }
    // Parallel scrapes all succeed and each is a complete exposition.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| {
                        let r = http(port, "GET", "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
                        (r.status, r.text().ends_with("# EOF\n"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for handle in handles {
        for (status, complete) in handle.join().expect("scrape thread") {
            assert!(status == 200 || status == 503, "status {status}");
            if status == 200 {
                assert!(complete);
            }
        }
    }
}

#[test]
fn listen_address_comes_from_settings() {
    let port = free_port();
    let config = config_dir(&format!(
        "settings:\n  metrics:\n    listen: \"127.0.0.1:{port}\"\nfacts:\n  - type: load\n"
    ));
    let child = Command::new(driftless())
        .args([
            "-c",
            config.path().to_str().expect("utf-8"),
            "facts",
            "--serve",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let _guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "server never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = http(port, "GET", "/metrics", &[]);
    let text = r.text();
    assert!(text.contains("node_load1 "));
    // Only the configured collector runs.
    assert!(!text.contains("node_cpu_seconds_total"));
}

/// A watched value moves up and down between scrapes of the real server: the level follows
/// with hysteresis (critical holds until the value is below 0.95 − 0.05), and each change is
/// counted once.
#[test]
fn thresholds_fire_and_clear_with_hysteresis_across_scrapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let value = dir.path().join("value");
    let config = dir.path().join("config");
    std::fs::create_dir(&config).expect("mkdir");
    std::fs::write(
        config.join("main.yaml"),
        format!(
            "facts:\n  - id: level\n    type: command\n    command: [cat, \"{}\"]\n    \
             thresholds: {{ value: {{ warn: 0.8, critical: 0.95, hysteresis: 0.05 }} }}\n",
            value.display()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8");
    std::fs::write(&value, "0.5\n").expect("value");
    let (_guard, port) = serve(&["-c", config]);
    let scrape = |v: &str| {
        std::fs::write(&value, v).expect("value");
        samples(&http(port, "GET", "/metrics", &[]).text())
    };
    let level = |parsed: &[Sample]| {
        find(
            parsed,
            "driftless_threshold_state",
            &[("collector", "level"), ("value", "value")],
        )
        .map(|s| s.value)
    };
    let events = |parsed: &[Sample], to: &str| {
        find(
            parsed,
            "driftless_threshold_events_total",
            &[("collector", "level"), ("level", to)],
        )
        .map_or(0.0, |s| s.value)
    };
    assert_eq!(level(&scrape("0.5\n")), Some(0.0));
    assert_eq!(level(&scrape("0.97\n")), Some(2.0), "past critical");
    // Below the level but within the hysteresis: still critical.
    assert_eq!(level(&scrape("0.93\n")), Some(2.0), "held by hysteresis");
    // Past critical − hysteresis, still above warn: down to warning.
    assert_eq!(level(&scrape("0.85\n")), Some(1.0), "down to warning");
    let parsed = scrape("0.1\n");
    assert_eq!(level(&parsed), Some(0.0), "cleared");
    assert_eq!(events(&parsed, "critical"), 1.0);
    assert_eq!(events(&parsed, "warning"), 1.0);
    assert_eq!(events(&parsed, "ok"), 1.0);
}

/// `systemctl stop` sends SIGTERM: the server stops accepting, answers what is in flight and
/// exits 0, promptly.
#[test]
fn sigterm_stops_the_server_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let (mut guard, port) = serve(&["--no-config"]);
        assert_eq!(http(port, "GET", "/metrics", &[]).status, 200);
        let status = Command::new("kill")
            .args([signal, &guard.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let started = Instant::now();
        let exit = loop {
            if let Some(exit) = guard.0.try_wait().expect("wait") {
                break exit;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "still running 5 s after kill {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(exit.code(), Some(0), "kill {signal}: {exit:?}");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens after the stop"
        );
    }
}
