//! Log collection: `logs:` pipelines that tail files, parse and filter their lines and forward
//! the records to outputs, delivering every line at least once across restarts and outages.
//!
//! One file per part: the source ([`file_log_source`]), the parsers ([`log_parsers`]), the
//! filters ([`log_filters`]), one file per output (each a thin adapter over [`crate::sinks`],
//! opened by [`log_outputs`]) and the pipeline that connects them ([`log_pipeline`]), run by
//! [`RunningLogs`] (or once, [`run_once`]). Every part passes [`LogEvent`]s.

mod access_log_parser;
mod checkpoint_acks;
mod checkpoints;
pub mod console_log_output;
pub mod file_log_output;
pub mod file_log_source;
pub mod http_log_output;
mod line_decoder;
mod log_error;
mod log_event;
pub mod log_filters;
mod log_metrics;
pub mod log_outputs;
pub mod log_parsers;
pub mod log_pipeline;
mod log_redaction;
pub mod log_timestamps;
mod logfmt_parser;
mod multiline;
mod output_gate;
pub mod path_globs;
mod pipeline_parts;
mod plugin_log_filter;
mod rate_limit_filter;
mod running_logs;
pub mod s3_log_output;
pub mod syslog_log_output;
mod syslog_parser;
#[cfg(test)]
mod test_fakes;

pub use file_log_source::{Ack, FileLogSource, SourceLine, SourceStats, WatchedFile};
pub use log_error::LogError;
pub use log_event::LogEvent;
pub use pipeline_parts::observe;
pub use running_logs::{LogContext, OnceRun, RunningLogs, pipeline_dir, run_once};
