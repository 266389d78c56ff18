//! `logs:` pipelines: a source, a parser, filters and outputs. The pipeline machinery arrives
//! with the logs issue; this is what a config may say.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sinks::{
    BatchConfig, ConsoleSinkConfig, HttpFormat, HttpSinkConfig, RetryConfig, S3SinkConfig,
    SinkConfig, SpoolConfig, SyslogSinkConfig,
};
use super::spanned::Spanned;
use super::values::{Duration, Mode};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogPipeline {
    /// Unique id of the pipeline (`logs.<id>`).
    pub id: Spanned<String>,
    pub source: LogSource,
    /// How lines become records (default: none, the line is the message).
    #[serde(default)]
    pub parser: LogParser,
    #[serde(default)]
    pub filters: Vec<LogFilter>,
    /// Where records go; at least one.
    pub outputs: Spanned<Vec<LogOutput>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogSource {
    File(FileLogSource),
}

/// Where a file is first read from when the source has no checkpoint for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// From its first byte.
    Beginning,
    /// From its end: only what is written from now on.
    #[default]
    End,
}

/// Files to tail, by glob pattern; rotation by rename and by copytruncate is followed, and
/// a file's read position survives restarts (checkpoints).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLogSource {
    /// Absolute paths or glob patterns (`*`, `?`, `[a-z]`, `{a,b}`, `**` for any depth) of the
    /// files to tail; files that appear later are picked up.
    pub paths: Spanned<Vec<String>>,
    /// Glob patterns of files not to tail, even when `paths` matches them: a pattern with a
    /// `/` is matched against the whole path, one without against the file name (`*.gz`).
    #[serde(default)]
    pub exclude: Option<Spanned<Vec<String>>>,
    /// Where the files present when the source starts, and without a checkpoint, are first
    /// read from (default `end`). A file that appears later is always read from its
    /// beginning. `read_from` is another name for it.
    #[serde(default, alias = "read_from")]
    pub start_at: StartAt,
    /// The character encoding of the files (default `utf-8`; invalid bytes become U+FFFD).
    #[serde(default)]
    pub encoding: FileEncoding,
    /// The longest line kept, in bytes (default 1048576, 1 MiB); a longer line is cut to
    /// it and the rest of it, up to its line break, is skipped and counted.
    pub max_line_bytes: Option<Spanned<u64>>,
    /// How long a last line without its line break is held before it is passed on as it
    /// is (default `5s`).
    pub partial_timeout: Option<Spanned<Duration>>,
    /// Joins several lines into one record (a stack trace, a continued line).
    pub multiline: Option<Multiline>,
}

/// The character encoding of a file; a byte order mark at its start is skipped (and for
/// UTF-16, says which byte order the file is in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum FileEncoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    /// ISO-8859-1: every byte is the character of the same number.
    #[serde(rename = "latin-1")]
    Latin1,
}

/// Multiline aggregation, as Vector's `multiline`: a record begins at a line matching
/// `start_pattern`; `condition_pattern` and `mode` say which following lines join it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Multiline {
    /// A regular expression matching the first line of a record.
    pub start_pattern: Spanned<String>,
    /// A regular expression tested on each following line; `mode` says what a match means.
    pub condition_pattern: Spanned<String>,
    pub mode: MultilineMode,
    /// How long a record waits for its next line before it is passed on (default `1s`).
    pub timeout: Option<Spanned<Duration>>,
}

/// What a line matching `condition_pattern` means to the record being gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MultilineMode {
    /// Lines that match join the record; the first that does not ends it (a Java stack
    /// trace: continuation lines begin with white space).
    ContinueThrough,
    /// Lines that match join the record, and so does the one line after them (a line
    /// ending in `\\` continues on the next).
    ContinuePast,
    /// Lines that do not match join the record; a line that matches begins the next one.
    HaltBefore,
    /// Lines join the record up to and including the first that matches (a statement
    /// ending in `;`).
    HaltWith,
}

/// How lines become records. Every parser but `none` takes `on_error` and `timestamp`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogParser {
    /// The line is the message; no fields (the default).
    #[default]
    None,
    /// One JSON object per line: its keys become fields (a `message` key becomes the
    /// message). A line that is not a JSON object is a parse failure.
    Json(ParserOptions),
    /// `key=value` pairs (logfmt): values may be double-quoted with `\"`, `\\`, `\n`, `\t`
    /// escapes; a bare key is `true`. A line without any `key=value` pair is a parse failure.
    Logfmt(ParserOptions),
    /// Syslog lines: RFC 5424, RFC 3164, and the files rsyslog writes (`/var/log/syslog`,
    /// traditional `Mmm dd hh:mm:ss` or RFC 3339 high-precision timestamps, without `<PRI>`).
    /// Fields: `facility`, `severity`, `timestamp` (RFC 3339, UTC), `hostname`, `appname`,
    /// `procid`, `msgid`, `version`, `structured_data`; the message becomes the message.
    Syslog(ParserOptions),
    /// nginx's `combined` access-log format. Fields: `client`, `user`, `timestamp` (RFC 3339,
    /// UTC), `request`, `method`, `path`, `protocol`, `status`, `size`, `referrer`, `agent`;
    /// `-` is absent.
    NginxCombined(ParserOptions),
    /// Apache's common log format (`%h %l %u %t "%r" %>s %b`). Fields: `client`, `ident`,
    /// `user`, `timestamp`, `request`, `method`, `path`, `protocol`, `status`, `size`.
    ApacheCommon(ParserOptions),
    /// Apache's combined log format: the common format plus `referrer` and `agent`.
    ApacheCombined(ParserOptions),
    /// A regular expression whose named capture groups become fields.
    Regex(RegexParser),
}

/// What a parser does beyond its format: time extraction and the handling of failures.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParserOptions {
    /// What becomes of a line the parser cannot read (default `keep`).
    #[serde(default)]
    pub on_error: OnParseError,
    /// Reads a field as a time and writes it to `timestamp` as RFC 3339 UTC.
    pub timestamp: Option<TimestampExtraction>,
}

/// What becomes of a line the parser cannot read; either way it is counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnParseError {
    /// Keep the raw line as the message, with a `parse_error` field saying why.
    #[default]
    Keep,
    /// Drop the line.
    Drop,
}

/// Reads a field as a time and writes it to `timestamp` as RFC 3339 UTC.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimestampExtraction {
    /// The field holding the time (default `timestamp`).
    pub field: Option<String>,
    /// A strftime-style format (`%d/%b/%Y:%H:%M:%S %z`, `%Y-%m-%dT%H:%M:%S%.f%:z`, `%b %e
    /// %H:%M:%S`), or `rfc3339`, `unix` (seconds, fractions allowed) or `unix_ms`. A time
    /// without an offset is UTC; a time without a year is in the current year (or the last,
    /// when that would put it more than a day in the future).
    pub format: Spanned<String>,
}

/// Named capture groups become fields; a group named `message` replaces the message.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegexParser {
    /// A regular expression with at least one named group (`(?P<status>\d+)`); a line it does
    /// not match is a parse failure.
    pub pattern: Spanned<String>,
    /// What becomes of a line the pattern does not match (default `keep`).
    #[serde(default)]
    pub on_error: OnParseError,
    /// Reads a field as a time and writes it to `timestamp` as RFC 3339 UTC.
    pub timestamp: Option<TimestampExtraction>,
}

/// One step of a pipeline's filter list; the list runs in order and a record dropped by one
/// step goes no further.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogFilter {
    /// Keep only records whose field meets every condition given.
    Include(MatchFilter),
    /// Drop records whose field meets every condition given.
    Exclude(MatchFilter),
    /// At most `per_second` records per second (bursts up to `burst`) for each value of
    /// `key`; the rest are dropped.
    RateLimit(RateLimitFilter),
    /// Keeps one record in `rate`.
    Sample(SampleFilter),
    /// Sets fields to fixed values.
    AddFields(AddFieldsFilter),
    /// Removes fields.
    RemoveFields(RemoveFieldsFilter),
    /// Renames fields.
    RenameFields(RenameFieldsFilter),
    /// Replaces what matches patterns in a field (secrets, card numbers) with a fixed text.
    Redact(RedactFilter),
    /// A log filter of the config's plugins (`settings.plugins`, docs/plugins.md): each
    /// record in, zero or more out; the filters after it see each.
    Plugin(PluginFilter),
}

/// Conditions on one field; a record meets the filter when its field meets every condition
/// given (at least one). A record without the field meets none.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchFilter {
    /// The record field to test (default `message`).
    pub field: Option<Spanned<String>>,
    /// A regular expression the field's text matches (anywhere, unless anchored).
    pub pattern: Option<Spanned<String>>,
    /// A text the field's text contains.
    pub contains: Option<Spanned<String>>,
    /// A string or number the field equals (numbers and numeric strings compare as numbers:
    /// `200` equals `"200"` and `200.0`).
    pub equals: Option<Spanned<serde_json::Value>>,
    /// The field is a number, or a numeric string, greater than this.
    pub greater_than: Option<Spanned<f64>>,
    /// The field is a number, or a numeric string, at least this.
    pub greater_or_equal: Option<Spanned<f64>>,
    /// The field is a number, or a numeric string, less than this.
    pub less_than: Option<Spanned<f64>>,
    /// The field is a number, or a numeric string, at most this.
    pub less_or_equal: Option<Spanned<f64>>,
}

/// A token bucket per value of `key`: each holds up to `burst` tokens, refilled at
/// `per_second`; a record takes one token or is dropped.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFilter {
    /// The field whose value picks the bucket (absent: one bucket for all records; a record
    /// without the field shares the bucket of the empty value). At most 10000 keys are
    /// tracked; beyond that, idle buckets are forgotten first.
    pub key: Option<String>,
    /// Records per second let through, on average; more than 0.
    pub per_second: Spanned<f64>,
    /// Records let through at once after a quiet spell (default: `per_second`, at least 1).
    pub burst: Option<Spanned<u64>>,
}

/// Keeps one record in `rate`: without `key` the 1st, the `rate`+1st, … (a counter); with
/// `key`, the records whose field's value hashes to a multiple of `rate`, so every record of a
/// kept value is kept (a request id, a trace id).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleFilter {
    /// Keep one in this many; at least 1.
    pub rate: Spanned<u64>,
    /// The field whose value decides, by hash (default: none, a counter); a record without
    /// the field samples as the empty value.
    pub key: Option<String>,
}

/// Sets fields to fixed values (strings, numbers, booleans, lists, mappings).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddFieldsFilter {
    /// Field name → value.
    pub fields: Spanned<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Replace a field the record already has (default `true`).
    #[serde(default = "default_true")]
    pub overwrite: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginFilter {
    /// The log filter's name, as its plugin provides it (`driftless plugin check FILE` lists
    /// them).
    pub name: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveFieldsFilter {
    /// The names of the fields to remove (`message` and `file` become empty).
    pub fields: Spanned<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameFieldsFilter {
    /// Old name → new name; a field the record lacks is skipped, and the new name replaces a
    /// field of that name.
    pub fields: Spanned<std::collections::BTreeMap<String, String>>,
}

/// Replaces what matches in a field with `replacement`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactFilter {
    /// The field to redact (default `message`); a non-string field is redacted in its JSON
    /// text and becomes a string when something matched.
    pub field: Option<Spanned<String>>,
    /// Regular expressions; the whole match is replaced (or, when the pattern has a group
    /// named `secret`, only that group).
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    /// Patterns driftless knows.
    #[serde(default)]
    pub builtin: Vec<BuiltinRedaction>,
    /// The text put in place of a match (default `[REDACTED]`).
    pub replacement: Option<String>,
}

/// Secrets and personal data driftless recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRedaction {
    /// Payment card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, that
    /// pass the Luhn check (so order numbers and timestamps are left alone).
    CreditCard,
    /// The token of `Bearer <token>` (an `Authorization` header).
    BearerToken,
    /// The password of a URL's user info (`https://user:password@host`).
    UrlPassword,
    /// AWS access key ids (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// JSON Web Tokens (`eyJ….eyJ….…`).
    Jwt,
    /// E-mail addresses.
    Email,
    /// IPv4 addresses.
    Ipv4,
}

/// Where a pipeline's records go, by `type`. Every output but `file` is a sink (the same
/// fields as in `settings.audit`, credentials as `{ secret: NAME }`) with what a log stream
/// adds: `encoding`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogOutput {
    /// Lines appended to a local file, rotated by size or by the time fields of its name.
    File(FileLogOutput),
    /// One object per batch in an S3 bucket (AWS or an S3-compatible store).
    S3(SinkLogOutput<S3SinkConfig>),
    /// One POST per batch: NDJSON, a JSON array, or an Elasticsearch/OpenSearch `_bulk` body.
    Http(SinkLogOutput<HttpSinkConfig>),
    /// One syslog message per record, over UDP, TCP or `/dev/log`.
    Syslog(SinkLogOutput<SyslogSinkConfig>),
    /// One line per record on driftless's standard output or error.
    Console(SinkLogOutput<ConsoleSinkConfig>),
}

impl LogOutput {
    /// The `type` as written.
    pub fn type_name(&self) -> &'static str {
        match self {
            LogOutput::File(_) => "file",
            LogOutput::S3(_) => "s3",
            LogOutput::Http(_) => "http",
            LogOutput::Syslog(_) => "syslog",
            LogOutput::Console(_) => "console",
        }
    }

    /// The record's form on the wire, as configured or the output's default.
    pub fn encoding(&self) -> LogEncoding {
        let (given, default) = match self {
            LogOutput::File(c) => (c.encoding, LogEncoding::Json),
            LogOutput::S3(c) => (c.encoding, LogEncoding::Json),
            LogOutput::Http(c) => (c.encoding, LogEncoding::Json),
            // A syslog message is a line of text: the record's message, as an application
            // would have logged it.
            LogOutput::Syslog(c) => (c.encoding, LogEncoding::Text),
            LogOutput::Console(c) => (c.encoding, LogEncoding::Json),
        };
        given.unwrap_or(default)
    }
}

impl LogOutput {
    /// The sink this output runs as, with its log-stream defaults filled in (`{token}` in an
    /// s3 output's default key is filled when it is opened); `None` for `file`.
    pub fn sink_config(&self, pipeline: &str) -> Option<SinkConfig> {
        Some(match self {
            LogOutput::File(_) => return None,
            LogOutput::S3(c) => SinkConfig::S3(c.with_defaults(pipeline)),
            LogOutput::Http(c) => SinkConfig::Http(c.with_defaults(pipeline)),
            LogOutput::Syslog(c) => SinkConfig::Syslog(c.with_defaults(pipeline)),
            LogOutput::Console(c) => SinkConfig::Console(c.sink.clone()),
        })
    }

    /// Where it sends, for people and for telling outputs apart: "file /var/log/x.log",
    /// "s3 bucket logs (prefix nginx/) at http://…". Never a credential.
    pub fn destination(&self, pipeline: &str) -> String {
        match (self, self.sink_config(pipeline)) {
            (LogOutput::File(c), _) => format!("file {}", c.path),
            (_, Some(sink)) => sink.destination(),
            (_, None) => self.type_name().to_owned(),
        }
    }
}

impl SinkLogOutput<S3SinkConfig> {
    /// Objects named by time, host, pipeline, a token of the process and the batch's number:
    /// `%Y/%m/%d/%H%M%SZ-{host}-<pipeline>-{token}-{id}.ndjson` (`.log` for `text`; the sink
    /// adds `.gz`). `{pipeline}` in `prefix` or `key` is the pipeline's id.
    pub fn with_defaults(&self, pipeline: &str) -> S3SinkConfig {
        let mut sink = self.sink.clone();
        let pipeline = name_part(pipeline);
        let extension = match self.encoding.unwrap_or(LogEncoding::Json) {
            LogEncoding::Json => "ndjson",
            LogEncoding::Text => "log",
        };
        sink.key.get_or_insert_with(|| {
            format!("%Y/%m/%d/%H%M%SZ-{{host}}-{pipeline}-{{token}}-{{id}}.{extension}")
        });
        sink.prefix = sink.prefix.replace("{pipeline}", &pipeline);
        if let Some(key) = &mut sink.key {
            *key = key.replace("{pipeline}", &pipeline);
        }
        sink
    }
}

impl SinkLogOutput<HttpSinkConfig> {
    /// A `_bulk` output without an `index` writes to `logs-<pipeline>-%Y.%m.%d`;
    /// `{pipeline}` in an index is the pipeline's id (lower case, as Elasticsearch wants).
    pub fn with_defaults(&self, pipeline: &str) -> HttpSinkConfig {
        let mut sink = self.sink.clone();
        let pipeline = name_part(pipeline).to_ascii_lowercase();
        if sink.format == HttpFormat::ElasticsearchBulk && sink.index.is_none() {
            sink.index = Some(format!("logs-{pipeline}-%Y.%m.%d"));
        }
        if let Some(index) = &mut sink.index {
            *index = index.replace("{pipeline}", &pipeline);
        }
        sink
    }
}

impl SinkLogOutput<SyslogSinkConfig> {
    /// `app_name` defaults to the pipeline's id, so that a receiver tells streams apart.
    pub fn with_defaults(&self, pipeline: &str) -> SyslogSinkConfig {
        let mut sink = self.sink.clone();
        sink.app_name.get_or_insert_with(|| name_part(pipeline));
        sink
    }
}

/// `text` made safe as one part of a name (an object key, a syslog app name, an index):
/// letters, digits, `.`, `_` and `-`; anything else becomes `_`.
pub fn name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How a record becomes the bytes an output sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    /// One JSON object per record: its fields with `message` and `file` (NDJSON in files,
    /// objects and request bodies).
    Json,
    /// The record's `message` alone, as a line of text.
    Text,
}

/// A sink of the `sinks` layer as a log output: the sink's own fields, and `encoding`.
///
/// Deserialized by hand rather than with `#[serde(flatten)]`: flatten buffers the mapping,
/// so the check stage would lose the place of every field (an unknown one, a wrong value) and
/// could name only the first unknown field, without a suggestion. Here the deserializer is
/// told every field (the sink's and `encoding`), takes `encoding` off the mapping, and hands
/// the rest to the sink's own `Deserialize` as it streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkLogOutput<T> {
    #[serde(flatten)]
    pub sink: T,
    /// `json` (default; `text` for syslog) or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<LogEncoding>,
}

/// The field a log stream adds to a sink's.
const ENCODING: &str = "encoding";

/// A sink config a log output wraps: the fields it takes, with `encoding`.
pub trait OutputSink: for<'de> Deserialize<'de> {
    fn output_fields() -> &'static [&'static str];
}

macro_rules! output_sinks {
    ($($sink:ty),*) => {$(
        impl OutputSink for $sink {
            fn output_fields() -> &'static [&'static str] {
                static FIELDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
                FIELDS.get_or_init(|| {
                    let mut fields = struct_fields::<$sink>().to_vec();
                    fields.push(ENCODING);
                    fields
                })
            }
        }
    )*};
}

output_sinks!(
    S3SinkConfig,
    HttpSinkConfig,
    SyslogSinkConfig,
    ConsoleSinkConfig
);

/// The fields a derived `Deserialize` of a struct names (serde keeps its list private): what
/// it passes to `deserialize_struct`, caught by a deserializer that reads nothing.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::value::Error as Caught;
    use serde::de::{Error, Visitor};
    struct Catch<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Catch<'_> {
        type Error = Caught;
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Caught> {
            *self.0 = fields;
            Err(Caught::custom("fields caught"))
        }
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
            Err(Caught::custom("not a struct"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Catch(&mut fields));
    fields
}

impl<'de, T: OutputSink> Deserialize<'de> for SinkLogOutput<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, Visitor, value::MapAccessDeserializer};
        use std::marker::PhantomData;

        struct OutputVisitor<T>(PhantomData<T>);
        impl<'de, T: OutputSink> Visitor<'de> for OutputVisitor<T> {
            type Value = SinkLogOutput<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let mut encoding = None;
                let peeled = WithoutEncoding {
                    map,
                    encoding: &mut encoding,
                };
                let sink = T::deserialize(MapAccessDeserializer::new(peeled))?;
                Ok(SinkLogOutput { sink, encoding })
            }
        }

        /// The mapping without its `encoding` entry, which is kept aside.
        struct WithoutEncoding<'e, A> {
            map: A,
            encoding: &'e mut Option<LogEncoding>,
        }
        impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutEncoding<'_, A> {
            type Error = A::Error;
            fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
                &mut self,
                seed: K,
            ) -> Result<Option<K::Value>, A::Error> {
                loop {
                    let Some(key) = self.map.next_key::<String>()? else {
                        return Ok(None);
                    };
                    if key == ENCODING {
                        *self.encoding = Some(self.map.next_value()?);
                        continue;
                    }
                    let key = serde::de::value::StringDeserializer::<A::Error>::new(key);
                    return seed.deserialize(key).map(Some);
                }
            }
            fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
                &mut self,
                seed: V,
            ) -> Result<V::Value, A::Error> {
                self.map.next_value_seed(seed)
            }
        }

        deserializer.deserialize_struct(
            "SinkLogOutput",
            T::output_fields(),
            OutputVisitor(PhantomData),
        )
    }
}

/// A file the records are appended to, one per line; each batch is synced to disk before it
/// is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLogOutput {
    /// An absolute path. strftime fields in the file name (UTC: `%Y`, `%m`, `%d`, `%H`, …)
    /// start a new file when the name they make changes, e.g.
    /// `/var/log/collected/app-%Y-%m-%d.log`; `{host}` is the host's name.
    pub path: String,
    /// `json` (default) or `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<LogEncoding>,
    /// The mode of a new file, an octal string; default `"0640"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Rotation by size, the files kept, and their compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<FileRotation>,
    /// When a batch is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed writes (a full disk) are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where records wait until they are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

/// How a file output rotates. A rotated file is renamed `<name>.1` (the newest; older ones
/// move up to `.2`, `.3` …); with time fields in the name, the files of earlier names are
/// rotated files too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRotation {
    /// A file that would grow past this many bytes with the next batch is rotated first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// The most rotated files kept, the newest; older ones are removed. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u64>,
    /// Compress rotated files with gzip (`<name>.1.gz`); the file being written stays plain
    /// text, so that a crash leaves at most a partial last line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gzip: bool,
}

/// The number of rotated files a file output keeps when `rotate.keep` is not given.
pub const DEFAULT_ROTATED_KEPT: u64 = 5;
