//! `logs:` pipelines: a source, a parser, filters and outputs. The pipeline machinery arrives
//! with the logs issue; this is what a config may say.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spanned::Spanned;
use super::values::Duration;

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

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogParser {
    #[default]
    None,
    Json,
    Logfmt,
    Syslog,
    NginxCombined,
    ApacheCombined,
    Regex(RegexParser),
}

/// Named capture groups become fields.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegexParser {
    pub pattern: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(tag = "type")]
pub enum LogFilter {
    /// Keep only records whose field matches.
    Include(MatchFilter),
    /// Drop records whose field matches.
    Exclude(MatchFilter),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchFilter {
    /// The record field to test (default `message`).
    pub field: Option<String>,
    /// A regular expression.
    pub pattern: Spanned<String>,
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
