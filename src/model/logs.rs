//! `logs:` pipelines: a source, a parser, filters and outputs. The pipeline machinery arrives
//! with the logs issue; this is what a config may say.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sinks::{
    BatchConfig, ConsoleSinkConfig, HttpFormat, HttpSinkConfig, RetryConfig, S3SinkConfig,
    SinkConfig, SpoolConfig, SyslogSinkConfig,
};
use super::spanned::Spanned;
use super::values::Mode;

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
