//! Every parser on real-world samples: each directory of `tests/log_samples/` is named by a
//! parser type and holds sample files (`*.log`, one record a line, malformed lines included)
//! and, optionally, `options.json` (the parser's `pattern`, `timestamp`, `on_error`). Each
//! file's records, as the outputs would write them, are an insta snapshot
//! (`snapshots/log_parsing__<dir>__<file>.snap`): adding a sample is adding a file.
//!
//! The syslog samples were written by Debian's rsyslogd (8.2x, from `scripts/install-test-deps`)
//! receiving `logger` messages over UDP, through its three file templates: traditional,
//! `RSYSLOG_FileFormat` (Debian's default) and `RSYSLOG_SyslogProtocol23Format` (RFC 5424).
//! Times are read in UTC with "now" fixed after the samples, so the snapshots hold on any day
//! in any zone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftless::logs::LogEvent;
use driftless::logs::log_parsers::Parser;
use driftless::logs::log_timestamps::TimeContext;
use driftless::model::Spanned;
use driftless::model::logs::{
    LogParser, OnParseError, ParserOptions, RegexParser, TimestampExtraction,
};
use serde_json::Value;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/log_samples")
}

fn text(options: &Value, key: &str) -> Option<String> {
    options.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The parser a sample directory names, with its `options.json`.
fn parser_for(dir: &Path) -> LogParser {
    let kind = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let options: Value = std::fs::read(dir.join("options.json"))
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).expect("options.json is JSON"))
        .unwrap_or(Value::Null);
    let on_error = match text(&options, "on_error").as_deref() {
        Some("drop") => OnParseError::Drop,
        _ => OnParseError::Keep,
    };
    let timestamp = options.get("timestamp").map(|t| TimestampExtraction {
        field: text(t, "field"),
        format: Spanned::unplaced(text(t, "format").expect("timestamp.format")),
    });
    let common = ParserOptions {
        on_error,
        timestamp: timestamp.clone(),
    };
    match kind {
        "none" => LogParser::None,
        "json" => LogParser::Json(common),
        "logfmt" => LogParser::Logfmt(common),
        "syslog" => LogParser::Syslog(common),
        "nginx_combined" => LogParser::NginxCombined(common),
        "apache_common" => LogParser::ApacheCommon(common),
        "apache_combined" => LogParser::ApacheCombined(common),
        "regex" => LogParser::Regex(RegexParser {
            pattern: Spanned::unplaced(text(&options, "pattern").expect("regex: pattern")),
            on_error,
            timestamp,
        }),
        other => panic!("tests/log_samples/{other}: not a parser type"),
    }
}

/// The file's records, one line each: the record as JSON, or `dropped`; then the counters.
fn parse_sample(parser: &Parser, name: &str, path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read sample");
    let text = String::from_utf8(bytes).expect("samples are UTF-8");
    let file: Arc<str> = Arc::from(name);
    let mut shown = String::new();
    for (at, line) in text.lines().enumerate() {
        let record = match parser.parse(LogEvent::new(line.to_owned(), file.clone())) {
            Some(event) => String::from_utf8(event.to_json()).expect("JSON is UTF-8"),
            None => "dropped".to_owned(),
        };
        shown.push_str(&format!("{}: {record}\n", at + 1));
    }
    let stats = parser.stats();
    shown.push_str(&format!(
        "parsed {}, failed {}, dropped {}\n",
        stats.parsed, stats.failed, stats.dropped
    ));
    shown
}

#[test]
fn every_sample_parses_as_its_snapshot() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(samples())
        .expect("tests/log_samples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let now = "2026-12-07T00:00:00Z".parse().expect("a time");
    let mut files = 0;
    settings.bind(|| {
        for dir in &dirs {
            let config = parser_for(dir);
            let kind = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let mut samples: Vec<PathBuf> = std::fs::read_dir(dir)
                .expect("a sample dir")
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "log"))
                .collect();
            samples.sort();
            for sample in samples {
                let parser =
                    Parser::with_time(&config, TimeContext::fixed(jiff::tz::TimeZone::UTC, now))
                        .expect("a valid parser");
                let stem = sample
                    .file_stem()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let name = format!("{kind}/{stem}.log");
                insta::assert_snapshot!(
                    format!("log_parsing__{kind}__{stem}"),
                    parse_sample(&parser, &name, &sample)
                );
                files += 1;
            }
        }
    });
    assert!(
        files >= 15,
        "only {files} sample files in tests/log_samples"
    );
}

/// A `drop` parser drops exactly the lines a `keep` parser marks with `parse_error`.
#[test]
fn on_error_drop_drops_what_keep_marks() {
    let path = samples().join("json/malformed.log");
    let text = std::fs::read_to_string(&path).expect("sample");
    let keep = Parser::new(&LogParser::Json(ParserOptions::default())).expect("parser");
    let drop = Parser::new(&LogParser::Json(ParserOptions {
        on_error: OnParseError::Drop,
        timestamp: None,
    }))
    .expect("parser");
    for line in text.lines() {
        let event = || LogEvent::new(line.to_owned(), Arc::from("json/malformed.log"));
        let kept = keep.parse(event()).expect("keep keeps");
        let marked = kept.fields.contains_key("parse_error");
        assert_eq!(drop.parse(event()).is_none(), marked, "{line}");
        if marked {
            assert_eq!(kept.message, line, "a failed line keeps its raw text");
        }
    }
    assert_eq!(keep.stats().failed, drop.stats().dropped);
    assert!(drop.stats().dropped > 0);
}
