//! Log collection: `logs:` pipelines that tail files, parse and filter their lines and forward
//! the records to outputs, delivering every line at least once across restarts and outages.
//!
//! One file per part: the source ([`file_log_source`]), the parsers, the filters, one file per
//! output (each a thin adapter over [`crate::sinks`]) and the pipeline that connects them.
//! Every part passes [`LogEvent`]s.

pub mod console_log_output;
pub mod file_log_output;
pub mod http_log_output;
mod log_error;
mod log_event;
pub mod log_outputs;
pub mod s3_log_output;
pub mod syslog_log_output;

pub use log_error::LogError;
pub use log_event::LogEvent;
