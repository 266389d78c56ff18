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
