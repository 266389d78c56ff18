//! Benchmark: read throughput of the `file` log source — `read()` over a 1,000,000-line file,
//! acknowledging each batch, as a pipeline does (no parsing, no output).
//! Usage: `cargo bench --bench file_log_source [-- LINES]` (a release build).

use std::io::Write;
use std::time::Instant;

use driftless::logs::FileLogSource;
use driftless::model::Spanned;
use driftless::model::logs::{FileEncoding, FileLogSource as Config, StartAt};

fn main() {
    let lines: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.log");
    {
        let file = std::fs::File::create(&path).expect("create");
        let mut out = std::io::BufWriter::new(file);
        for seq in 0..lines {
            writeln!(
                out,
                r#"{{"ts":"2024-05-01T12:00:00.{:06}Z","level":"info","seq":{seq},"msg":"GET /api/v1/items 200 12ms"}}"#,
                seq % 1_000_000
            )
            .expect("write");
        }
    }
    let bytes = std::fs::metadata(&path).expect("stat").len();
    let config = Config {
        paths: Spanned::unplaced(vec![path.display().to_string()]),
        exclude: None,
        start_at: StartAt::Beginning,
        encoding: FileEncoding::Utf8,
        max_line_bytes: None,
        partial_timeout: None,
        multiline: None,
    };
    let start = Instant::now();
    let mut source = FileLogSource::open(&config, &dir.path().join("state")).expect("open");
    let mut read = 0u64;
    loop {
        let batch = source.read(10_000).expect("read");
        let Some(last) = batch.last() else { break };
        source.acknowledge(&last.ack);
        read += batch.len() as u64;
    }
    source.checkpoint().expect("checkpoint");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(read, lines, "every line read");
    println!(
        "file source: {lines} lines, {:.1} MB in {seconds:.3} s: {:.0} MB/s, {:.0} lines/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / seconds,
        lines as f64 / seconds
    );
}
