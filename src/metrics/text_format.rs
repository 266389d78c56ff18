//! The two text expositions, written directly from the merged families: Prometheus text
//! 0.0.4 (what node_exporter serves) and OpenMetrics 1.0.0.
//!
//! Written here rather than through a client library's typed metrics because an exporter
//! passes on what others wrote: node_exporter keeps a textfile's `# TYPE` — a counter whose
//! name lacks `_total` stays a counter named as written, a summary stays a summary — and the
//! client libraries' encoders can say neither (they append `_total` to every counter and have
//! no summary type).
//!
//! In OpenMetrics a counter's samples must end in `_total`, so a counter named without it is
//! declared `unknown` there rather than renamed; untyped families are declared `gauge` (which
//! Prometheus ingests as it does `unknown`, and which `promtool check metrics` reads).

use std::fmt::Write;

use super::family::{Kind, Label, MergedFamily};

/// Which text exposition to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

/// Writes `families` (sorted, each series once: [`super::family::merge`]) to `out`.
pub fn write(families: &[MergedFamily<'_>], dialect: Dialect, out: &mut String) {
    for merged in families {
        let family = merged.family;
        let name = family.name.as_ref();
        let (declared, kind) = match (dialect, family.kind) {
            (Dialect::OpenMetrics, Kind::Counter) => match name.strip_suffix("_total") {
                Some(base) => (base, "counter"),
                None => (name, "unknown"),
            },
            (Dialect::OpenMetrics, Kind::Untyped) => (name, "gauge"),
            (_, kind) => (name, kind.as_str()),
        };
        out.push_str("# HELP ");
        out.push_str(declared);
        out.push(' ');
        escape(&family.help, dialect == Dialect::OpenMetrics, out);
        out.push_str("\n# TYPE ");
        out.push_str(declared);
        out.push(' ');
        out.push_str(kind);
        out.push('\n');
        for sample in &merged.samples {
            out.push_str(name);
            out.push_str(sample.suffix);
            write_labels(&sample.labels, out);
            out.push(' ');
            write_value(sample.value, out);
            out.push('\n');
        }
    }
    if dialect == Dialect::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

/// `{a="1",b="2"}`; nothing for no labels. Empty values are written, as node_exporter
/// writes them (`node_os_info{build_id="",…}`).
fn write_labels(labels: &[Label], out: &mut String) {
    let mut first = true;
    for (name, value) in labels {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !first {
        out.push('}');
    }
}

/// HELP text: `\` and newlines escaped; OpenMetrics escapes `"` too.
fn escape(help: &str, quotes: bool, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Integers as integers, other numbers in their shortest exact form, and Prometheus's
/// spellings of NaN and the infinities.
fn write_value(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value == value.trunc() && value.abs() < 1e15 {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::family::{Family, labels, merge};

    fn render(families: &[Family], dialect: Dialect) -> String {
        let mut dropped = Vec::new();
        let merged = merge(families, &mut dropped);
        let mut out = String::new();
        write(&merged, dialect, &mut out);
        out
    }

    fn histogram() -> Family {
        let mut h = Family::new(
            "rpc_seconds",
            "RPC \"latency\".\nSecond line.",
            Kind::Histogram,
        );
        h.push_part("_bucket", labels([("le", "0.5")]), 3.0);
        h.push_part("_bucket", labels([("le", "+Inf")]), 4.0);
        h.push_part("_sum", Vec::new(), 1.25);
        h.push_part("_count", Vec::new(), 4.0);
        h
    }

    #[test]
    fn prometheus_text_keeps_every_type_and_name() {
        let jobs = Family::counter("jobs", "Jobs run.").with_value(7.0);
        let mut summary = Family::new("gc_seconds", "GC.", Kind::Summary);
        summary.push_part("", labels([("quantile", "0.5")]), 0.001);
        summary.push_part("_sum", Vec::new(), 1e-7);
        summary.push_part("_count", Vec::new(), 2.0);
        let mut gauge = Family::gauge("temp", "A \\ path.");
        gauge.push(labels([("path", "a\"b\\c\nd"), ("empty", "")]), f64::NAN);
        let text = render(&[jobs, histogram(), summary, gauge], Dialect::Prometheus);
        assert_eq!(
            text,
            "# HELP gc_seconds GC.\n# TYPE gc_seconds summary\n\
             gc_seconds{quantile=\"0.5\"} 0.001\ngc_seconds_sum 1e-7\ngc_seconds_count 2\n\
             # HELP jobs Jobs run.\n# TYPE jobs counter\njobs 7\n\
             # HELP rpc_seconds RPC \"latency\".\\nSecond line.\n# TYPE rpc_seconds histogram\n\
             rpc_seconds_bucket{le=\"0.5\"} 3\nrpc_seconds_bucket{le=\"+Inf\"} 4\n\
             rpc_seconds_sum 1.25\nrpc_seconds_count 4\n\
             # HELP temp A \\\\ path.\n# TYPE temp gauge\ntemp{path=\"a\\\"b\\\\c\\nd\",empty=\"\"} NaN\n"
        );
    }

    #[test]
    fn openmetrics_declares_counters_by_their_base_and_ends_with_eof() {
        let requests = Family::counter("requests_total", "Requests.").with_value(3.0);
        let jobs = Family::counter("jobs", "Jobs run.").with_value(7.0);
        let untyped = Family::untyped("x", "X.").with_value(f64::INFINITY);
        let text = render(
            &[requests, jobs, untyped, histogram()],
            Dialect::OpenMetrics,
        );
        assert_eq!(
            text,
            "# HELP jobs Jobs run.\n# TYPE jobs unknown\njobs 7\n\
             # HELP requests Requests.\n# TYPE requests counter\nrequests_total 3\n\
             # HELP rpc_seconds RPC \\\"latency\\\".\\nSecond line.\n# TYPE rpc_seconds histogram\n\
             rpc_seconds_bucket{le=\"0.5\"} 3\nrpc_seconds_bucket{le=\"+Inf\"} 4\n\
             rpc_seconds_sum 1.25\nrpc_seconds_count 4\n\
             # HELP x X.\n# TYPE x gauge\nx +Inf\n# EOF\n"
        );
    }
}
