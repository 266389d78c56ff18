//! The `console` output: records as lines on driftless's standard output or error, through
//! the console sink. Its `format` still applies: `text` prints each encoded record as it is
//! (a JSON record on one line, or the message), `json` makes a text record a JSON string.

use crate::model::logs::SinkLogOutput;
use crate::model::sinks::{ConsoleSinkConfig, SinkConfig};

/// The console sink the output runs as: the sink as configured (a console needs no
/// log-stream defaults).
pub fn sink_config(output: &SinkLogOutput<ConsoleSinkConfig>) -> SinkConfig {
    SinkConfig::Console(output.sink.clone())
}
