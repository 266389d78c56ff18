//! Target `log_lines`: any line — real samples of every format mutated at the byte and the
//! character level, lines built from the formats' own pieces, and arbitrary bytes (decoded as
//! a source decodes them, invalid UTF-8 replaced) — through every parser, each with a time
//! extraction, and then through a chain of every filter. Never a panic; a line that fails to
//! parse keeps its raw text; each line is handled in bounded time.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use driftless::logs::LogEvent;
use driftless::logs::log_filters::Filters;
use driftless::logs::log_parsers::Parser;
use driftless::model::Spanned;
use driftless::model::logs::{
    AddFieldsFilter, BuiltinRedaction, LogFilter, LogParser, MatchFilter, OnParseError,
    ParserOptions, RateLimitFilter, RedactFilter, RegexParser, RemoveFieldsFilter,
    RenameFieldsFilter, SampleFilter, TimestampExtraction,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::fuzz;
use super::mutate::{edit, mutated};

/// Far above what one line takes, even unoptimized on a loaded machine.
const MAX_LINE: Duration = Duration::from_secs(5);

const SEEDS: &[&str] = &[
    r#"{"time":"2026-12-06T21:13:00.123Z","level":"info","message":"ok","n":[1,{"a":null}]}"#,
    r#"at=info method=GET path="/" fwd="204.204.204.204" status=200 msg="a \"b\"\n" flag"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
    r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"][x@1 a="\]"] An application event"#,
    "<34>Oct 11 22:14:15 mymachine su[12]: 'su root' failed for lonvick on /dev/pts/8",
    "2026-12-06T21:28:03.284933+00:00 vm postfix/smtpd[2211]: connect from unknown[10.0.0.9]",
    "Dec  6 21:28:03 vm sshd[32745]: Accepted publickey for deploy card 4111 1111 1111 1111 Bearer abc.def",
    "2026-12-06 21:15:00,123 ERROR [main] com.example.OrderService - Order failed",
];

const PIECES: &[&str] = &[
    "<",
    ">",
    "<34>",
    "<191>",
    "<999>",
    "1 ",
    " ",
    "  ",
    "-",
    "[",
    "]",
    "\"",
    "\\",
    "\\\"",
    "=",
    ":",
    "{",
    "}",
    "[1,",
    "\"k\":",
    "null",
    "Dec  6 ",
    "Feb 29 ",
    "21:28:03 ",
    "2026-12-06T",
    "21:28:03.123456+00:00",
    "Z",
    "+0530",
    "/Oct/2000:",
    "HTTP/1.1",
    "GET /",
    "200 ",
    "- ",
    "host ",
    "app[1]: ",
    "app: ",
    "key=",
    "\u{feff}",
    "\u{fffd}",
    "ß",
    "🦀",
    "\t",
    "\r",
    "\u{0}",
    "4111111111111111",
    "Bearer ",
    "://u:p@",
    "AKIAIOSFODNN7EXAMPLE",
    "eyJa.eyJb.c",
];

fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            prop::sample::select(SEEDS),
            prop::collection::vec(edit(), 0..12)
        )
            .prop_map(|(seed, edits)| mutated(seed.as_bytes(), &edits)),
        prop::collection::vec(prop::sample::select(PIECES), 0..60)
            .prop_map(|p| p.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn parsers() -> Vec<LogParser> {
    let with_time = |format: &str| ParserOptions {
        on_error: OnParseError::Keep,
        timestamp: Some(TimestampExtraction {
            field: Some("timestamp".to_owned()),
            format: Spanned::unplaced(format.to_owned()),
        }),
    };
    vec![
        LogParser::None,
        LogParser::Json(with_time("rfc3339")),
        LogParser::Json(with_time("unix")),
        LogParser::Logfmt(with_time("%Y-%m-%dT%H:%M:%S%.f%:z")),
        LogParser::Syslog(with_time("rfc3339")),
        LogParser::NginxCombined(ParserOptions::default()),
        LogParser::ApacheCommon(ParserOptions::default()),
        LogParser::ApacheCombined(with_time("unix_ms")),
        LogParser::Regex(RegexParser {
            pattern: Spanned::unplaced(
                r"^(?P<time>\S+ \S+) (?P<level>[A-Z]+) +\[(?P<thread>[^\]]+)\] (?P<message>.*)$"
                    .to_owned(),
            ),
            on_error: OnParseError::Drop,
            timestamp: Some(TimestampExtraction {
                field: Some("time".to_owned()),
                format: Spanned::unplaced("%Y-%m-%d %H:%M:%S,%f".to_owned()),
            }),
        }),
    ]
}

fn filters() -> Vec<LogFilter> {
    let condition = |field: &str| MatchFilter {
        field: Some(Spanned::unplaced(field.to_owned())),
        pattern: None,
        contains: None,
        equals: None,
        greater_than: None,
        greater_or_equal: None,
        less_than: None,
        less_or_equal: None,
    };
    let mut added = BTreeMap::new();
    added.insert("env".to_owned(), serde_json::json!({"a": [1, "b"]}));
    let mut renames = BTreeMap::new();
    renames.insert("message".to_owned(), "msg".to_owned());
    renames.insert("msg".to_owned(), "message".to_owned());
    vec![
        LogFilter::Exclude(MatchFilter {
            pattern: Some(Spanned::unplaced("^$".to_owned())),
            ..condition("message")
        }),
        LogFilter::Exclude(MatchFilter {
            greater_than: Some(Spanned::unplaced(599.0)),
            equals: Some(Spanned::unplaced(serde_json::json!("1e3"))),
            ..condition("status")
        }),
        LogFilter::Exclude(MatchFilter {
            contains: Some(Spanned::unplaced("\u{0}".to_owned())),
            ..condition("file")
        }),
        LogFilter::Redact(RedactFilter {
            field: None,
            patterns: vec![Spanned::unplaced("p=(?P<secret>\\S*)".to_owned())],
            builtin: vec![
                BuiltinRedaction::CreditCard,
                BuiltinRedaction::BearerToken,
                BuiltinRedaction::UrlPassword,
                BuiltinRedaction::AwsAccessKeyId,
                BuiltinRedaction::Jwt,
                BuiltinRedaction::Email,
                BuiltinRedaction::Ipv4,
            ],
            replacement: Some(String::new()),
        }),
        LogFilter::Redact(RedactFilter {
            field: Some(Spanned::unplaced("structured_data".to_owned())),
            patterns: vec![Spanned::unplaced(".".to_owned())],
            builtin: vec![],
            replacement: None,
        }),
        LogFilter::AddFields(AddFieldsFilter {
            fields: Spanned::unplaced(added),
            overwrite: false,
        }),
        LogFilter::RenameFields(RenameFieldsFilter {
            fields: Spanned::unplaced(renames),
        }),
        LogFilter::RemoveFields(RemoveFieldsFilter {
            fields: Spanned::unplaced(vec!["file".to_owned(), "nope".to_owned()]),
        }),
        LogFilter::RateLimit(RateLimitFilter {
            key: Some("hostname".to_owned()),
            per_second: Spanned::unplaced(1e9),
            burst: None,
        }),
        LogFilter::Sample(SampleFilter {
            rate: Spanned::unplaced(1),
            key: Some("appname".to_owned()),
        }),
    ]
}

fn made() -> &'static Vec<Parser> {
    static PARSERS: OnceLock<Vec<Parser>> = OnceLock::new();
    PARSERS.get_or_init(|| {
        parsers()
            .iter()
            .map(|config| Parser::new(config).expect("a valid parser"))
            .collect()
    })
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    let mut chain =
        Filters::new(&filters(), &driftless::plugins::Plugins::default()).expect("valid filters");
    for parser in made() {
        let started = Instant::now();
        let event = LogEvent::new(text.to_string(), Arc::from("/var/log/fuzz.log"));
        let Some(event) = parser.parse(event) else {
            continue;
        };
        if let Some(serde_json::Value::String(_)) = event.fields.get("parse_error")
            && event.fields.len() == 1
        {
            prop_assert_eq!(&event.message, &*text, "a failed line keeps its raw text");
        }
        let mut out = Vec::new();
        chain.apply(event, &mut out);
        for kept in &out {
            let json: serde_json::Value = serde_json::from_slice(&kept.to_json())
                .map_err(|e| TestCaseError::fail(format!("a record is not JSON: {e}")))?;
            prop_assert!(json.is_object());
        }
        prop_assert!(
            started.elapsed() < MAX_LINE,
            "one line took {:?}",
            started.elapsed()
        );
    }
    Ok(())
}

#[test]
fn log_lines() {
    fuzz("log_lines", line(), |input: &Vec<u8>| check(input));
}
