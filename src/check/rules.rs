//! Rules of single tasks that types alone cannot say: absolute paths, fields that exclude each
//! other, regular expressions that compile, files of the config that exist.

use crate::apply::field_rules::{absolute, regex};
use crate::config::Node;
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::model::Spanned;
use crate::model::facts::CollectorSpec;
use crate::model::logs::{LogFilter, LogParser, LogPipeline};
use crate::model::settings::Settings;

pub fn check_id(id: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    if id.value.is_empty()
        || id
            .value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        found.push(
            Diagnostic::error("an id must be non-empty and without spaces")
                .at(id.span)
                .help("use letters, digits and `-`, `_`, `.`, `:`, `/`"),
        );
    }
}

/// `thresholds` is the task's `thresholds:` mapping as written, for the spans of its keys.
pub fn check_collector(
    collector: &CollectorSpec,
    thresholds: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    let known = crate::metrics::collectors::value_names(collector);
    for (key, _) in known.and_then(|_| thresholds?.as_map()).unwrap_or_default() {
        let known = known.unwrap_or_default();
        if !known.contains(&key.name.as_str()) {
            found.push(
                Diagnostic::error(format!(
                    "the {} collector has no value `{}` to put a threshold on",
                    collector.type_name(),
                    key.name
                ))
                .at(key.span)
                .help(
                    did_you_mean(&key.name, known.iter().copied()).unwrap_or_else(|| {
                        format!("its values are {}", one_of(known.iter().copied()))
                    }),
                ),
            );
        }
    }
    match collector {
        CollectorSpec::Process(p) => {
            regex(p.pattern.as_ref(), found);
        }
        CollectorSpec::Textfile(t) => absolute(&t.directory, "directory", found),
        _ => {}
    }
}

pub fn check_log_pipeline(pipeline: &LogPipeline, found: &mut Vec<Diagnostic>) {
    check_id(&pipeline.id, found);
    if let LogParser::Regex(r) = &pipeline.parser {
        regex(Some(&r.pattern), found);
    }
    for filter in &pipeline.filters {
        let (LogFilter::Include(f) | LogFilter::Exclude(f)) = filter;
        regex(Some(&f.pattern), found);
    }
    if pipeline.outputs.value.is_empty() {
        found.push(
            Diagnostic::error("a log pipeline needs at least one output")
                .at(pipeline.outputs.span)
                .help("add an output, e.g. `- type: console`"),
        );
    }
}

/// `written` is the merged `settings` mapping as written, for the places of fields.
pub fn check_settings(settings: &Settings, written: &Node, found: &mut Vec<Diagnostic>) {
    super::sinks::check_sinks(&settings.audit, written.get("audit"), found);
    if let Some(push) = settings.metrics.as_ref().and_then(|m| m.push.as_ref()) {
        let written = written.get("metrics").and_then(|m| m.get("push"));
        super::sinks::check_sinks(&push.sinks, written.and_then(|p| p.get("sinks")), found);
        if push.interval.value.0.is_zero() {
            found.push(
                Diagnostic::error("`interval` must be more than zero")
                    .at(push.interval.span)
                    .help("e.g. `15s`"),
            );
        }
        if push.sinks.is_empty() {
            found.push(
                Diagnostic::error("`metrics.push` has no sinks")
                    .at(push.interval.span)
                    .help("add `sinks:` with at least one, e.g. `- { type: directory, path: /var/lib/node_exporter/textfile, name: driftless.prom }`"),
            );
        }
    }
}
