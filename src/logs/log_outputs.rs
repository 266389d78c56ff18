//! The outputs of a log pipeline: each `outputs:` entry opened as a [`Sink`] with the
//! delivery layers ([`BatchPolicy`], [`RetryPolicy`], an optional spool) that a
//! [`crate::sinks::pipeline::Pipeline`] runs it with, and the [`LogEncoding`] that turns a
//! record into the bytes it sends.
//!
//! Every output but `file` is a sink of [`crate::sinks`] with log-stream defaults (see each
//! adapter); `file` is its own sink ([`super::file_log_output`]): the directory sink writes
//! one file per batch, a log file is appended to.
//!
//! Network outputs (s3, http, syslog) spool to disk by default, in the pipeline's state
//! directory: an outage then holds the records on disk rather than in the files being tailed,
//! which logrotate may remove before the receiver is back. `file` and `console` write at once
//! and need none.

use std::path::Path;
use std::sync::Arc;

use sha2::Digest;

use super::{LogError, LogEvent};
use crate::model::logs::{LogEncoding, LogOutput};
use crate::model::sinks::SinkConfig;
use crate::secrets::Secrets;
use crate::sinks::pipeline::{BatchPolicy, SpoolPolicy};
use crate::sinks::retry::RetryPolicy;
use crate::sinks::{BuildContext, Sink};

/// What opening an output needs from the pipeline and the host.
pub struct OutputContext<'a> {
    /// The host's name: `{host}` in names, syslog's hostname.
    pub host: &'a str,
    /// Credentials named by `{ secret: NAME }` are read from here when the output is opened.
    pub secrets: &'a Secrets,
    /// The pipeline's id: in S3 object names, the default syslog app name and `_bulk` index.
    pub pipeline: &'a str,
    /// A directory owned by this pipeline: default spools go under it.
    pub state_dir: &'a Path,
}

/// An output ready to run in a [`crate::sinks::pipeline::Pipeline`].
pub struct OpenOutput {
    pub sink: Arc<dyn Sink>,
    pub batch: BatchPolicy,
    pub retry: RetryPolicy,
    pub spool: Option<SpoolPolicy>,
    /// How each record is turned into the bytes pushed into the pipeline.
    pub encoding: LogEncoding,
}

impl LogEncoding {
    /// The bytes of `event`: its JSON object (`json`) or its message (`text`), without a line
    /// break at the end (the sinks add it).
    pub fn encode(&self, event: &LogEvent) -> Vec<u8> {
        match self {
            LogEncoding::Json => event.to_json(),
            LogEncoding::Text => event.message.as_bytes().to_vec(),
        }
    }
}

/// Opens `output` for the pipeline `cx.pipeline`: builds its sink (reading its credentials)
/// and resolves its delivery layers.
pub fn open(output: &LogOutput, cx: &OutputContext<'_>) -> Result<OpenOutput, LogError> {
    let build = BuildContext {
        secrets: cx.secrets,
        host: cx.host,
    };
    let failed = |e: crate::error::ResourceError| {
        LogError::new(format!(
            "output {}: {}",
            output.destination(cx.pipeline),
            e.message
        ))
    };
    let (sink, delivery) = match (output, adapted(output, cx.pipeline)) {
        (LogOutput::File(c), _) => (
            Arc::new(super::file_log_output::FileLogOutput::new(c, cx.host).map_err(failed)?)
                as Arc<dyn Sink>,
            Delivery {
                batch: BatchPolicy::of(c.batch.as_ref()),
                retry: RetryPolicy::of(c.retry.as_ref()),
                spool: c.spool.as_ref().map(SpoolPolicy::of),
            },
        ),
        (_, Some(config)) => (
            crate::sinks::open(&config, &build).map_err(failed)?,
            Delivery::of(&config),
        ),
        (_, None) => {
            return Err(LogError::new(format!(
                "output {}: no sink adapts it",
                output.type_name()
            )));
        }
    };
    let network = matches!(
        output,
        LogOutput::S3(_) | LogOutput::Http(_) | LogOutput::Syslog(_)
    );
    let spool = match delivery.spool {
        Some(given) => Some(given),
        None if network => Some(SpoolPolicy {
            path: default_spool(output, cx),
            max_bytes: SpoolPolicy::DEFAULT_MAX_BYTES,
        }),
        None => None,
    };
    Ok(OpenOutput {
        sink,
        batch: delivery.batch,
        retry: delivery.retry,
        spool,
        encoding: output.encoding(),
    })
}

/// An output's delivery layers as configured.
struct Delivery {
    batch: BatchPolicy,
    retry: RetryPolicy,
    spool: Option<SpoolPolicy>,
}

impl Delivery {
    fn of(config: &SinkConfig) -> Delivery {
        let d = config.delivery();
        Delivery {
            batch: BatchPolicy::of(d.batch),
            retry: RetryPolicy::of(d.retry),
            spool: d.spool.map(SpoolPolicy::of),
        }
    }
}

/// The sink an output runs as, through its adapter; `None` for `file`, which is its own sink.
fn adapted(output: &LogOutput, pipeline: &str) -> Option<SinkConfig> {
    Some(match output {
        LogOutput::File(_) => return None,
        LogOutput::Console(c) => super::console_log_output::sink_config(c),
        LogOutput::S3(c) => super::s3_log_output::sink_config(c, pipeline),
        LogOutput::Http(c) => super::http_log_output::sink_config(c, pipeline),
        LogOutput::Syslog(c) => super::syslog_log_output::sink_config(c, pipeline),
    })
}

/// The default spool of a network output: `spool-<type>-<digest of its destination>` in the
/// pipeline's state directory. Named by where it sends (not by its place in the list), so that
/// reordering outputs never sends one output's records to another; two outputs of a pipeline
/// with one destination are a check error.
fn default_spool(output: &LogOutput, cx: &OutputContext<'_>) -> std::path::PathBuf {
    let digest = sha2::Sha256::digest(output.destination(cx.pipeline).as_bytes());
    let name = format!(
        "spool-{}-{}",
        output.type_name(),
        crate::fsutil::hex(&digest[..8])
    );
    cx.state_dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::logs::{FileLogOutput, SinkLogOutput};
    use crate::model::sinks::{BatchConfig, ConsoleSinkConfig};

    fn event() -> LogEvent {
        let mut e = LogEvent::new("GET / 200".to_owned(), Arc::from("/var/log/a.log"));
        e.set("status", serde_json::Value::from(200));
        e
    }

    fn open_in(output: &LogOutput, dir: &Path) -> OpenOutput {
        let secrets = Secrets::new(Vec::new());
        let cx = OutputContext {
            host: "web1",
            secrets: &secrets,
            pipeline: "nginx/access",
            state_dir: dir,
        };
        open(output, &cx).unwrap_or_else(|e| panic!("open: {e}"))
    }

    #[test]
    fn json_is_the_record_and_text_the_message_alone() {
        let json: serde_json::Value =
            serde_json::from_slice(&LogEncoding::Json.encode(&event())).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"message": "GET / 200", "file": "/var/log/a.log", "status": 200})
        );
        assert_eq!(LogEncoding::Text.encode(&event()), b"GET / 200");
    }

    #[test]
    fn outputs_decode_with_their_sink_fields_and_an_encoding() {
        let output: LogOutput = serde_json::from_value(serde_json::json!({"http": {
            "url": "http://127.0.0.1:9/_bulk", "format": "elasticsearch_bulk",
            "encoding": "text", "batch": {"max_events": 5}
        }}))
        .expect("an http output");
        let LogOutput::Http(http) = &output else {
            panic!("{output:?}")
        };
        assert_eq!(http.encoding, Some(LogEncoding::Text));
        assert_eq!(http.sink.url, "http://127.0.0.1:9/_bulk");
        let back = serde_json::to_value(&output).expect("serialize");
        assert_eq!(
            serde_json::from_value::<LogOutput>(back).expect("read back"),
            output
        );
        let unknown = serde_json::from_value::<LogOutput>(serde_json::json!({"console": {
            "stream": "stderr", "colour": true
        }}));
        assert!(unknown.is_err(), "an unknown field is refused");
    }

    #[test]
    fn syslog_defaults_to_text_the_others_to_json() {
        let console = LogOutput::Console(SinkLogOutput {
            sink: ConsoleSinkConfig {
                stream: Default::default(),
                format: Default::default(),
                batch: None,
                retry: None,
                spool: None,
            },
            encoding: None,
        });
        assert_eq!(console.encoding(), LogEncoding::Json);
        let syslog: LogOutput =
            serde_json::from_value(serde_json::json!({"syslog": {}})).expect("syslog");
        assert_eq!(syslog.encoding(), LogEncoding::Text);
    }

    #[test]
    fn network_outputs_spool_by_default_under_the_state_dir_named_by_destination() {
        let temp = tempfile::tempdir().expect("temp");
        let syslog: LogOutput = serde_json::from_value(
            serde_json::json!({"syslog": {"address": "127.0.0.1:9", "protocol": "tcp"}}),
        )
        .expect("syslog");
        let opened = open_in(&syslog, temp.path());
        let spool = opened.spool.expect("a default spool");
        assert!(spool.path.starts_with(temp.path()), "{spool:?}");
        let name = spool.path.file_name().expect("name").to_string_lossy();
        assert!(
            name.starts_with("spool-syslog-") && name.len() == 13 + 16,
            "{name}"
        );
        assert_eq!(
            spool.path,
            open_in(&syslog, temp.path()).spool.expect("spool").path
        );

        let file = LogOutput::File(FileLogOutput {
            path: temp.path().join("out.log").display().to_string(),
            encoding: None,
            mode: None,
            rotate: None,
            batch: Some(BatchConfig {
                max_events: Some(7),
                max_bytes: None,
                timeout: None,
                queue: None,
                queue_bytes: None,
            }),
            retry: None,
            spool: None,
        });
        let opened = open_in(&file, temp.path());
        assert!(opened.spool.is_none());
        assert_eq!(opened.batch.max_events, 7);
        assert_eq!(
            opened.sink.describe(),
            format!("file {}/out.log", temp.path().display())
        );
    }

    #[test]
    fn a_missing_credential_names_the_output_and_the_secret() {
        let temp = tempfile::tempdir().expect("temp");
        let s3: LogOutput = serde_json::from_value(serde_json::json!({"s3": {
            "bucket": "logs", "endpoint": "http://127.0.0.1:9",
            "access_key_id": {"secret": "LOG_KEY"}, "secret_access_key": {"secret": "LOG_SECRET"}
        }}))
        .expect("s3");
        let secrets = Secrets::new(Vec::new());
        let cx = OutputContext {
            host: "web1",
            secrets: &secrets,
            pipeline: "p",
            state_dir: temp.path(),
        };
        let error = open(&s3, &cx).err().expect("no credentials");
        assert!(
            error
                .message
                .starts_with("output s3 bucket logs at http://127.0.0.1:9: ")
                && error.message.contains("LOG_KEY"),
            "{error}"
        );
    }
}
