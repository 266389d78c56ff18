//! The collectors behind `facts:` tasks, one file each, and what they share: the
//! [`Collector`] trait, include/exclude [`NameFilter`]s, and the construction of a collector
//! from its typed config.

pub mod command;
pub mod cpu;
pub mod disk;
pub mod hardware;
pub mod kernel_net;
pub mod load;
pub mod mdadm;
pub mod memory;
pub mod network;
pub mod process;
pub mod system;
pub mod textfile;

use std::borrow::Cow;
use std::fmt;

use super::family::{Family, Label};
use crate::model::Spanned;
use crate::model::facts::{CollectorSpec, Filter};

/// A value a threshold can watch: a name from the collector's list, the series it belongs to
/// (labels), and the number.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedValue {
    pub name: Cow<'static, str>,
    pub labels: Vec<Label>,
    pub value: f64,
}

/// What one collection produced.
#[derive(Debug, Default)]
pub struct Output {
    pub families: Vec<Family>,
    pub values: Vec<WatchedValue>,
    /// The node_exporter collectors that ran, in order: each driftless collector is made of
    /// one or more of them, and `node_scrape_collector_*` reports them by these names.
    pub parts: Vec<PartRun>,
    /// Which node_exporter collectors to run; the others are skipped.
    selection: Selection,
}

/// One node_exporter collector's run inside a driftless collector.
#[derive(Debug, Clone)]
pub struct PartRun {
    /// node_exporter's name for it (`cpu`, `meminfo`, `netdev`, …).
    pub name: &'static str,
    pub seconds: f64,
    /// Why it failed, or reported no data (as node_exporter's `ErrNoData`: success 0).
    pub error: Option<CollectError>,
    /// Its families: `Output::families[families]`.
    pub families: std::ops::Range<usize>,
}

impl Output {
    /// An output that runs only the node_exporter collectors `selection` wants.
    pub fn selecting(selection: Selection) -> Output {
        Output {
            selection,
            ..Output::default()
        }
    }

    pub fn family(&mut self, family: Family) {
        if !family.samples.is_empty() {
            self.families.push(family);
        }
    }

    pub fn watch(&mut self, name: &'static str, labels: Vec<Label>, value: f64) {
        if value.is_finite() {
            self.values.push(WatchedValue {
                name: Cow::Borrowed(name),
                labels,
                value,
            });
        }
    }

    /// Whether the node_exporter collector `name` runs in this collection.
    pub fn wants(&self, name: &str) -> bool {
        self.selection.wants(name)
    }

    /// Runs `collect` as node_exporter's collector `name` — timed, its failure recorded
    /// against that name — unless the selection leaves it out.
    pub fn part(
        &mut self,
        name: &'static str,
        collect: impl FnOnce(&mut Output) -> Result<(), CollectError>,
    ) {
        if !self.selection.wants(name) {
            return;
        }
        let first = self.families.len();
        let started = std::time::Instant::now();
        let error = collect(self).err();
        self.parts.push(PartRun {
            name,
            seconds: started.elapsed().as_secs_f64(),
            error,
            families: first..self.families.len(),
        });
    }

    /// The first failure of its parts, as `name: reason`; "no data" is no failure.
    pub fn first_part_failure(&self) -> Option<CollectError> {
        self.parts.iter().find_map(|p| {
            p.error
                .as_ref()
                .filter(|e| !e.is_no_data())
                .map(|e| CollectError(format!("{}: {e}", p.name)))
        })
    }
}

/// Which node_exporter collectors one gathering runs, by node_exporter's names: what
/// node_exporter's `?collect[]=cpu&collect[]=meminfo` and `?exclude[]=…` ask for. Names outside
/// [`NODE_EXPORTER_COLLECTORS`] (driftless's own `process` and `command` collectors) run only
/// under [`Selection::all`] and [`Selection::excluding`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `None`: every collector.
    only: Option<Vec<String>>,
    exclude: Vec<String>,
}

impl Selection {
    pub fn all() -> Selection {
        Selection::default()
    }

    /// Only these collectors (`collect[]`).
    pub fn only(names: impl IntoIterator<Item = impl Into<String>>) -> Selection {
        Selection {
            only: Some(names.into_iter().map(Into::into).collect()),
            exclude: Vec::new(),
        }
    }

    /// Every collector but these (`exclude[]`).
    pub fn excluding(names: impl IntoIterator<Item = impl Into<String>>) -> Selection {
        Selection {
            only: None,
            exclude: names.into_iter().map(Into::into).collect(),
        }
    }

    /// This selection without the collector `name` as well.
    pub fn also_excluding(&self, name: &str) -> Selection {
        let mut selection = self.clone();
        selection.exclude.push(name.to_owned());
        selection
    }

    pub fn is_all(&self) -> bool {
        self.only.is_none() && self.exclude.is_empty()
    }

    /// Whether the node_exporter collector `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|n| n == name))
            && !self.exclude.iter().any(|n| n == name)
    }

    /// Whether a driftless collector made of `parts` runs at all; one with no node_exporter
    /// counterpart (`parts` empty) runs unless the selection names collectors to keep.
    pub fn wants_any(&self, parts: &[&str]) -> bool {
        if parts.is_empty() {
            return self.only.is_none();
        }
        parts.iter().any(|p| self.wants(p))
    }
}

/// Every node_exporter collector driftless implements, by node_exporter's name: the names
/// `node_scrape_collector_*{collector}` carries and a [`Selection`] accepts.
pub const NODE_EXPORTER_COLLECTORS: &[&str] = &[
    "arp",
    "bonding",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "edac",
    "entropy",
    "filefd",
    "filesystem",
    "hwmon",
    "loadavg",
    "mdadm",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "nvme",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
];

/// The node_exporter collectors a driftless collector type is made of.
pub fn parts(spec: &CollectorSpec) -> &'static [&'static str] {
    match spec {
        CollectorSpec::Cpu(_) => cpu::PARTS,
        CollectorSpec::Memory(_) => memory::PARTS,
        CollectorSpec::Disk(_) => disk::PARTS,
        CollectorSpec::Network(_) => network::PARTS,
        CollectorSpec::Load(_) => load::PARTS,
        CollectorSpec::System(_) => system::PARTS,
        CollectorSpec::Hardware(_) => hardware::PARTS,
        CollectorSpec::Textfile(_) => &["textfile"],
        CollectorSpec::Process(_) | CollectorSpec::Command(_) => &[],
    }
}

/// A collection that failed; what it produced before failing is still exposed.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectError(pub String);

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CollectError {}

/// How a "no data" error starts (see [`CollectError::no_data`]).
const NO_DATA: &str = "no data: ";

impl CollectError {
    /// node_exporter's `ErrNoData`: the host does not have what the collector reads (no
    /// conntrack module, no md driver, no PSI). The node_exporter collector reports success 0,
    /// as node_exporter does, but the driftless collector it is part of has not failed.
    pub fn no_data(why: impl fmt::Display) -> CollectError {
        CollectError(format!("{NO_DATA}{why}"))
    }

    pub fn is_no_data(&self) -> bool {
        self.0.starts_with(NO_DATA)
    }
}

impl From<std::io::Error> for CollectError {
    fn from(e: std::io::Error) -> Self {
        CollectError(e.to_string())
    }
}

/// One collector. `collect` is called once per scrape, or once per interval when the task has
/// one; state kept between calls (previous counters for rates) lives in the collector.
pub trait Collector: Send {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError>;
}

/// The threshold value names a collector type produces; `None` when any name may appear
/// (`command` keys, `textfile` metric names).
pub fn value_names(spec: &CollectorSpec) -> Option<&'static [&'static str]> {
    match spec {
        CollectorSpec::Cpu(_) => Some(cpu::VALUE_NAMES),
        CollectorSpec::Memory(_) => Some(memory::VALUE_NAMES),
        CollectorSpec::Disk(_) => Some(disk::VALUE_NAMES),
        CollectorSpec::Network(_) => Some(network::VALUE_NAMES),
        CollectorSpec::Load(_) => Some(load::VALUE_NAMES),
        CollectorSpec::System(_) => Some(system::VALUE_NAMES),
        CollectorSpec::Hardware(_) => Some(&[]),
        CollectorSpec::Process(_) => Some(process::VALUE_NAMES),
        CollectorSpec::Command(_) | CollectorSpec::Textfile(_) => None,
    }
}

/// Builds the collector a task describes. `id` is the task id (a label for `command`, the
/// group name for a `process` pattern).
pub fn build(id: &str, spec: &CollectorSpec) -> Result<Box<dyn Collector>, String> {
    Ok(match spec {
        CollectorSpec::Cpu(_) => Box::new(cpu::CpuCollector::new()),
        CollectorSpec::Memory(_) => Box::new(memory::MemoryCollector::new()),
        CollectorSpec::Disk(d) => Box::new(disk::DiskCollector::new(d)?),
        CollectorSpec::Network(n) => Box::new(network::NetworkCollector::new(n)?),
        CollectorSpec::Load(_) => Box::new(load::LoadCollector::new()),
        CollectorSpec::System(_) => Box::new(system::SystemCollector::new()),
        CollectorSpec::Hardware(_) => Box::new(hardware::HardwareCollector::new()),
        CollectorSpec::Process(p) => Box::new(process::ProcessCollector::new(id, p)?),
        CollectorSpec::Command(c) => Box::new(command::CommandCollector::new(id, c)?),
        CollectorSpec::Textfile(t) => Box::new(textfile::TextfileCollector::new(
            std::path::PathBuf::from(&t.directory.value),
        )),
    })
}

/// The names a collector reports: glob include/exclude lists, and node_exporter's include
/// and exclude regular expressions (its `--collector.X.device-include`/`-exclude` flags,
/// unanchored like Go's `MatchString`). A name passes when it passes both.
///
/// node_exporter's default exclusion (`default_exclude`) applies only when neither the globs
/// nor the regular expressions are configured.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    include_regex: Option<regex::Regex>,
    exclude_regex: Option<regex::Regex>,
}

/// node_exporter's include and exclude regular expressions of one filter, as configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Regexes<'a> {
    pub include: Option<&'a str>,
    pub exclude: Option<&'a str>,
}

impl<'a> Regexes<'a> {
    pub fn new(include: Option<&'a Spanned<String>>, exclude: Option<&'a Spanned<String>>) -> Self {
        Regexes {
            include: include.map(|s| s.value.as_str()),
            exclude: exclude.map(|s| s.value.as_str()),
        }
    }

    /// Only an exclusion (`--collector.netclass.ignored-devices`).
    pub fn exclude(exclude: Option<&'a Spanned<String>>) -> Self {
        Regexes::new(None, exclude)
    }
}

impl NameFilter {
    pub fn new(
        globs: &Filter,
        regexes: Regexes<'_>,
        default_exclude: Option<&str>,
    ) -> Result<Self, String> {
        let compile_globs = |patterns: &[String]| -> Result<Vec<Glob>, String> {
            patterns.iter().map(|p| Glob::new(p)).collect()
        };
        let compile = |pattern: Option<&str>| -> Result<Option<regex::Regex>, String> {
            pattern
                .map(|p| {
                    regex::Regex::new(p)
                        .map_err(|e| format!("invalid regular expression `{p}`: {e}"))
                })
                .transpose()
        };
        let configured = !NameFilter::is_default(globs)
            || regexes.include.is_some()
            || regexes.exclude.is_some();
        Ok(NameFilter {
            include: compile_globs(&globs.include)?,
            exclude: compile_globs(&globs.exclude)?,
            include_regex: compile(regexes.include)?,
            exclude_regex: compile(if configured {
                regexes.exclude
            } else {
                default_exclude
            })?,
        })
    }

    pub fn is_default(config: &Filter) -> bool {
        config.include.is_empty() && config.exclude.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(name)))
            && !self.exclude.iter().any(|g| g.matches(name))
            && self.include_regex.as_ref().is_none_or(|r| r.is_match(name))
            && !self
                .exclude_regex
                .as_ref()
                .is_some_and(|r| r.is_match(name))
    }
}

/// A shell-style glob: `*` (any run, including `/`), `?` (one character), `[abc]`, `[a-z]`,
/// `[!abc]`, and `\` to escape.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone)]
enum Token {
    Literal(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if !matches!(tokens.last(), Some(Token::Star)) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::Any),
                '\\' => match chars.next() {
                    Some(escaped) => tokens.push(Token::Literal(escaped)),
                    None => return Err(format!("glob `{pattern}` ends with a lone `\\`")),
                },
                '[' => {
                    let negated = matches!(chars.peek(), Some('!' | '^'));
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while let Some(c) = chars.next() {
                        if c == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        if chars.peek() == Some(&'-') {
                            let mut lookahead = chars.clone();
                            lookahead.next();
                            match lookahead.peek() {
                                Some(&end) if end != ']' => {
                                    chars.next();
                                    chars.next();
                                    ranges.push((c, end));
                                    continue;
                                }
                                _ => {}
                            }
                        }
                        ranges.push((c, c));
                    }
                    if !closed {
                        return Err(format!("glob `{pattern}` has an unclosed `[`"));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Literal(c)),
            }
        }
        Ok(Glob { tokens })
    }

    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        // Iterative matching with one backtrack point for the last `*`.
        let (mut t, mut c) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while c < chars.len() {
            let ok = match self.tokens.get(t) {
                Some(Token::Literal(l)) => *l == chars[c],
                Some(Token::Any) => true,
                Some(Token::Class { negated, ranges }) => {
                    ranges.iter().any(|(a, b)| (*a..=*b).contains(&chars[c])) != *negated
                }
                Some(Token::Star) => {
                    star = Some((t, c));
                    t += 1;
                    continue;
                }
                None => false,
            };
            if ok {
                t += 1;
                c += 1;
            } else if let Some((st, sc)) = star {
                t = st + 1;
                c = sc + 1;
                star = Some((st, sc + 1));
            } else {
                return false;
            }
        }
        self.tokens[t..]
            .iter()
            .all(|tok| matches!(tok, Token::Star))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match() {
        let g = |p: &str, t: &str| Glob::new(p).map(|g| g.matches(t)).unwrap_or(false);
        assert!(g("/var/lib/docker/*", "/var/lib/docker/overlay2/abc"));
        assert!(g("sd?", "sda"));
        assert!(!g("sd?", "sda1"));
        assert!(g("sd[a-c]*", "sdb12"));
        assert!(!g("sd[!a-c]", "sdb"));
        assert!(g("*", ""));
        assert!(g("eth*", "eth0"));
        assert!(!g("eth*", "lo"));
        assert!(g("a\\*b", "a*b"));
        assert!(Glob::new("[abc").is_err());
    }

    #[test]
    fn filters_use_defaults_only_when_unset() {
        let empty = Filter::default();
        let f = NameFilter::new(&empty, Regexes::default(), Some("^lo$")).unwrap_or_default();
        assert!(!f.matches("lo"));
        assert!(f.matches("eth0"));
        let given = Filter {
            include: vec!["lo".into(), "eth*".into()],
            exclude: vec!["eth1".into()],
        };
        let f = NameFilter::new(&given, Regexes::default(), Some("^lo$")).unwrap_or_default();
        assert!(f.matches("lo"));
        assert!(f.matches("eth0"));
        assert!(!f.matches("eth1"));
        assert!(!f.matches("wlan0"));
        let exclude = Spanned::unplaced("^(eth|wlan)1$".to_owned());
        let f = NameFilter::new(
            &Filter::default(),
            Regexes::exclude(Some(&exclude)),
            Some("^lo$"),
        )
        .unwrap_or_default();
        assert!(f.matches("lo"), "a configured regex replaces the default");
        assert!(!f.matches("wlan1"));
        assert!(f.matches("eth10"));
        let include = Spanned::unplaced("^e".to_owned());
        let f =
            NameFilter::new(&given, Regexes::new(Some(&include), None), None).unwrap_or_default();
        assert!(f.matches("eth0"), "both filters pass it");
        assert!(!f.matches("lo"), "the regex include leaves it out");
        let bad = Spanned::unplaced("(".to_owned());
        assert!(NameFilter::new(&Filter::default(), Regexes::exclude(Some(&bad)), None).is_err());
    }
}
