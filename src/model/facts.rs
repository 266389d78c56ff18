//! `facts:` tasks: collectors, their schedule and thresholds. The collectors themselves arrive
//! with the facts issue; this is what a config may say about them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::TaskMeta;
use super::spanned::Spanned;
use super::values::Duration;

#[derive(Debug, Clone)]
pub struct FactsTask {
    pub meta: TaskMeta,
    pub keywords: FactsKeywords,
    pub collector: CollectorSpec,
    /// Some field was rendered from a secret (e.g. a token in a `command`): plan.json shows
    /// the collector's settings as `(sensitive)`.
    pub sensitive: bool,
}

/// What every collector accepts besides its own fields.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FactsKeywords {
    /// Unique id; default the collector type (`facts.disk`).
    pub id: Option<Spanned<String>>,
    /// Ids of `apply` tasks that must succeed before this collector runs in `execute`/`apply`
    /// (the file a `textfile` collector reads, the script a `command` collector runs).
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// How often to collect, e.g. "30s". Unset: on every scrape.
    pub interval: Option<Spanned<Duration>>,
    /// Levels per value name that raise warning and critical events.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Threshold>,
}

/// The keyword names of a facts task.
pub const FACTS_KEYWORDS: &[&str] = &["id", "depends_on", "interval", "thresholds"];

/// Warning and critical levels of one value; an event clears only once the value is back past
/// the level by `hysteresis`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub warn: Option<f64>,
    pub critical: Option<f64>,
    #[serde(default)]
    pub hysteresis: f64,
}

/// The collectors, selected by `type`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(tag = "type")]
pub enum CollectorSpec {
    Cpu(NoFields),
    Memory(NoFields),
    Disk(DiskCollector),
    Network(NetworkCollector),
    Load(NoFields),
    System(NoFields),
    Process(ProcessCollector),
    Command(CommandCollector),
    Textfile(TextfileCollector),
}

impl CollectorSpec {
    /// Every name [`CollectorSpec::type_name`] gives.
    pub const TYPE_NAMES: [&'static str; 9] = [
        "cpu", "memory", "disk", "network", "load", "system", "process", "command", "textfile",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            CollectorSpec::Cpu(_) => "cpu",
            CollectorSpec::Memory(_) => "memory",
            CollectorSpec::Disk(_) => "disk",
            CollectorSpec::Network(_) => "network",
            CollectorSpec::Load(_) => "load",
            CollectorSpec::System(_) => "system",
            CollectorSpec::Process(_) => "process",
            CollectorSpec::Command(_) => "command",
            CollectorSpec::Textfile(_) => "textfile",
        }
    }
}

/// A collector without fields of its own.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Names (glob patterns) to include and exclude; an empty `include` includes all.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Filesystem usage and disk I/O counters.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskCollector {
    #[serde(default)]
    pub mountpoints: Filter,
    #[serde(default)]
    pub fs_types: Filter,
    #[serde(default)]
    pub devices: Filter,
}

/// Per-interface network counters.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkCollector {
    #[serde(default)]
    pub interfaces: Filter,
}

/// Processes by name or pattern: count, CPU seconds, resident memory.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessCollector {
    /// Exact process names (`comm`).
    #[serde(default)]
    pub names: Vec<String>,
    /// A regular expression over the command line.
    pub pattern: Option<Spanned<String>>,
}

/// How a `command` collector reads its command's output.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandFormat {
    /// One number.
    #[default]
    Number,
    /// A JSON object of name → number.
    Json,
}

/// Runs a command and reads a number, or a JSON object of numbers, from its output.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandCollector {
    /// The program and its arguments; no shell.
    pub command: Vec<String>,
    #[serde(default)]
    pub format: CommandFormat,
    /// Killed after this long (default "10s").
    pub timeout: Option<Spanned<Duration>>,
}

/// node_exporter's textfile collector: `*.prom` files of a directory.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextfileCollector {
    pub directory: Spanned<String>,
}
