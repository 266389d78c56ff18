//! Rules of single tasks that types alone cannot say: absolute paths, fields that exclude each
//! other, regular expressions that compile, files of the config that exist.

use crate::apply::field_rules::{absolute, regex};
use crate::config::Node;
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::model::Spanned;
use crate::model::facts::CollectorSpec;
use crate::model::logs::LogPipeline;
use crate::model::settings::{MetricsSettings, Settings};

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

/// A `name` is a label on one line; a tag is a word `--tags` can name (no spaces or commas).
/// A handler has no tags: it runs when a planned task notifies it, whatever the selection.
pub fn check_name_and_tags(
    keywords: &crate::model::meta::TaskKeywords,
    handler: bool,
    tags_key: Option<&crate::config::Key>,
    found: &mut Vec<Diagnostic>,
) {
    if let Some(name) = &keywords.name
        && (name.value.trim().is_empty() || name.value.chars().any(char::is_control))
    {
        found.push(
            Diagnostic::error("a task's `name` must be a non-empty label on one line")
                .at(name.span)
                .help("write a short human label, e.g. `name: Install nginx`; the task's address stays its `id`"),
        );
    }
    if handler && let Some(key) = tags_key {
        found.push(
            Diagnostic::error("`tags` has no meaning on a handler")
                .at(key.span)
                .help("a handler runs when a planned task notifies it, whatever --tags selects; tag the tasks that notify it"),
        );
        return;
    }
    for tag in &keywords.tags {
        if tag.value.is_empty()
            || tag
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        {
            found.push(
                Diagnostic::error("a tag must be non-empty, without spaces or commas")
                    .at(tag.span)
                    .help("`--tags a,b` splits at commas; use letters, digits, `-`, `_`, e.g. `tags: [web, nginx-conf]`"),
            );
        }
    }
}

/// A registered name is a template name (a later `when` reads `NAME.changed`), not a
/// built-in one, and names one result: not a loop's many.
pub fn check_register(
    register: Option<&Spanned<String>>,
    in_loop: bool,
    found: &mut Vec<Diagnostic>,
) {
    let Some(name) = register else {
        return;
    };
    let identifier = name
        .value
        .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || crate::template::RESERVED.contains(&name.value.as_str()) {
        found.push(
            Diagnostic::error(format!("`{}` cannot be a registered name", name.value))
                .at(name.span)
                .help("use letters, digits and `_`, not starting with a digit, and not `facts`, `secrets` or `item`"),
        );
    } else if in_loop {
        found.push(
            Diagnostic::error("`register` on a task with `loop`: its items have one result each")
                .at(name.span)
                .help("register a task without `loop`, or give each item its own task"),
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
        CollectorSpec::Disk(d) => {
            check_regexes(&d.regexes(), found);
        }
        CollectorSpec::Network(n) => {
            check_regexes(&n.regexes(), found);
        }
        CollectorSpec::Textfile(t) => absolute(&t.directory, "directory", found),
        _ => {}
    }
}

/// node_exporter's filter regexes: each must compile, and a collector's `…_include` and
/// `…_exclude` are mutually exclusive, as node_exporter's flags are.
fn check_regexes(fields: &[(&'static str, Option<&Spanned<String>>)], found: &mut Vec<Diagnostic>) {
    for (_, pattern) in fields {
        regex(*pattern, found);
    }
    for (name, pattern) in fields {
        let Some(prefix) = name.strip_suffix("_include") else {
            continue;
        };
        let exclude = format!("{prefix}_exclude");
        if let (Some(include), Some((_, Some(_)))) =
            (pattern, fields.iter().find(|(n, _)| *n == exclude))
        {
            found.push(
                Diagnostic::error(format!("`{name}` and `{exclude}` are mutually exclusive"))
                    .at(include.span)
                    .help("give one: names must match the include, or not match the exclude"),
            );
        }
    }
}

/// `plugin_log_filters`: the log filters the config's plugins provide.
pub fn check_log_pipeline(
    pipeline: &LogPipeline,
    plugin_log_filters: &[String],
    found: &mut Vec<Diagnostic>,
) {
    check_id(&pipeline.id, found);
    super::log_sources::check_log_source(&pipeline.source, found);
    super::log_processing::check_log_processing(pipeline, plugin_log_filters, found);
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
    if let Some(state_dir) = &settings.state_dir {
        absolute(state_dir, "state_dir", found);
    }
    if let Some(metrics) = &settings.metrics {
        check_metrics_server(metrics, found);
    }
    if let Some(agent) = &settings.agent {
        super::agent::check_agent(agent, found);
    }
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

/// `settings.metrics.web_config` and `limits`: what the server could not run with.
fn check_metrics_server(metrics: &MetricsSettings, found: &mut Vec<Diagnostic>) {
    if let Some(path) = &metrics.web_config
        && path.value.trim().is_empty()
    {
        found.push(
            Diagnostic::error("`web_config` is empty")
                .at(path.span)
                .help("the path of a node_exporter web config file, e.g. `/etc/prometheus/web-config.yml`"),
        );
    }
    let Some(limits) = &metrics.limits else {
        return;
    };
    let at_least = |field: &str, value: &Option<Spanned<u32>>, least: u32, found: &mut Vec<_>| {
        if let Some(v) = value
            && v.value < least
        {
            found.push(Diagnostic::error(format!("`{field}` must be at least {least}")).at(v.span));
        }
    };
    at_least("max_connections", &limits.max_connections, 1, found);
    at_least("max_header_bytes", &limits.max_header_bytes, 256, found);
    at_least("client_burst", &limits.client_burst, 1, found);
    for (field, value) in [
        ("client_interval", &limits.client_interval),
        ("read_timeout", &limits.read_timeout),
        ("write_timeout", &limits.write_timeout),
    ] {
        if let Some(v) = value
            && v.value.0.is_zero()
        {
            found.push(Diagnostic::error(format!("`{field}` must be more than zero")).at(v.span));
        }
    }
}
