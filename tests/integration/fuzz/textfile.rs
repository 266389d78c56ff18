//! Target `textfile`: `*.prom` files as node_exporter's textfile collector reads them — HELP
//! and TYPE lines, names, labels with escapes, special values, timestamps, duplicates and
//! broken lines, multi-byte characters — through the textfile parser. Never a panic, and time
//! linear in the input (a quadratic parser took 50 s on 40,000 series).

use std::time::{Duration, Instant};

use driftless::metrics::collectors::textfile::{MAX_SERIES, parse};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::fuzz;

/// Far above what a linear parse of the largest generated input takes, even unoptimized on a
/// loaded machine.
const MAX_PARSE: Duration = Duration::from_secs(10);

const PIECES: &[&str] = &[
    "# HELP ",
    "# TYPE ",
    "# ",
    "#",
    "node_a",
    "node_a_total",
    "node_b_bucket",
    "node_b_sum",
    "node_b_count",
    "x",
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    "info",
    " ",
    "\t",
    "\n",
    "{",
    "}",
    "le=\"+Inf\"",
    "le=\"0.5\"",
    "quantile=\"0.9\"",
    "a=\"b\"",
    "a=\"\\\"\\\\\\n\"",
    ",",
    "=",
    "\"",
    "1",
    "-1",
    "1e308",
    "NaN",
    "+Inf",
    "-Inf",
    "0x1",
    "1700000000000",
    "ß",
    "🦀",
    "\u{0}",
    "\r",
    "\u{feff}",
];

fn file() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(PIECES);
    prop::collection::vec(piece, 0..400).prop_map(|p| p.concat())
}

fn parse_file(text: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let _ = parse(text, MAX_SERIES);
    prop_assert!(
        started.elapsed() < MAX_PARSE,
        "parsing took {:?}",
        started.elapsed()
    );
    Ok(())
}

#[test]
fn textfile() {
    fuzz("textfile", file(), |input: &String| parse_file(input));
}
