//! Rules of a log pipeline's parser and filters that types alone cannot say: regexes that
//! compile (and, for the regex parser, name a group), time formats strptime can read, rates
//! and counts that make sense, filters that do something. Each is checked here, where its
//! place in the config is known, so the pipeline never meets a bad value at run time.
//!
//! The rules the log pipeline applies again when it is made (a regex parser's groups, a time
//! format's directives) live here, and `logs` calls them: one definition, and `check` does not
//! reach into a later layer.

use crate::apply::field_rules::regex;
use crate::diagnostics::{Diagnostic, Span};
use crate::model::Spanned;
use crate::model::logs::{
    LogFilter, LogParser, LogPipeline, MatchFilter, ParserOptions, RedactFilter,
    TimestampExtraction,
};

pub fn check_log_processing(
    pipeline: &LogPipeline,
    plugin_log_filters: &[String],
    found: &mut Vec<Diagnostic>,
) {
    check_parser(&pipeline.parser, found);
    for (at, filter) in pipeline.filters.iter().enumerate() {
        // Filters carry no place of their own: a filter that is wrong as a whole is shown at
        // its `field`, or without one at the pipeline's id, and named by its position.
        let field = match filter {
            LogFilter::Include(m) | LogFilter::Exclude(m) => m.field.as_ref(),
            LogFilter::Redact(r) => r.field.as_ref(),
            LogFilter::Plugin(p) => Some(&p.name),
            _ => None,
        };
        let whole = Whole {
            span: field.map_or(pipeline.id.span, |f| f.span),
            name: format!("filter {} of pipeline `{}`", at + 1, pipeline.id.value),
        };
        check_filter(filter, &whole, plugin_log_filters, found);
    }
}

struct Whole {
    span: Span,
    name: String,
}

fn check_parser(parser: &LogParser, found: &mut Vec<Diagnostic>) {
    let timestamp = match parser {
        LogParser::None => None,
        LogParser::Json(ParserOptions { timestamp, .. })
        | LogParser::Logfmt(ParserOptions { timestamp, .. })
        | LogParser::Syslog(ParserOptions { timestamp, .. })
        | LogParser::NginxCombined(ParserOptions { timestamp, .. })
        | LogParser::ApacheCommon(ParserOptions { timestamp, .. })
        | LogParser::ApacheCombined(ParserOptions { timestamp, .. }) => timestamp.as_ref(),
        LogParser::Regex(r) => {
            let before = found.len();
            regex(Some(&r.pattern), found);
            if found.len() == before
                && let Err(why) = named_groups(&r.pattern.value)
            {
                found.push(
                    Diagnostic::error(format!("the regex parser's pattern: {why}"))
                        .at(r.pattern.span)
                        .help("name the parts that become fields: `(?P<status>\\d{3})`"),
                );
            }
            r.timestamp.as_ref()
        }
    };
    if let Some(TimestampExtraction { format, .. }) = timestamp
        && let Err(why) = time_format(&format.value)
    {
        found.push(
            Diagnostic::error(format!("invalid time format: {why}"))
                .at(format.span)
                .help("e.g. `%d/%b/%Y:%H:%M:%S %z`, `%Y-%m-%dT%H:%M:%S%.f%:z`, `rfc3339`, `unix`, `unix_ms`"),
        );
    }
}

fn check_filter(
    filter: &LogFilter,
    whole: &Whole,
    plugin_log_filters: &[String],
    found: &mut Vec<Diagnostic>,
) {
    match filter {
        LogFilter::Include(m) | LogFilter::Exclude(m) => check_match(m, whole, found),
        LogFilter::RateLimit(r) => {
            let per_second = r.per_second.value;
            if !(per_second.is_finite() && per_second > 0.0) {
                found.push(
                    Diagnostic::error(format!(
                        "`per_second` must be greater than 0, found {per_second}"
                    ))
                    .at(r.per_second.span)
                    .help("records per second on average; `0.5` lets one through every 2 s"),
                );
            }
            at_least_one(r.burst.as_ref(), "burst", found);
        }
        LogFilter::Sample(s) => at_least_one(Some(&s.rate), "rate", found),
        LogFilter::AddFields(a) => {
            not_empty(a.fields.value.is_empty(), a.fields.span, "fields", found)
        }
        LogFilter::RemoveFields(r) => {
            not_empty(r.fields.value.is_empty(), r.fields.span, "fields", found)
        }
        LogFilter::RenameFields(r) => {
            not_empty(r.fields.value.is_empty(), r.fields.span, "fields", found);
            if let Some((from, _)) = r.fields.value.iter().find(|(from, to)| from == to) {
                found.push(
                    Diagnostic::error(format!("`{from}` is renamed to itself")).at(r.fields.span),
                );
            }
        }
        LogFilter::Redact(r) => check_redact(r, whole, found),
        LogFilter::Plugin(p) => check_plugin_filter(&p.name, plugin_log_filters, found),
    }
}

fn check_plugin_filter(name: &Spanned<String>, provided: &[String], found: &mut Vec<Diagnostic>) {
    if provided.contains(&name.value) {
        return;
    }
    let mut names = provided.to_vec();
    names.sort();
    let help = if names.is_empty() {
        "declare the plugin that provides it in `settings.plugins` (docs/plugins.md)".to_owned()
    } else {
        format!(
            "the config's plugins provide the log filters {}",
            names.join(", ")
        )
    };
    found.push(
        Diagnostic::error(format!(
            "no plugin of the config provides the log filter `{}`",
            name.value
        ))
        .at(name.span)
        .help(help),
    );
}

fn check_match(m: &MatchFilter, whole: &Whole, found: &mut Vec<Diagnostic>) {
    regex(m.pattern.as_ref(), found);
    if let Some(equals) = &m.equals
        && !(equals.value.is_string() || equals.value.is_number() || equals.value.is_boolean())
    {
        found.push(
            Diagnostic::error("`equals` must be a string, a number or a boolean").at(equals.span),
        );
    }
    let bounds = [
        ("greater_than", &m.greater_than),
        ("greater_or_equal", &m.greater_or_equal),
        ("less_than", &m.less_than),
        ("less_or_equal", &m.less_or_equal),
    ];
    for (name, bound) in &bounds {
        if let Some(bound) = bound
            && !bound.value.is_finite()
        {
            found.push(
                Diagnostic::error(format!("`{name}` must be a finite number")).at(bound.span),
            );
        }
    }
    let conditions = m.pattern.is_some()
        || m.contains.is_some()
        || m.equals.is_some()
        || bounds.iter().any(|(_, b)| b.is_some());
    if !conditions {
        found.push(
            Diagnostic::error(format!("{} has no condition", whole.name))
                .at(whole.span)
                .help("give `pattern`, `contains`, `equals`, `greater_than`, `greater_or_equal`, `less_than` or `less_or_equal`"),
        );
    }
}

fn check_redact(r: &RedactFilter, whole: &Whole, found: &mut Vec<Diagnostic>) {
    for pattern in &r.patterns {
        regex(Some(pattern), found);
    }
    if r.patterns.is_empty() && r.builtin.is_empty() {
        found.push(
            Diagnostic::error(format!("{} (`redact`) has nothing to redact", whole.name))
                .at(whole.span)
                .help("give `patterns` (regular expressions) or `builtin: [credit_card, bearer_token, …]`"),
        );
    }
}

fn at_least_one(value: Option<&Spanned<u64>>, name: &str, found: &mut Vec<Diagnostic>) {
    if let Some(value) = value
        && value.value == 0
    {
        found.push(Diagnostic::error(format!("`{name}` must be at least 1")).at(value.span));
    }
}

fn not_empty(empty: bool, span: Span, name: &str, found: &mut Vec<Diagnostic>) {
    if empty {
        found.push(
            Diagnostic::error(format!("`{name}` is empty, so the filter does nothing")).at(span),
        );
    }
}

/// The time formats `timestamp: { format }` names, besides strftime ones.
pub const NAMED_TIME_FORMATS: [&str; 4] = ["rfc3339", "iso8601", "unix", "unix_ms"];

fn time_format(format: &str) -> Result<(), String> {
    if NAMED_TIME_FORMATS.contains(&format) {
        Ok(())
    } else {
        check_strftime(format)
    }
}

/// The regex parser's pattern compiled, with its group names; a pattern without a named
/// group would set no field.
pub fn named_groups(pattern: &str) -> Result<(regex::Regex, Vec<String>), String> {
    let regex = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
    let names: Vec<String> = regex.capture_names().flatten().map(str::to_owned).collect();
    if names.is_empty() {
        return Err("the pattern has no named capture group, so it would set no field".to_owned());
    }
    Ok((regex, names))
}

/// Directives `strptime` reads (jiff's, less those it only formats: `%c %r %X %x %q`).
const DIRECTIVES: &str = "AaBbhCDdeFfGgHIjklMmNnPpQRSsTtUuVWwYyZz%";

/// Checks a strftime format before any line is read, so a typo is a `check` error, not a
/// parse failure on every line.
pub fn check_strftime(format: &str) -> Result<(), String> {
    let mut chars = format.chars().peekable();
    let mut directives = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // Flags, a width, a precision (`%.3f`) and colons (`%:z`) may come before the letter.
        while matches!(chars.peek(), Some('-' | '_' | '0' | '^' | '#')) {
            chars.next();
        }
        while matches!(chars.peek(), Some(c) if c.is_ascii_digit()) {
            chars.next();
        }
        let mut precision = false;
        if chars.peek() == Some(&'.') {
            chars.next();
            precision = true;
            while matches!(chars.peek(), Some(c) if c.is_ascii_digit()) {
                chars.next();
            }
        }
        let mut colons = 0;
        while chars.peek() == Some(&':') {
            chars.next();
            colons += 1;
        }
        match chars.next() {
            None => return Err("the format ends in a lone `%`".to_owned()),
            Some('f') if colons == 0 => {}
            Some(_) if precision => return Err("only `%f` takes a precision (`%.3f`)".to_owned()),
            Some('z' | 'Q') if colons <= 3 => {}
            Some(d) if colons > 0 => return Err(format!("`%:{d}` is not a directive")),
            Some(d) if DIRECTIVES.contains(d) => {}
            Some(d) => {
                return Err(format!(
                    "`%{d}` is not a directive strptime reads (`%Y-%m-%d %H:%M:%S`, `%b`, `%z`, `%.f` are)"
                ));
            }
        }
        directives += 1;
    }
    if directives == 0 {
        return Err("the format has no `%` directive; use `rfc3339`, `unix`, `unix_ms` or a strftime format like `%Y-%m-%d %H:%M:%S`".to_owned());
    }
    Ok(())
}
