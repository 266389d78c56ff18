//! `logs:` pipelines: a source, a parser, filters and outputs. The pipeline machinery arrives
//! with the logs issue; this is what a config may say.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spanned::Spanned;

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

/// Where a new file is first read from.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    Beginning,
    #[default]
    End,
}

/// Files to tail, by glob pattern; rotation is followed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLogSource {
    pub paths: Spanned<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub start_at: StartAt,
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

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogOutput {
    File(FileLogOutput),
    S3(S3LogOutput),
    Http(HttpLogOutput),
    Syslog(SyslogLogOutput),
    Console(ConsoleLogOutput),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileLogOutput {
    pub path: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3LogOutput {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// An S3-compatible endpoint URL; default AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpLogOutput {
    pub url: Spanned<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    #[default]
    Udp,
    Tcp,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyslogLogOutput {
    /// `host:port`.
    pub address: Spanned<String>,
    #[serde(default)]
    pub protocol: SyslogProtocol,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleLogOutput {}
