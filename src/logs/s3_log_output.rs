//! The `s3` output: one object per batch through the s3 sink (gzipped by default).
//!
//! Log-stream defaults: objects are named by time, host, pipeline, a token of the process and
//! the batch's number — `<prefix>%Y/%m/%d/%H%M%SZ-<host>-<pipeline>-<token>-<batch>.ndjson.gz`
//! (`.log` with `encoding: text`). The batch number restarts with each process; the token
//! keeps two processes (two `driftless logs --once` in one second) from writing the same key,
//! while a retry of one batch puts the same key again (a replaced object, not a second one).
//! `{pipeline}` in `prefix` or `key` names the pipeline, `{token}` the process's token.

use crate::model::logs::SinkLogOutput;
use crate::model::sinks::{S3SinkConfig, SinkConfig};

/// The s3 sink the output runs as: the model's defaults, with this process's token.
pub fn sink_config(output: &SinkLogOutput<S3SinkConfig>, pipeline: &str) -> SinkConfig {
    named(output, pipeline, process_token())
}

/// This process's token in object names: random, made once.
fn process_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        // Without the OS's randomness, the process id and its start time also tell two
        // processes apart.
        crate::fsutil::random_hex(4).unwrap_or_else(|_| {
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format!("{:x}{:x}", std::process::id(), started.subsec_nanos())
        })
    })
}

/// The sink with its names filled in; `token` tells this process's objects from another's.
fn named(output: &SinkLogOutput<S3SinkConfig>, pipeline: &str, token: &str) -> SinkConfig {
    let mut sink = output.with_defaults(pipeline);
    if let Some(key) = &mut sink.key {
        *key = key.replace("{token}", token);
    }
    SinkConfig::S3(sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(config: serde_json::Value) -> (String, Option<String>) {
        let output: SinkLogOutput<S3SinkConfig> = serde_json::from_value(config).expect("s3");
        match named(&output, "nginx/access", "a1b2") {
            SinkConfig::S3(sink) => (sink.prefix, sink.key),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn objects_are_named_by_time_host_pipeline_token_and_batch() {
        let (prefix, key) = key_of(serde_json::json!({"bucket": "logs", "prefix": "nginx/"}));
        assert_eq!(prefix, "nginx/");
        assert_eq!(
            key.as_deref(),
            Some("%Y/%m/%d/%H%M%SZ-{host}-nginx_access-a1b2-{id}.ndjson")
        );
        let (_, key) = key_of(serde_json::json!({"bucket": "logs", "encoding": "text"}));
        assert!(key.is_some_and(|k| k.ends_with("-{id}.log")));
    }

    #[test]
    fn the_token_is_the_same_for_every_output_of_a_process() {
        let output: SinkLogOutput<S3SinkConfig> =
            serde_json::from_value(serde_json::json!({"bucket": "logs"})).expect("s3");
        let key = |config| match config {
            SinkConfig::S3(sink) => sink.key,
            other => panic!("{other:?}"),
        };
        let first = key(sink_config(&output, "a"));
        assert_eq!(first, key(sink_config(&output, "a")));
        assert_eq!(process_token().len(), 8);
        assert!(first.is_some_and(|k| k.contains(&format!("-a-{}-{{id}}", process_token()))));
    }

    #[test]
    fn pipeline_in_a_given_prefix_or_key_is_the_pipeline_id() {
        let (prefix, key) = key_of(serde_json::json!({
            "bucket": "logs", "prefix": "{pipeline}/", "key": "{host}-{pipeline}-{id}"
        }));
        assert_eq!(prefix, "nginx_access/");
        assert_eq!(key.as_deref(), Some("{host}-nginx_access-{id}"));
    }
}
