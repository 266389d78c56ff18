//! The `driftless_log_*` metric families of running pipelines, for `/metrics`: what each
//! pipeline read, parsed, dropped and sent, and how far behind its files it is.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::log_pipeline::PipelineStats;
use crate::metrics::family::{Family, labels};

/// One family per counter, one series per pipeline (per output for what was sent).
pub fn families(pipelines: &[Arc<PipelineStats>]) -> Vec<Family> {
    let per_pipeline = |name: &'static str,
                        help: &'static str,
                        counter: bool,
                        read: &dyn Fn(&PipelineStats) -> u64| {
        let mut family = if counter {
            Family::counter(name, help)
        } else {
            Family::gauge(name, help)
        };
        for p in pipelines {
            family.push(labels([("pipeline", &p.id)]), read(p) as f64);
        }
        family
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut out = vec![
        per_pipeline(
            "driftless_log_lines_read_total",
            "Lines read from the pipeline's files.",
            true,
            &|p| load(&p.lines_read),
        ),
        per_pipeline(
            "driftless_log_bytes_read_total",
            "Bytes read from the pipeline's files.",
            true,
            &|p| load(&p.bytes_read),
        ),
        per_pipeline(
            "driftless_log_lines_truncated_total",
            "Lines longer than the maximum line length, cut.",
            true,
            &|p| load(&p.lines_truncated),
        ),
        per_pipeline(
            "driftless_log_lines_parsed_total",
            "Lines the parser turned into records.",
            true,
            &|p| load(&p.parsed),
        ),
        per_pipeline(
            "driftless_log_parse_failures_total",
            "Lines the parser could not parse (kept raw with an error tag, or dropped).",
            true,
            &|p| load(&p.parse_failures),
        ),
        per_pipeline(
            "driftless_log_events_total",
            "Records made by the parser and filters, each sent to every output.",
            true,
            &|p| load(&p.events),
        ),
        per_pipeline(
            "driftless_log_bytes_behind",
            "Bytes in the pipeline's files after its read positions.",
            false,
            &|p| load(&p.bytes_behind),
        ),
        per_pipeline(
            "driftless_log_files_watched",
            "Files the pipeline's globs match now.",
            false,
            &|p| load(&p.files),
        ),
        per_pipeline(
            "driftless_log_read_failures_total",
            "Reads of the source that failed (retried).",
            true,
            &|p| load(&p.read_failures),
        ),
        per_pipeline(
            "driftless_log_checkpoint_failures_total",
            "Checkpoints that could not be written (retried at the next one).",
            true,
            &|p| load(&p.checkpoint_failures),
        ),
        per_pipeline(
            "driftless_log_pipeline_running",
            "Whether the pipeline's thread is running.",
            false,
            &|p| u64::from(p.running.load(Ordering::Relaxed)),
        ),
    ];
    let mut dropped = Family::counter(
        "driftless_log_events_dropped_total",
        "Lines or records dropped, by where: the parser (`on_error: drop`), the filters, or an \
         output whose receiver refused their batch for good.",
    );
    let mut sent = Family::counter(
        "driftless_log_events_sent_total",
        "Records an output's receiver acknowledged.",
    );
    for p in pipelines {
        dropped.push(
            labels([("pipeline", &p.id), ("stage", "parser")]),
            load(&p.dropped_by_parser) as f64,
        );
        dropped.push(
            labels([("pipeline", &p.id), ("stage", "filter")]),
            load(&p.dropped_by_filters) as f64,
        );
        let refused: u64 = p.outputs.iter().map(|o| o.gate.refused()).sum();
        dropped.push(
            labels([("pipeline", &p.id), ("stage", "output")]),
            refused as f64,
        );
        for (index, output) in p.outputs.iter().enumerate() {
            sent.push(
                labels([
                    ("output", &index.to_string()),
                    ("pipeline", &p.id),
                    ("type", output.kind),
                ]),
                output.gate.delivered() as f64,
            );
        }
    }
    out.push(dropped);
    out.push(sent);
    out
}
