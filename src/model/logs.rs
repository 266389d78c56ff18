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
