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

/// `settings.agent`: how `driftless agent` runs. Read from the agent's own config dir (`-c`),
/// not from the repository it pulls.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    /// How often the agent converges the host (default "30m").
    pub interval: Option<Spanned<Duration>>,
    /// Up to this much more, chosen at random for each cycle, so that a fleet does not hit its
    /// sources at once (default none); at most the interval.
    pub splay: Option<Spanned<Duration>>,
    /// `apply` (default) converges the host; `plan` only plans and sends the plan to the audit
    /// sinks (drift is reported, nothing is changed).
    pub mode: Option<Spanned<AgentMode>>,
    /// Where the config comes from; unset: the agent's own config dir.
    pub source: Option<AgentSource>,
}

/// What each cycle of the agent does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentMode {
    /// Plan and execute.
    #[default]
    Apply,
    /// Plan only, and send the plan to the audit sinks.
    Plan,
}

/// `settings.agent.source`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSource {
    /// A Git repository the agent clones and follows (with the `git` command).
    pub git: GitSource,
}

/// `settings.agent.source.git`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    /// The repository, as `git clone` takes it: `https://…`, `ssh://…`, `git@host:path` or a
    /// local path. Credentials belong in git's credential helpers or SSH keys, not here.
    pub url: Spanned<String>,
    /// The branch to converge to (default "main").
    pub branch: Option<Spanned<String>>,
    /// How often the repository is fetched (default: the agent's interval).
    pub interval: Option<Spanned<Duration>>,
    /// Apply only commits whose signature `git verify-commit` accepts (GPG or SSH keys the
    /// agent's user trusts); an unsigned or untrusted commit is refused.
    #[serde(default)]
    pub verify_commits: bool,
    /// Branches (or full refs, e.g. `refs/pull/7/head`) that are planned, never applied: each
    /// new commit of one is planned and its plan sent to the audit sinks for review. Name only
    /// refs that the people who may change the hosts push to.
    #[serde(default)]
    pub preview_refs: Vec<Spanned<String>>,
}
