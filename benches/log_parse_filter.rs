//! Benchmark: lines per second through a log pipeline's parser and filters, without I/O — the
//! CPU work between the source and the outputs.
//! Goal (issue 16): the whole pipeline ≥ 3× rsyslog's throughput on 1,000,000 JSON lines
//! (tail → parse JSON → one filter → file); this measures the parse + filter part of it.
//! Usage: `cargo bench --bench log_parse_filter [-- LINES]` (a release build).

use std::sync::Arc;
use std::time::Instant;

use driftless::logs::LogEvent;
use driftless::logs::log_filters::Filters;
use driftless::logs::log_parsers::Parser;
use driftless::model::Spanned;
use driftless::model::logs::{LogFilter, LogParser, MatchFilter, ParserOptions};

fn json_line(i: usize) -> String {
    let level = ["info", "info", "info", "warn", "debug", "error"][i % 6];
    format!(
        "{{\"time\":\"2026-12-06T15:00:00.{:06}Z\",\"level\":\"{level}\",\"host\":\"web{}\",\"status\":{},\"path\":\"/shop/item/{}\",\"bytes\":{},\"agent\":\"Mozilla/5.0\",\"message\":\"request served\"}}",
        i % 1_000_000,
        i % 8,
        [200, 200, 304, 404, 500][i % 5],
        i,
        i * 7 % 100_000,
    )
}

fn nginx_line(i: usize) -> String {
    format!(
        "192.0.2.{} - - [06/Dec/2026:21:10:{:02} +0000] \"GET /shop/item/{i} HTTP/1.1\" {} {} \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\"",
        i % 250,
        i % 60,
        [200, 200, 304, 404, 500][i % 5],
        i * 7 % 100_000,
    )
}

/// Drops debug records: the "one filter" of the issue's benchmark.
fn exclude_debug() -> Vec<LogFilter> {
    vec![LogFilter::Exclude(MatchFilter {
        field: Some(Spanned::unplaced("level".to_owned())),
        pattern: None,
        contains: None,
        equals: Some(Spanned::unplaced(serde_json::json!("debug"))),
        greater_than: None,
        greater_or_equal: None,
        less_than: None,
        less_or_equal: None,
    })]
}

fn exclude_healthz_by_regex() -> Vec<LogFilter> {
    vec![LogFilter::Exclude(MatchFilter {
        field: None,
        pattern: Some(Spanned::unplaced(r#""GET /healthz"#.to_owned())),
        contains: None,
        equals: None,
        greater_than: None,
        greater_or_equal: None,
        less_than: None,
        less_or_equal: None,
    })]
}

fn run(name: &str, parser: &LogParser, filters: &[LogFilter], lines: &[String]) {
    let parser = Parser::new(parser).expect("parser");
    let mut filters =
        Filters::new(filters, &driftless::plugins::Plugins::default()).expect("filters");
    let file: Arc<str> = Arc::from("/var/log/app/bench.log");
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut out = Vec::with_capacity(1024);
    let mut kept = 0usize;
    let started = Instant::now();
    for line in lines {
        if let Some(event) = parser.parse(LogEvent::new(line.clone(), file.clone())) {
            filters.apply(event, &mut out);
        }
        // The pipeline hands records on in batches; the bench drops them.
        if out.len() >= 1024 {
            kept += out.len();
            out.clear();
        }
    }
    kept += out.len();
    let seconds = started.elapsed().as_secs_f64();
    let stats = parser.stats();
    assert_eq!(stats.failed, 0, "{name}: lines failed to parse");
    println!(
        "{name:<32} {:>7.3} s {:>12.0} lines/s {:>8.1} MB/s  kept {kept}, dropped {}",
        seconds,
        lines.len() as f64 / seconds,
        bytes as f64 / seconds / 1e6,
        filters.dropped(),
    );
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let json: Vec<String> = (0..count).map(json_line).collect();
    let nginx: Vec<String> = (0..count).map(nginx_line).collect();
    println!("{count} lines per run (line.clone() into each record included)");
    run("none, no filter", &LogParser::None, &[], &json);
    run(
        "json + exclude level=debug",
        &LogParser::Json(ParserOptions::default()),
        &exclude_debug(),
        &json,
    );
    run(
        "nginx_combined + exclude regex",
        &LogParser::NginxCombined(ParserOptions::default()),
        &exclude_healthz_by_regex(),
        &nginx,
    );
}
