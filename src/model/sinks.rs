//! Where documents and events leave the host: `settings.audit` (run reports),
//! `settings.metrics.push` (metrics scrapes) and the outputs of `logs:` pipelines name sinks
//! with these types.
//!
//! One type per sink serves the config, the plan (a plan records its report sinks, so that
//! `execute` needs no config) and the sinks layer that builds them. A sink's fields are
//! therefore plain values, and credentials are never values: a [`SecretRef`] names the secret
//! that is read again when the sink is built, so neither the config's model nor plan.json
//! ever holds one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::Duration;

/// One sink, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// Files in a local directory (or an NFS mount): one per document or batch.
    Directory(DirectorySinkConfig),
    /// HTTP POSTs of JSON, NDJSON or Elasticsearch/OpenSearch `_bulk` bodies.
    Http(HttpSinkConfig),
    /// Objects in an S3 bucket (AWS or an S3-compatible store).
    S3(S3SinkConfig),
    /// Syslog messages over UDP, TCP or the local `/dev/log` socket.
    Syslog(SyslogSinkConfig),
    /// Lines on driftless's standard output or error.
    Console(ConsoleSinkConfig),
}

impl SinkConfig {
    /// The `type` as written.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkConfig::Directory(_) => "directory",
            SinkConfig::Http(_) => "http",
            SinkConfig::S3(_) => "s3",
            SinkConfig::Syslog(_) => "syslog",
            SinkConfig::Console(_) => "console",
        }
    }

    /// Where it sends, for people: "directory /var/lib/driftless/runs", "s3 bucket logs
    /// (prefix reports/) at http://127.0.0.1:8333". Never a credential (none is a value here).
    pub fn destination(&self) -> String {
        match self {
            SinkConfig::Directory(c) => format!("directory {}", c.path),
            SinkConfig::Http(c) => format!("http {}", c.url),
            SinkConfig::S3(c) => {
                let mut text = format!("s3 bucket {}", c.bucket);
                if !c.prefix.is_empty() {
                    text.push_str(&format!(" (prefix {})", c.prefix));
                }
                if let Some(endpoint) = &c.endpoint {
                    text.push_str(&format!(" at {endpoint}"));
                }
                text
            }
            SinkConfig::Syslog(c) => {
                let protocol = match c.protocol {
                    SyslogProtocol::Udp => "udp",
                    SyslogProtocol::Tcp => "tcp",
                    SyslogProtocol::Unix => "unix",
                };
                let address = c.address.clone().unwrap_or_else(|| match c.protocol {
                    SyslogProtocol::Unix => "/dev/log".to_owned(),
                    _ => "127.0.0.1:514".to_owned(),
                });
                format!("syslog {protocol} {address}")
            }
            SinkConfig::Console(c) => match c.stream {
                ConsoleStream::Stdout => "console (stdout)".to_owned(),
                ConsoleStream::Stderr => "console (stderr)".to_owned(),
            },
        }
    }

    /// The paths on the host it names (a directory, a spool, a CA file, a socket), each with
    /// its field: each must be absolute.
    pub fn local_paths(&self) -> Vec<(&'static [&'static str], &str)> {
        let mut paths: Vec<(&'static [&'static str], &str)> = Vec::new();
        match self {
            SinkConfig::Directory(c) => paths.push((&["path"], c.path.as_str())),
            SinkConfig::Http(c) => {
                paths.extend(c.ca_file.as_deref().map(|p| (&["ca_file"][..], p)))
            }
            SinkConfig::S3(c) => paths.extend(c.ca_file.as_deref().map(|p| (&["ca_file"][..], p))),
            SinkConfig::Syslog(c) if c.protocol == SyslogProtocol::Unix => {
                paths.extend(c.address.as_deref().map(|p| (&["address"][..], p)));
            }
            SinkConfig::Syslog(_) | SinkConfig::Console(_) => {}
        }
        let spool = self
            .delivery()
            .spool
            .map(|s| (&["spool", "path"][..], s.path.as_str()));
        paths.extend(spool);
        paths
    }

    /// The secrets it reads when built, each with its field.
    pub fn secrets(&self) -> Vec<(&'static [&'static str], &str)> {
        match self {
            SinkConfig::Http(c) => match &c.auth {
                Some(HttpAuth::Basic { password, .. }) => {
                    vec![(&["auth", "password"][..], password.secret.as_str())]
                }
                Some(HttpAuth::Bearer { token }) => {
                    vec![(&["auth", "token"][..], token.secret.as_str())]
                }
                Some(HttpAuth::Header { value, .. }) => {
                    vec![(&["auth", "value"][..], value.secret.as_str())]
                }
                None => Vec::new(),
            },
            SinkConfig::S3(c) => [
                (&["access_key_id"][..], &c.access_key_id),
                (&["secret_access_key"][..], &c.secret_access_key),
                (&["session_token"][..], &c.session_token),
            ]
            .into_iter()
            .filter_map(|(field, r)| r.as_ref().map(|r| (field, r.secret.as_str())))
            .collect(),
            SinkConfig::Directory(_) | SinkConfig::Syslog(_) | SinkConfig::Console(_) => Vec::new(),
        }
    }

    /// The layers every sink may have.
    pub fn delivery(&self) -> Delivery<'_> {
        macro_rules! of {
            ($c:expr) => {
                Delivery {
                    batch: $c.batch.as_ref(),
                    retry: $c.retry.as_ref(),
                    spool: $c.spool.as_ref(),
                }
            };
        }
        match self {
            SinkConfig::Directory(c) => of!(c),
            SinkConfig::Http(c) => of!(c),
            SinkConfig::S3(c) => of!(c),
            SinkConfig::Syslog(c) => of!(c),
            SinkConfig::Console(c) => of!(c),
        }
    }
}

/// A credential: the name of a secret (an environment variable, or a line of the env file, or
/// `--secret NAME=@PATH`), read when the sink is built and shown nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name, e.g. `ES_PASSWORD`.
    pub secret: String,
}

/// `{ secret: NAME }`; a plain string is refused with how to write it, so that a credential
/// is never written in the config (nor copied into a plan).
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Written {
            secret: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Reference(Written),
            Value(serde::de::IgnoredAny),
        }
        match Either::deserialize(deserializer)? {
            Either::Reference(r) => Ok(SecretRef { secret: r.secret }),
            Either::Value(_) => Err(serde::de::Error::custom(
                "a credential names a secret, `{ secret: NAME }`, and is never written in the config",
            )),
        }
    }
}

/// Batching, retries, queue and spool: layers over any sink, set per sink (the same three
/// fields, `batch`, `retry` and `spool`, on every sink type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery<'a> {
    pub batch: Option<&'a BatchConfig>,
    pub retry: Option<&'a RetryConfig>,
    pub spool: Option<&'a SpoolConfig>,
}

/// A batch is sent when it holds `max_events`, or `max_bytes`, or its first event waited
/// `timeout`, whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Default 1000.
    pub max_events: Option<u64>,
    /// Default 1 MiB (before compression).
    pub max_bytes: Option<u64>,
    /// Default `1s`.
    pub timeout: Option<Duration>,
    /// Batches waiting to be sent before a producer blocks; default 8.
    pub queue: Option<u64>,
    /// Bytes of events waiting to be sent (their size in memory) before a producer blocks,
    /// whichever of this and `queue` comes first; default 4 MiB.
    pub queue_bytes: Option<u64>,
}

/// Exponential backoff with jitter between attempts; a `Retry-After` the receiver sends wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included; default 5. `1` never retries.
    pub attempts: Option<u64>,
    /// The first wait; default `200ms`.
    pub initial_backoff: Option<Duration>,
    /// The longest wait; default `30s`.
    pub max_backoff: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// An absolute directory, private to driftless (made 0700).
    pub path: String,
    /// The most the spool holds; a full spool makes producers wait. Default 256 MiB.
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectorySinkConfig {
    /// An absolute directory, made (0700) when missing.
    pub path: String,
    /// The file name pattern: strftime fields of the document's time (UTC, `%Y`, `%m`, `%d`,
    /// `%H`, `%M`, `%S`) and `{host}`, `{id}` (the run id, or the batch's sequence number).
    /// Default `%Y-%m-%dT%H%M%SZ-{id}.json` (`.json.gz` with `gzip`).
    pub name: Option<String>,
    /// Compress each file with gzip (and end its name with `.gz`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gzip: bool,
    /// The most files kept; the oldest files this sink wrote go first.
    pub keep_files: Option<u64>,
    /// The most bytes kept, in all.
    pub keep_bytes: Option<u64>,
    /// The oldest a file may get, e.g. `30d`.
    pub keep_age: Option<Duration>,
    /// When an event stream's batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed sends are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where events wait until the sink acknowledged them (event streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpFormat {
    /// One JSON array of the batch's documents (a document alone is sent as it is).
    Json,
    /// One document per line.
    #[default]
    Ndjson,
    /// Elasticsearch/OpenSearch `_bulk`: an `index` action line before each document.
    ElasticsearchBulk,
}

/// How a request proves who sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HttpAuth {
    /// `Authorization: Basic …`.
    Basic { user: String, password: SecretRef },
    /// `Authorization: Bearer …`.
    Bearer { token: SecretRef },
    /// A header of its own, e.g. `X-Api-Key` (or Elasticsearch's `Authorization: ApiKey …`
    /// with `name: Authorization` and `prefix: "ApiKey "`).
    Header {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        value: SecretRef,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSinkConfig {
    /// An `http://` or `https://` URL (for `_bulk`, the endpoint itself, e.g.
    /// `https://es:9200/_bulk`).
    pub url: String,
    #[serde(default)]
    pub format: HttpFormat,
    /// The index of `_bulk` actions; strftime fields allowed (`logs-%Y.%m.%d`).
    pub index: Option<String>,
    pub auth: Option<HttpAuth>,
    /// Compress request bodies (`Content-Encoding: gzip`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gzip: bool,
    /// A PEM file of the certificate authorities to trust instead of the host's.
    pub ca_file: Option<String>,
    /// Deadline of one request; default `30s`.
    pub timeout: Option<Duration>,
    /// When an event stream's batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed sends are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where events wait until the sink acknowledged them (event streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

/// S3's smallest part of a multipart upload (every part but the last).
pub const S3_MIN_PART_SIZE: u64 = 5 << 20;

/// The part size of the s3 sink when the config names none.
pub const S3_DEFAULT_PART_SIZE: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3SinkConfig {
    pub bucket: String,
    /// The start of every object key, e.g. `reports/`; strftime fields and `{host}` allowed.
    #[serde(default)]
    pub prefix: String,
    /// The rest of the key: strftime fields, `{host}` and `{id}`. Default
    /// `%Y/%m/%d/%H%M%SZ-{host}-{id}.json.gz` (`.json` without `gzip`).
    pub key: Option<String>,
    /// An S3-compatible endpoint URL (path-style addressing); default AWS's for `region`.
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    pub region: Option<String>,
    /// Default: the `AWS_ACCESS_KEY_ID` secret.
    pub access_key_id: Option<SecretRef>,
    /// Default: the `AWS_SECRET_ACCESS_KEY` secret.
    pub secret_access_key: Option<SecretRef>,
    /// Default: the `AWS_SESSION_TOKEN` secret when it is set.
    pub session_token: Option<SecretRef>,
    /// Compress objects with gzip; default true.
    pub gzip: Option<bool>,
    /// A PEM file of the certificate authorities to trust instead of the host's.
    pub ca_file: Option<String>,
    /// Deadline of one request; default `60s`.
    pub timeout: Option<Duration>,
    /// An object larger than this (after compression) is uploaded in parts of this many
    /// bytes (a multipart upload); default 8 MiB, at least 5 MiB (S3's smallest part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    /// When an event stream's batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed sends are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where events wait until the sink acknowledged them (event streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    #[default]
    Udp,
    /// Octet-counted frames (RFC 6587).
    Tcp,
    /// A local datagram socket, `/dev/log` by default.
    Unix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// BSD syslog: `<PRI>Mmm dd hh:mm:ss host app[pid]: message`.
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PID - - MESSAGE`.
    #[default]
    Rfc5424,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkConfig {
    /// `host:port` for UDP and TCP (default port 514); a socket path for `unix` (default
    /// `/dev/log`).
    pub address: Option<String>,
    #[serde(default)]
    pub protocol: SyslogProtocol,
    #[serde(default)]
    pub format: SyslogFormat,
    /// A facility name: `kern`, `user`, `daemon`, `auth`, `local0` … `local7`. Default `user`.
    pub facility: Option<String>,
    /// A severity name: `emerg` … `debug`. Default `info`.
    pub severity: Option<String>,
    /// Default `driftless`.
    pub app_name: Option<String>,
    /// Default the host's name.
    pub hostname: Option<String>,
    /// When an event stream's batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed sends are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where events wait until the sink acknowledged them (event streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStream {
    #[default]
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleFormat {
    /// Each event as it is (a log line, or a document on one line).
    #[default]
    Text,
    /// Each event as one JSON line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSinkConfig {
    #[serde(default)]
    pub stream: ConsoleStream,
    #[serde(default)]
    pub format: ConsoleFormat,
    /// When an event stream's batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// How failed sends are tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// A directory where events wait until the sink acknowledged them (event streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolConfig>,
}

/// Syslog facility names and codes (RFC 5424, section 6.2.1).
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("security", 13),
    ("console", 14),
    ("solaris-cron", 15),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// Syslog severity names and codes.
pub const SEVERITIES: &[(&str, u8)] = &[
    ("emerg", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

/// The code of `name` in `table`.
pub fn code_of(table: &[(&str, u8)], name: &str) -> Option<u8> {
    table.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}
