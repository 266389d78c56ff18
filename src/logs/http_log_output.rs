//! The `http` output: one POST per batch through the http sink — NDJSON (the default: one
//! record per line), a JSON array, or an Elasticsearch/OpenSearch `_bulk` body.
//!
//! Log-stream defaults: a `_bulk` output without an `index` writes to a daily index of the
//! pipeline, `logs-<pipeline>-%Y.%m.%d`; `{pipeline}` in an index names the pipeline.

use crate::model::logs::SinkLogOutput;
use crate::model::sinks::{HttpSinkConfig, SinkConfig};

/// The http sink the output runs as (its defaults are the model's, where `check` sees them).
pub fn sink_config(output: &SinkLogOutput<HttpSinkConfig>, pipeline: &str) -> SinkConfig {
    SinkConfig::Http(output.with_defaults(pipeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(config: serde_json::Value, pipeline: &str) -> Option<String> {
        let output: SinkLogOutput<HttpSinkConfig> = serde_json::from_value(config).expect("http");
        match sink_config(&output, pipeline) {
            SinkConfig::Http(sink) => sink.index,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bulk_writes_to_a_daily_index_of_the_pipeline_unless_given_one() {
        let bulk =
            serde_json::json!({"url": "http://es:9200/_bulk", "format": "elasticsearch_bulk"});
        assert_eq!(
            index_of(bulk, "Nginx/Access").as_deref(),
            Some("logs-nginx_access-%Y.%m.%d")
        );
        let given = serde_json::json!({"url": "http://es:9200/_bulk",
            "format": "elasticsearch_bulk", "index": "app-{pipeline}"});
        assert_eq!(index_of(given, "web").as_deref(), Some("app-web"));
        let ndjson = serde_json::json!({"url": "http://logs:8080/in"});
        assert_eq!(index_of(ndjson, "web"), None);
    }
}
