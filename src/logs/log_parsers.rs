//! Parsers: how a line becomes a record's fields. One [`Parser`] per pipeline, made once from
//! the config (regexes compiled, formats checked) and shared by reference; `parse` takes
//! `&self` and counts with atomics, so a pipeline may parse on several threads.
//!
//! A line a parser cannot read is a parse failure: with `on_error: keep` the record goes on
//! with its raw line as the message and a `parse_error` field saying why (and no other field
//! of the failed parse), with `on_error: drop` it is dropped; both are counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::access_log_parser::{self, AccessLogFormat};
use super::log_event::LogEvent;
use super::log_timestamps::{TimeContext, TimeFormat, rfc3339_utc};
use super::logfmt_parser;
use super::syslog_parser;
use crate::check::log_processing::named_groups;
use crate::model::logs::{LogParser, OnParseError, ParserOptions, TimestampExtraction};

/// The field a failed parse leaves on a kept record.
pub const PARSE_ERROR: &str = "parse_error";
/// The field a parsed time is written to.
pub const TIMESTAMP: &str = "timestamp";

/// What one line parsed into: fields to set and, for formats that carry one, the message.
/// Built before the record is touched, so a failure leaves the record as it was.
#[derive(Debug, Default)]
pub struct Parsed {
    pub fields: Vec<(String, Value)>,
    pub message: Option<String>,
}

impl Parsed {
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.fields.push((name.to_owned(), value.into()));
    }

    /// Sets a text field unless it is absent (`-`, or empty).
    pub fn set_present(&mut self, name: &str, text: &str) {
        if !text.is_empty() && text != "-" {
            self.set(name, text);
        }
    }
}

/// Counters of one parser since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParserStats {
    /// Lines read into fields.
    pub parsed: u64,
    /// Lines the parser could not read (kept with `parse_error`, or dropped).
    pub failed: u64,
    /// Failed lines dropped (`on_error: drop`).
    pub dropped: u64,
}

enum Format {
    Plain,
    Json,
    Logfmt,
    Syslog,
    Access(AccessLogFormat),
    Regex(regex::Regex, Vec<String>),
}

pub struct Parser {
    format: Format,
    on_error: OnParseError,
    timestamp: Option<(String, TimeFormat)>,
    time: TimeContext,
    parsed: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Parser {
    /// A parser for the host: times without an offset are in its zone, without a year in the
    /// current one.
    pub fn new(config: &LogParser) -> Result<Parser, String> {
        Parser::with_time(config, TimeContext::system())
    }

    /// A parser with a given zone and clock (tests, replays of old logs).
    pub fn with_time(config: &LogParser, time: TimeContext) -> Result<Parser, String> {
        let plain = ParserOptions::default();
        let (format, on_error, timestamp) = match config {
            LogParser::None => (Format::Plain, plain.on_error, None),
            LogParser::Json(o) => (Format::Json, o.on_error, o.timestamp.as_ref()),
            LogParser::Logfmt(o) => (Format::Logfmt, o.on_error, o.timestamp.as_ref()),
            LogParser::Syslog(o) => (Format::Syslog, o.on_error, o.timestamp.as_ref()),
            LogParser::NginxCombined(o) => (
                Format::Access(AccessLogFormat::NginxCombined),
                o.on_error,
                o.timestamp.as_ref(),
            ),
            LogParser::ApacheCommon(o) => (
                Format::Access(AccessLogFormat::ApacheCommon),
                o.on_error,
                o.timestamp.as_ref(),
            ),
            LogParser::ApacheCombined(o) => (
                Format::Access(AccessLogFormat::ApacheCombined),
                o.on_error,
                o.timestamp.as_ref(),
            ),
            LogParser::Regex(r) => {
                let (regex, names) = named_groups(&r.pattern.value)?;
                (
                    Format::Regex(regex, names),
                    r.on_error,
                    r.timestamp.as_ref(),
                )
            }
        };
        Ok(Parser {
            format,
            on_error,
            timestamp: timestamp.map(timestamp_extraction).transpose()?,
            time,
            parsed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// The record with its fields, or `None` when it failed to parse and failures are
    /// dropped.
    pub fn parse(&self, mut event: LogEvent) -> Option<LogEvent> {
        let read = match &self.format {
            Format::Plain => Ok(()),
            Format::Json => parse_json(&mut event),
            Format::Logfmt => logfmt_parser::parse(&event.message).map(|p| commit(&mut event, p)),
            Format::Syslog => {
                syslog_parser::parse(&event.message, &self.time).map(|p| commit(&mut event, p))
            }
            Format::Access(format) => {
                access_log_parser::parse(*format, &event.message).map(|p| commit(&mut event, p))
            }
            Format::Regex(regex, names) => {
                parse_regex(regex, names, &event.message).map(|p| commit(&mut event, p))
            }
        };
        let result = read.and_then(|()| self.extract_timestamp(&mut event));
        match result {
            Ok(()) => {
                self.parsed.fetch_add(1, Ordering::Relaxed);
                Some(event)
            }
            Err(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                match self.on_error {
                    OnParseError::Drop => {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    OnParseError::Keep => {
                        event
                            .fields
                            .insert(PARSE_ERROR.to_owned(), Value::String(why));
                        Some(event)
                    }
                }
            }
        }
    }

    pub fn stats(&self) -> ParserStats {
        ParserStats {
            parsed: self.parsed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    fn extract_timestamp(&self, event: &mut LogEvent) -> Result<(), String> {
        let Some((field, format)) = &self.timestamp else {
            return Ok(());
        };
        let Some(text) = event.text(field) else {
            return Err(format!("no `{field}` field to read the time from"));
        };
        let time = format
            .parse(&text, &self.time)
            .map_err(|e| format!("`{field}`: {e}"))?;
        event.set(TIMESTAMP, Value::String(rfc3339_utc(time)));
        Ok(())
    }
}

fn timestamp_extraction(config: &TimestampExtraction) -> Result<(String, TimeFormat), String> {
    let field = config.field.as_deref().unwrap_or(TIMESTAMP).to_owned();
    let format = TimeFormat::new(&config.format.value)?;
    Ok((field, format))
}

fn commit(event: &mut LogEvent, parsed: Parsed) {
    for (name, value) in parsed.fields {
        event.set(&name, value);
    }
    if let Some(message) = parsed.message {
        event.message = message;
    }
}

/// Straight into the record's map: serde_json builds the object's values, not a `Value` of
/// the whole object first.
fn parse_json(event: &mut LogEvent) -> Result<(), String> {
    let mut object: BTreeMap<String, Value> = match serde_json::from_str(&event.message) {
        Ok(object) => object,
        Err(e) if e.is_data() => return Err(format!("not a JSON object: {e}")),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    if let Some(message) = object.remove(super::log_event::MESSAGE) {
        event.set(super::log_event::MESSAGE, message);
    }
    if event.fields.is_empty() {
        event.fields = object;
    } else {
        event.fields.append(&mut object);
    }
    Ok(())
}

fn parse_regex(regex: &regex::Regex, names: &[String], line: &str) -> Result<Parsed, String> {
    let Some(captures) = regex.captures(line) else {
        return Err("the line does not match the pattern".to_owned());
    };
    let mut parsed = Parsed::default();
    for name in names {
        if let Some(group) = captures.name(name) {
            if name == super::log_event::MESSAGE {
                parsed.message = Some(group.as_str().to_owned());
            } else {
                parsed.set(name, group.as_str());
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::tz::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::model::Spanned;
    use crate::model::logs::RegexParser;

    fn line(text: &str) -> LogEvent {
        LogEvent::new(text.to_owned(), Arc::from("/var/log/test.log"))
    }

    fn parser(config: LogParser) -> Parser {
        let now = "2026-12-06T21:00:00Z".parse().unwrap();
        Parser::with_time(&config, TimeContext::fixed(TimeZone::UTC, now)).unwrap()
    }

    fn options(on_error: OnParseError, timestamp: Option<(&str, &str)>) -> ParserOptions {
        ParserOptions {
            on_error,
            timestamp: timestamp.map(|(field, format)| TimestampExtraction {
                field: Some(field.to_owned()),
                format: Spanned::unplaced(format.to_owned()),
            }),
        }
    }

    fn fields(event: &LogEvent) -> Value {
        Value::Object(event.fields.clone().into_iter().collect())
    }

    #[test]
    fn plain_keeps_the_line_as_the_message() {
        let p = parser(LogParser::None);
        let e = p.parse(line("anything at all")).unwrap();
        assert_eq!(e.message, "anything at all");
        assert!(e.fields.is_empty());
        assert_eq!(p.stats().parsed, 1);
    }

    #[test]
    fn json_keys_become_fields_and_message_the_message() {
        let p = parser(LogParser::Json(ParserOptions::default()));
        let e = p
            .parse(line(
                r#"{"level":"warn","message":"disk low","free":{"mb":12}}"#,
            ))
            .unwrap();
        assert_eq!(e.message, "disk low");
        assert_eq!(fields(&e), json!({"level": "warn", "free": {"mb": 12}}));
    }

    #[test]
    fn json_that_is_not_an_object_is_kept_with_an_error() {
        let p = parser(LogParser::Json(ParserOptions::default()));
        for bad in ["[1,2]", "42", "{\"open\": ", "plain words"] {
            let e = p.parse(line(bad)).unwrap();
            assert_eq!(e.message, bad);
            assert_eq!(e.fields.len(), 1, "{bad}: {:?}", e.fields);
            assert!(e.fields.contains_key(PARSE_ERROR));
        }
        assert_eq!(
            p.stats(),
            ParserStats {
                parsed: 0,
                failed: 4,
                dropped: 0
            }
        );
    }

    #[test]
    fn on_error_drop_drops_and_counts() {
        let p = parser(LogParser::Json(options(OnParseError::Drop, None)));
        assert!(p.parse(line("not json")).is_none());
        assert!(p.parse(line("{}")).is_some());
        assert_eq!(
            p.stats(),
            ParserStats {
                parsed: 1,
                failed: 1,
                dropped: 1
            }
        );
    }

    #[test]
    fn timestamp_is_read_from_a_field_and_written_as_utc() {
        let p = parser(LogParser::Json(options(
            OnParseError::Keep,
            Some(("time", "%Y-%m-%d %H:%M:%S%z")),
        )));
        let e = p
            .parse(line(r#"{"time":"2026-03-01 10:00:00+0200"}"#))
            .unwrap();
        assert_eq!(e.text("timestamp").as_deref(), Some("2026-03-01T08:00:00Z"));
        assert_eq!(e.text("time").as_deref(), Some("2026-03-01 10:00:00+0200"));
    }

    #[test]
    fn a_bad_timestamp_keeps_the_fields_and_says_why() {
        let p = parser(LogParser::Json(options(
            OnParseError::Keep,
            Some(("time", "unix")),
        )));
        let e = p.parse(line(r#"{"time":"noon","a":1}"#)).unwrap();
        assert_eq!(e.text("a").as_deref(), Some("1"));
        let why = e.text(PARSE_ERROR).unwrap().into_owned();
        assert!(why.contains("`time`"), "{why}");
        let e = p.parse(line(r#"{"a":1}"#)).unwrap();
        assert!(e.text(PARSE_ERROR).unwrap().contains("no `time` field"));
    }

    #[test]
    fn regex_named_groups_become_fields() {
        let config = LogParser::Regex(RegexParser {
            pattern: Spanned::unplaced(
                r"^(?P<level>[A-Z]+) (?:\[(?P<thread>\w+)\] )?(?P<message>.*)$".to_owned(),
            ),
            on_error: OnParseError::Keep,
            timestamp: None,
        });
        let p = parser(config);
        let e = p.parse(line("WARN [main] low disk")).unwrap();
        assert_eq!(e.message, "low disk");
        assert_eq!(fields(&e), json!({"level": "WARN", "thread": "main"}));
        let e = p.parse(line("ERROR gone")).unwrap();
        assert_eq!(fields(&e), json!({"level": "ERROR"}));
        let e = p.parse(line("lowercase")).unwrap();
        assert_eq!(e.message, "lowercase");
        assert!(e.fields.contains_key(PARSE_ERROR));
    }

    #[test]
    fn a_regex_without_named_groups_is_refused() {
        let config = LogParser::Regex(RegexParser {
            pattern: Spanned::unplaced(r"^(\d+) (.*)$".to_owned()),
            on_error: OnParseError::Keep,
            timestamp: None,
        });
        let e = Parser::new(&config).err().unwrap();
        assert!(e.contains("no named capture group"), "{e}");
    }
}
