use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sinks::SinkConfig;
use super::spanned::Spanned;
use super::values::Duration;

/// `settings:`, merged over all files (each key set in one file only).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where run reports go: any sinks, all of them at once. Unset: a bounded history in
    /// the state directory.
    #[serde(default)]
    pub audit: Vec<Spanned<SinkConfig>>,
    pub metrics: Option<MetricsSettings>,
    pub agent: Option<AgentSettings>,
    /// How templates treat whitespace around block tags.
    pub templates: Option<TemplateSettings>,
    /// Where driftless keeps its state (the run lock, run reports without `settings.audit`,
    /// log checkpoints, the agent's checkout): an absolute path. `--state-dir` overrides it;
    /// unset, `/var/lib/driftless` as root, else `~/.local/state/driftless`.
    pub state_dir: Option<Spanned<String>>,
    /// WebAssembly plugins: task types, template filters and log filters (docs/plugins.md).
    #[serde(default)]
    pub plugins: Vec<super::plugins::PluginSettings>,
}

/// `settings: { templates: { lstrip_blocks: true } }`. `trim_blocks` is always on (the newline
/// after a block tag is removed), as in Ansible; the template stage reads this before it
/// renders anything, so it is a literal boolean, not a template.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// Remove the spaces and tabs before a block tag (`{% … %}`) that starts a line, so
    /// indented tags leave no indentation behind (Jinja's `lstrip_blocks`; off by default, as
    /// in Ansible).
    #[serde(default)]
    pub lstrip_blocks: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Listen address of `/metrics`, e.g. "127.0.0.1:9100".
    pub listen: Option<Spanned<String>>,
    /// The metrics sent to sinks on an interval, while `driftless facts --serve` or
    /// `driftless facts --push` runs.
    pub push: Option<MetricsPush>,
    /// node_exporter's web config file (`web-config.yml`, exporter-toolkit's format: TLS,
    /// basic auth, headers, rate limit), as its `--web.config.file` flag gives it; a relative
    /// path is relative to the config dir. `driftless facts --web.config.file` overrides it.
    pub web_config: Option<Spanned<String>>,
    /// Limits of the `/metrics` server, against clients that are slow, many or hostile.
    pub limits: Option<MetricsLimits>,
}

/// `settings.metrics.limits`; every field has a default.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsLimits {
    /// Open connections at most, in every state (default 512). At the limit a new connection
    /// evicts the one that has waited longest for its request.
    pub max_connections: Option<Spanned<u32>>,
    /// Bytes of a request head at most (default 8192); a larger head is answered `431`.
    pub max_header_bytes: Option<Spanned<u32>>,
    /// Requests one client address may make at once (default 1000) before it gets `429`…
    pub client_burst: Option<Spanned<u32>>,
    /// …and then one per this interval (default "10ms", 100 a second).
    pub client_interval: Option<Spanned<Duration>>,
    /// Time allowed for a whole request head, TLS handshake included (default "5s").
    pub read_timeout: Option<Spanned<Duration>>,
    /// Time allowed for a whole answer to be sent (default "5s").
    pub write_timeout: Option<Spanned<Duration>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsPush {
    /// How often, e.g. "15s".
    pub interval: Spanned<Duration>,
    /// Where each scrape goes (in the Prometheus text format, as node_exporter's textfile
    /// collector reads it), all of them at once.
    pub sinks: Vec<Spanned<SinkConfig>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// How often the agent pulls and converges.
    pub interval: Spanned<Duration>,
}
