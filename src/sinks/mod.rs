//! Where data leaves the host: run reports, pushed metrics and forwarded logs all go through
//! one layer of sinks.
//!
//! A sink's config ([`SinkConfig`], one type per sink) is built once by [`build`] into a
//! [`Sink`]: something that delivers one [`Batch`] and returns only when the receiver
//! acknowledged it (a file renamed into place, a 2xx, an S3 ETag, a socket write complete).
//! What every sink needs besides is a layer over any sink, never repeated in one:
//!
//! - [`retry::Retrying`]: exponential backoff with jitter on the failures a retry can help
//!   (the error says so: [`crate::error::Retry`]), honouring a receiver's `Retry-After`;
//! - [`pipeline::Pipeline`] (event streams: logs, metrics): a bounded queue with blocking
//!   backpressure, batches cut by count, bytes and time, an optional disk spool so an outage
//!   or a restart loses nothing, and a watermark of what was acknowledged.
//!
//! Documents (a run report) are a batch of one event sent through the retry layer.

mod console;
mod directory;
mod event_queue;
mod http;
pub mod pipeline;
pub mod retry;
mod s3;
mod syslog;
mod transport;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use console::ConsoleSink;
pub(crate) use directory::name_matcher;
pub use directory::{DirectorySink, Retention};
pub use http::HttpSink;
pub use s3::S3Sink;
pub use syslog::SyslogSink;

use crate::error::ResourceError;
use crate::model::sinks::SinkConfig;
use crate::secrets::Secrets;

/// What one send delivers: events (each a whole document or one log line, without a line
/// break at the end) and what names the batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub events: Vec<Vec<u8>>,
    /// When the batch was made (a report: when its run started): strftime fields in names.
    pub time: SystemTime,
    /// `{id}` in names: a run's id, or the batch's sequence number in its stream.
    pub id: String,
    /// Whether this is one document (a report, a scrape) rather than a batch of a stream.
    pub document: bool,
}

impl Batch {
    /// One document, e.g. a run report.
    pub fn document(bytes: Vec<u8>, time: SystemTime, id: String) -> Batch {
        Batch {
            events: vec![bytes],
            time,
            id,
            document: true,
        }
    }

    /// The payload bytes before compression: the events joined by line breaks, each ending
    /// with one (NDJSON for JSON events).
    pub fn lines(&self) -> Vec<u8> {
        let size = self.events.iter().map(|e| e.len() + 1).sum();
        let mut out = Vec::with_capacity(size);
        for event in &self.events {
            out.extend_from_slice(event);
            if !event.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        out
    }

    /// Bytes of all events.
    pub fn size(&self) -> usize {
        self.events.iter().map(Vec::len).sum()
    }
}

/// Why a send failed, and when the receiver asked to be tried again.
#[derive(Debug, Clone)]
pub struct SendError {
    pub error: ResourceError,
    /// A receiver's `Retry-After`, which overrides the backoff.
    pub retry_after: Option<Duration>,
}

impl From<ResourceError> for SendError {
    fn from(error: ResourceError) -> Self {
        SendError {
            error,
            retry_after: None,
        }
    }
}

/// A destination: delivers one batch, acknowledged.
pub trait Sink: Send + Sync {
    /// Delivers `batch`; returns when the receiver has it. Readers never see part of a batch
    /// (a file is renamed into place, an object is put whole); a failure says whether trying
    /// again may help.
    fn send(&self, batch: &Batch) -> Result<(), SendError>;

    /// For messages: "directory /var/lib/driftless/runs", "s3 bucket logs at http://…".
    /// Never holds a credential.
    fn describe(&self) -> String;

    /// Whether the receiver can be reached and accepts this sink's credentials, without
    /// sending anything it would keep.
    fn health(&self) -> Result<(), ResourceError> {
        Ok(())
    }
}

/// What building a sink needs from the host.
pub struct BuildContext<'a> {
    /// Credentials are read from here when the sink is built, and never kept in the config.
    pub secrets: &'a Secrets,
    /// `{host}` in names, and syslog's default hostname.
    pub host: &'a str,
}

/// Builds a configured sink, without layers: what a [`pipeline::Pipeline`] is given (it adds
/// its own retries).
pub fn open(config: &SinkConfig, cx: &BuildContext<'_>) -> Result<Arc<dyn Sink>, ResourceError> {
    Ok(match config {
        SinkConfig::Directory(c) => Arc::new(DirectorySink::new(c, cx)?),
        SinkConfig::Console(c) => Arc::new(ConsoleSink::new(c)),
        SinkConfig::Http(c) => Arc::new(HttpSink::new(c, cx)?),
        SinkConfig::S3(c) => Arc::new(S3Sink::new(c, cx)?),
        SinkConfig::Syslog(c) => Arc::new(SyslogSink::new(c, cx)?),
    })
}

/// Builds a configured sink for documents (run reports, scrapes): with its retry layer, which
/// gives up after the config's attempts.
pub fn build(config: &SinkConfig, cx: &BuildContext<'_>) -> Result<Arc<dyn Sink>, ResourceError> {
    let policy = retry::RetryPolicy::of(config.delivery().retry);
    Ok(Arc::new(retry::Retrying::new(open(config, cx)?, policy)))
}

/// Sends `batch` to every sink at once; returns why each that failed did, naming it.
pub fn send_to_all(sinks: &[Arc<dyn Sink>], batch: &Batch) -> Vec<String> {
    std::thread::scope(|scope| {
        let sending: Vec<_> = sinks
            .iter()
            .map(|sink| scope.spawn(|| sink.send(batch).map_err(|e| (sink.describe(), e))))
            .collect();
        sending
            .into_iter()
            .filter_map(|thread| match thread.join() {
                Ok(Ok(())) => None,
                Ok(Err((sink, e))) => Some(format!("{sink}: {}", e.error.message)),
                Err(_) => Some("a sink panicked".to_owned()),
            })
            .collect()
    })
}

/// Replaces `{host}` and `{id}` in a name pattern, then its strftime fields.
pub fn expand_name(pattern: &str, batch: &Batch, host: &str) -> Result<String, ResourceError> {
    let text = pattern.replace("{host}", host).replace("{id}", &batch.id);
    crate::clock::strftime(&text, batch.time).map_err(ResourceError::permanent)
}
