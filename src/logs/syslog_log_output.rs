//! The `syslog` output: one syslog message per record, through the syslog sink (RFC 3164 or
//! 5424 over UDP, TCP or `/dev/log`).
//!
//! Log-stream defaults: the message is the record's text (`encoding: text`: a receiver files
//! the application's line as it was written, not a JSON wrapper), and the app name is the
//! pipeline's id, so that the receiver can tell the streams of a host apart (both in the
//! model, where `check` sees them too).

use crate::model::logs::SinkLogOutput;
use crate::model::sinks::{SinkConfig, SyslogSinkConfig};

/// The syslog sink the output runs as.
pub fn sink_config(output: &SinkLogOutput<SyslogSinkConfig>, pipeline: &str) -> SinkConfig {
    SinkConfig::Syslog(output.with_defaults(pipeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_name_is_the_pipeline_unless_given() {
        let output: SinkLogOutput<SyslogSinkConfig> =
            serde_json::from_value(serde_json::json!({})).expect("syslog");
        let SinkConfig::Syslog(sink) = sink_config(&output, "nginx/access") else {
            panic!("not syslog")
        };
        assert_eq!(sink.app_name.as_deref(), Some("nginx_access"));
        let given: SinkLogOutput<SyslogSinkConfig> =
            serde_json::from_value(serde_json::json!({"app_name": "web"})).expect("syslog");
        let SinkConfig::Syslog(sink) = sink_config(&given, "nginx") else {
            panic!("not syslog")
        };
        assert_eq!(sink.app_name.as_deref(), Some("web"));
    }
}
