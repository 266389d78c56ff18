//! Benchmark: events per second through `sinks::pipeline::Pipeline` into the http sink
//! (NDJSON, gzip) to a receiver on 127.0.0.1 that gunzips every body and counts its lines
//! (so the figure is for events delivered and acknowledged, and nothing may be lost). Prints
//! events/s, MB/s of NDJSON before compression, the batches sent and the peak RSS (bounded by
//! the queue, not by the input).
//!
//!   bench/sinks/run                  # release build, 1,000,000 events
//!   EVENTS=3000000 bench/sinks/run

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use driftless::model::sinks::SinkConfig;
use driftless::secrets::Secrets;
use driftless::sinks::pipeline::{BatchPolicy, Pacing, Pipeline};
use driftless::sinks::retry::RetryPolicy;
use driftless::sinks::{self, BuildContext};

/// Reads one connection's requests, gunzips each body, counts its lines, answers 200.
fn serve(stream: TcpStream, events: &AtomicU64, requests: &AtomicU64) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut body = Vec::new();
    let mut plain = Vec::new();
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        plain.clear();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            let _ = writer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        let lines = plain.iter().filter(|b| **b == b'\n').count() as u64;
        events.fetch_add(lines, Ordering::Relaxed);
        requests.fetch_add(1, Ordering::Relaxed);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .is_err()
        {
            return;
        }
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let total: u64 = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let received = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let (r, q) = (received.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (r, q) = (r.clone(), q.clone());
            std::thread::spawn(move || serve(stream, &r, &q));
        }
    });
    let config: SinkConfig = serde_json::from_value(serde_json::json!({
        "type": "http",
        "url": format!("http://127.0.0.1:{port}/ingest"),
        "format": "ndjson",
        "gzip": true,
    }))
    .expect("config");
    let secrets = Secrets::new(Vec::new());
    let sink = sinks::open(
        &config,
        &BuildContext {
            secrets: &secrets,
            host: "bench",
        },
    )
    .expect("sink");
    let delivery = config.delivery();
    let batch = BatchPolicy::of(delivery.batch);
    let mut pipeline = Pipeline::start(
        sink,
        batch,
        RetryPolicy::of(delivery.retry),
        None,
        Pacing::Free,
    )
    .expect("pipeline");
    let started = Instant::now();
    let mut bytes = 0u64;
    for n in 0..total {
        let event = format!(
            "{{\"ts\":\"2026-12-06T16:{:02}:{:02}.{:03}Z\",\"host\":\"web{}\",\"level\":\"info\",\
             \"msg\":\"GET /api/v1/items/{} 200 {}ms\",\"n\":{n}}}",
            (n / 60_000) % 60,
            (n / 1000) % 60,
            n % 1000,
            n % 16,
            n % 100_003,
            n % 97
        );
        bytes += event.len() as u64 + 1;
        pipeline.push(event.into_bytes()).expect("push");
    }
    let failures = pipeline.close();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(failures.is_empty(), "{failures:?}");
    let delivered = received.load(Ordering::Relaxed);
    assert_eq!(delivered, total, "every event delivered once");
    println!(
        "http sink, ndjson+gzip, {total} events ({:.1} MB of NDJSON) in {elapsed:.2} s: \
         {:.0} events/s, {:.1} MB/s; {} requests; peak RSS {} MB",
        bytes as f64 / 1e6,
        total as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed,
        requests.load(Ordering::Relaxed),
        peak_rss_kb() / 1024
    );
}
