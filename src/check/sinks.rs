//! Rules of sinks (`settings.audit`) that their types alone cannot say. A sink's fields are
//! plain values (the same type is recorded in plan.json), so a mistake is placed by looking
//! its field up in the sink's node as written.

use crate::config::{Node, Value};
use crate::diagnostics::{Diagnostic, Span, did_you_mean, one_of};
use crate::model::Spanned;
use crate::model::sinks::{
    FACILITIES, HttpFormat, RetryConfig, S3_MIN_PART_SIZE, SEVERITIES, SinkConfig, SyslogProtocol,
    code_of,
};

/// The sinks of `settings.audit`; `audit` is its node as written.
pub fn check_sinks(
    sinks: &[Spanned<SinkConfig>],
    audit: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    let written = match audit.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.as_slice(),
        _ => &[],
    };
    for (i, sink) in sinks.iter().enumerate() {
        check_sink(sink, written.get(i), found);
    }
}

/// The span of the value at `path` in `node` (`["auth", "token"]`), else of the sink.
pub(super) fn field_span(sink: Span, node: Option<&Node>, path: &[&str]) -> Span {
    let mut at = node;
    for part in path {
        at = at.and_then(|n| n.get(part));
    }
    at.map_or(sink, |n| n.span)
}

/// One sink; `node` is it as written (a sink of `settings.audit`, or a log output).
pub(super) fn check_sink(
    sink: &Spanned<SinkConfig>,
    node: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    let mut problem = |path: &[&str], message: String, help: String| {
        let span = field_span(sink.span, node, path);
        found.push(Diagnostic::error(message).at(span).help(help));
    };
    let config = &sink.value;
    for (field, path) in config.local_paths() {
        if let Err(why) = crate::fsutil::check_plain_absolute(path) {
            problem(
                field,
                why.replacen("path", &format!("`{}`", field.join(".")), 1),
                "write the full path from `/`, without `.` or `..` components".to_owned(),
            );
        }
    }
    for (field, name) in config.secrets() {
        if !is_secret_name(name) {
            problem(
                field,
                format!("`{name}` is not a secret's name"),
                "a secret is named like an environment variable: `ES_PASSWORD`".to_owned(),
            );
        }
    }
    let mut patterns = Vec::new();
    match config {
        SinkConfig::Directory(c) => {
            if let Some(name) = &c.name {
                if name.contains('/') {
                    problem(
                        &["name"],
                        format!("the file name pattern `{name}` holds a `/`"),
                        "files go in `path` itself: put the directories in `path`".to_owned(),
                    );
                }
                patterns.push(("name", name.as_str()));
            }
        }
        SinkConfig::Http(c) => {
            if let Some(why) = url_problem(&c.url) {
                problem(
                    &["url"],
                    format!("`url`: {why}"),
                    "e.g. `https://logs.example.com:9200/_bulk`".to_owned(),
                );
            }
            if let Some(index) = &c.index {
                patterns.push(("index", index.as_str()));
            }
            if c.format == HttpFormat::ElasticsearchBulk && c.index.is_none() {
                problem(
                    &["format"],
                    "an `elasticsearch_bulk` sink needs an `index`".to_owned(),
                    "add e.g. `index: driftless-%Y.%m.%d`".to_owned(),
                );
            }
        }
        SinkConfig::S3(c) => {
            let bucket_ok = (3..=63).contains(&c.bucket.len())
                && c.bucket.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.'
                });
            if !bucket_ok {
                problem(
                    &["bucket"],
                    format!("`{}` is not an S3 bucket name", c.bucket),
                    "3 to 63 lower-case letters, digits, `-` and `.`".to_owned(),
                );
            }
            if let Some(why) = c.endpoint.as_deref().and_then(url_problem) {
                problem(
                    &["endpoint"],
                    format!("`endpoint`: {why}"),
                    "e.g. `http://127.0.0.1:8333`".to_owned(),
                );
            }
            if let Some(size) = c.part_size
                && size < S3_MIN_PART_SIZE
            {
                problem(
                    &["part_size"],
                    format!("`part_size` {size} is smaller than S3's smallest part, 5 MiB"),
                    "write at least 5242880 (the default is 8388608, 8 MiB)".to_owned(),
                );
            }
            patterns.push(("prefix", c.prefix.as_str()));
            if let Some(key) = &c.key {
                patterns.push(("key", key.as_str()));
            }
        }
        SinkConfig::Syslog(c) => {
            for (field, plural, value, table) in [
                ("facility", "facilities", &c.facility, FACILITIES),
                ("severity", "severities", &c.severity, SEVERITIES),
            ] {
                if let Some(value) = value
                    && code_of(table, value).is_none()
                {
                    let names = table.iter().map(|(n, _)| *n);
                    problem(
                        &[field],
                        format!("`{value}` is not a syslog {field}"),
                        did_you_mean(value, names.clone())
                            .unwrap_or_else(|| format!("the {plural} are {}", one_of(names))),
                    );
                }
            }
            if c.protocol != SyslogProtocol::Unix
                && let Some(address) = &c.address
                && address
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
            {
                problem(
                    &["address"],
                    format!("`address`: `{address}` is not `host:port`"),
                    "e.g. `127.0.0.1:514`".to_owned(),
                );
            }
        }
        SinkConfig::Console(_) => {}
    }
    for (field, pattern) in patterns {
        let expanded = pattern.replace("{host}", "h").replace("{id}", "1");
        if let Err(why) = crate::clock::strftime(&expanded, std::time::UNIX_EPOCH) {
            problem(
                &[field],
                format!("`{field}`: {why}"),
                "write `%%` for a `%`".to_owned(),
            );
        }
    }
    check_retry(config.delivery().retry, sink.span, node, found);
}

/// A sink's `retry`; `node` is the sink as written.
pub(super) fn check_retry(
    retry: Option<&RetryConfig>,
    sink: Span,
    node: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    if retry.and_then(|r| r.attempts) == Some(0) {
        found.push(
            Diagnostic::error("`retry.attempts` is 0: a sink sends at least once")
                .at(field_span(sink, node, &["retry", "attempts"]))
                .help("write 1 for no retries"),
        );
    }
}

/// Why `url` is not an `http(s)://host…` URL.
fn url_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        None => Some(format!("`{url}` is not an http:// or https:// URL")),
        Some(rest) if rest.split(['/', '?']).next().is_none_or(str::is_empty) => {
            Some(format!("`{url}` has no host"))
        }
        // A credential in the URL would be shown wherever the sink is named.
        Some(rest)
            if rest
                .split(['/', '?'])
                .next()
                .is_some_and(|a| a.contains('@')) =>
        {
            Some(
                "the URL holds a user name or password, and a credential is never written in the \
             config (http: name its secret in `auth`)"
                    .to_owned(),
            )
        }
        Some(_) => None,
    }
}

fn is_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
