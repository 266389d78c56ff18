//! The collectors behind `facts:` tasks, one file each, and what they share: the
//! [`Collector`] trait, include/exclude [`NameFilter`]s, and the construction of a collector
//! from its typed config.

pub mod command;
pub mod cpu;
pub mod disk;
pub mod load;
pub mod memory;
pub mod network;
pub mod process;
pub mod system;
pub mod textfile;

use std::borrow::Cow;
use std::fmt;

use super::family::{Family, Label};
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
}

impl Output {
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
        CollectorSpec::Process(p) => Box::new(process::ProcessCollector::new(id, p)?),
        CollectorSpec::Command(c) => Box::new(command::CommandCollector::new(id, c)?),
        CollectorSpec::Textfile(t) => Box::new(textfile::TextfileCollector::new(
            std::path::PathBuf::from(&t.directory.value),
        )),
    })
}

/// Glob-pattern include/exclude lists, compiled. A name passes when `include` is empty or one
/// of its patterns matches, and no `exclude` pattern matches.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl NameFilter {
    /// The configured filter; when it says nothing (both lists empty), `default_exclude` — the
    /// exclusions node_exporter applies by default — is used instead.
    pub fn new(config: &Filter, default_exclude: &[&str]) -> Result<Self, String> {
        let compile = |patterns: &[String]| -> Result<Vec<Glob>, String> {
            patterns.iter().map(|p| Glob::new(p)).collect()
        };
        if config.include.is_empty() && config.exclude.is_empty() {
            return Ok(NameFilter {
                include: Vec::new(),
                exclude: default_exclude
                    .iter()
                    .map(|p| Glob::new(p))
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(NameFilter {
            include: compile(&config.include)?,
            exclude: compile(&config.exclude)?,
        })
    }

    pub fn is_default(config: &Filter) -> bool {
        config.include.is_empty() && config.exclude.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(name)))
            && !self.exclude.iter().any(|g| g.matches(name))
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
        let f = NameFilter::new(&empty, &["lo"]).unwrap_or_default();
        assert!(!f.matches("lo"));
        assert!(f.matches("eth0"));
        let given = Filter {
            include: vec!["lo".into(), "eth*".into()],
            exclude: vec!["eth1".into()],
        };
        let f = NameFilter::new(&given, &["lo"]).unwrap_or_default();
        assert!(f.matches("lo"));
        assert!(f.matches("eth0"));
        assert!(!f.matches("eth1"));
        assert!(!f.matches("wlan0"));
    }
}
