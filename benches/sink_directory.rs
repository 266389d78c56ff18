//! Benchmark: events per second through a stream pipeline into the directory sink, and the
//! memory it takes (bounded by the queue, not by the input).
//! Goal (issue 15): ≥ 100,000 events/s sustained.
//! Usage: `cargo bench --bench sink_directory [-- EVENTS]` (a release build).

use std::sync::Arc;
use std::time::Instant;

use driftless::model::sinks::DirectorySinkConfig;
use driftless::secrets::Secrets;
use driftless::sinks::pipeline::{BatchPolicy, Pacing, Pipeline, SpoolPolicy};
use driftless::sinks::retry::RetryPolicy;
use driftless::sinks::{BuildContext, DirectorySink, Sink};

/// The process's peak resident memory, from /proc.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run(events: usize, gzip: bool, spool: bool) {
    let temp = tempfile::tempdir().expect("temp dir");
    let config = DirectorySinkConfig {
        path: temp.path().join("out").display().to_string(),
        name: Some("%Y%m%dT%H%M%S-{id}.ndjson".to_owned()),
        gzip,
        keep_files: None,
        keep_bytes: None,
        keep_age: None,
        batch: None,
        retry: None,
        spool: None,
    };
    let secrets = Secrets::new(Vec::new());
    let cx = BuildContext {
        secrets: &secrets,
        host: "bench",
    };
    let sink: Arc<dyn Sink> = Arc::new(DirectorySink::new(&config, &cx).expect("sink"));
    let batch = BatchPolicy {
        max_events: 10_000,
        max_bytes: 4 << 20,
        timeout: std::time::Duration::from_millis(200),
        queue: 4,
        queue_bytes: 64 << 20,
    };
    let spool_policy = spool.then(|| SpoolPolicy {
        path: temp.path().join("spool"),
        max_bytes: 256 << 20,
    });
    let started = Instant::now();
    let mut pipeline = Pipeline::start(
        sink,
        batch,
        RetryPolicy::DEFAULT,
        spool_policy,
        Pacing::Free,
    )
    .expect("start");
    for i in 0..events {
        let event = format!(
            "{{\"time\":\"2026-12-06T15:00:00.{:06}Z\",\"host\":\"web{}\",\"status\":{},\"path\":\"/shop/item/{}\",\"bytes\":{},\"agent\":\"Mozilla/5.0\"}}",
            i % 1_000_000,
            i % 7,
            200 + i % 5,
            i,
            i % 4096
        );
        pipeline.push(event.into_bytes()).expect("push");
    }
    let failures = pipeline.close();
    let elapsed = started.elapsed();
    assert!(failures.is_empty(), "{failures:?}");
    let written: u64 = std::fs::read_dir(temp.path().join("out"))
        .expect("out")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();
    println!(
        "directory sink{}{}: {events} events in {:.2}s = {:.0} events/s, {:.1} MiB written, peak RSS {:.1} MiB",
        if gzip { " (gzip)" } else { "" },
        if spool { " (spool)" } else { "" },
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        written as f64 / (1 << 20) as f64,
        peak_rss_mib()
    );
}

fn main() {
    let events = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    run(events, false, false);
    run(events, true, false);
    run(events, false, true);
}
