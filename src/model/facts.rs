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
    Hardware(NoFields),
    Process(ProcessCollector),
    Command(CommandCollector),
    Textfile(TextfileCollector),
}

impl CollectorSpec {
    /// Every name [`CollectorSpec::type_name`] gives.
    pub const TYPE_NAMES: [&'static str; 10] = [
        "cpu", "memory", "disk", "network", "load", "system", "hardware", "process", "command",
        "textfile",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            CollectorSpec::Cpu(_) => "cpu",
            CollectorSpec::Memory(_) => "memory",
            CollectorSpec::Disk(_) => "disk",
            CollectorSpec::Network(_) => "network",
            CollectorSpec::Load(_) => "load",
            CollectorSpec::System(_) => "system",
            CollectorSpec::Hardware(_) => "hardware",
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

/// Filesystem usage, disk I/O counters and software RAID (node_exporter's `filesystem`,
/// `diskstats` and `mdadm` collectors).
///
/// Two ways to filter, which both apply: glob lists (`mountpoints`, `fs_types`, `devices`)
/// and node_exporter's regular expressions under its flags' names (an existing
/// `--collector.filesystem.mount-points-exclude=…` carries over as `mount_points_exclude`).
/// node_exporter's default exclusions apply only when neither says anything about that name.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskCollector {
    #[serde(default)]
    pub mountpoints: Filter,
    #[serde(default)]
    pub fs_types: Filter,
    #[serde(default)]
    pub devices: Filter,
    /// Mount points to leave out, a regular expression
    /// (`--collector.filesystem.mount-points-exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_points_exclude: Option<Spanned<String>>,
    /// Filesystem types to leave out (`--collector.filesystem.fs-types-exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_types_exclude: Option<Spanned<String>>,
    /// Disks to report, a regular expression (`--collector.diskstats.device-include`; not
    /// with `diskstats_device_exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskstats_device_include: Option<Spanned<String>>,
    /// Disks to leave out (`--collector.diskstats.device-exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskstats_device_exclude: Option<Spanned<String>>,
}

/// Per-interface network counters and properties, protocol and socket counters, the ARP
/// table, conntrack, softnet, UDP queues and bonds.
///
/// Filters as for `disk`: the `interfaces` glob lists, and node_exporter's regular
/// expressions under its flags' names.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkCollector {
    #[serde(default)]
    pub interfaces: Filter,
    /// Interfaces whose counters to report (`--collector.netdev.device-include`; not with
    /// `netdev_device_exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netdev_device_include: Option<Spanned<String>>,
    /// Interfaces whose counters to leave out (`--collector.netdev.device-exclude`; default
    /// `^lo$`, as Debian's node_exporter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netdev_device_exclude: Option<Spanned<String>>,
    /// Interfaces whose properties to leave out (`--collector.netclass.ignored-devices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netclass_ignored_devices: Option<Spanned<String>>,
    /// Devices whose ARP entries to count (`--collector.arp.device-include`; not with
    /// `arp_device_exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_device_include: Option<Spanned<String>>,
    /// Devices whose ARP entries to leave out (`--collector.arp.device-exclude`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arp_device_exclude: Option<Spanned<String>>,
}

impl DiskCollector {
    /// The regular expressions with the field names they were given under.
    pub fn regexes(&self) -> [(&'static str, Option<&Spanned<String>>); 4] {
        [
            ("mount_points_exclude", self.mount_points_exclude.as_ref()),
            ("fs_types_exclude", self.fs_types_exclude.as_ref()),
            (
                "diskstats_device_include",
                self.diskstats_device_include.as_ref(),
            ),
            (
                "diskstats_device_exclude",
                self.diskstats_device_exclude.as_ref(),
            ),
        ]
    }
}

impl NetworkCollector {
    /// The regular expressions with the field names they were given under.
    pub fn regexes(&self) -> [(&'static str, Option<&Spanned<String>>); 5] {
        [
            ("netdev_device_include", self.netdev_device_include.as_ref()),
            ("netdev_device_exclude", self.netdev_device_exclude.as_ref()),
            (
                "netclass_ignored_devices",
                self.netclass_ignored_devices.as_ref(),
            ),
            ("arp_device_include", self.arp_device_include.as_ref()),
            ("arp_device_exclude", self.arp_device_exclude.as_ref()),
        ]
    }
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
