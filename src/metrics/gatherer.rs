//! The running set of collectors: collects on scrape or on each task's interval, caches values
//! between runs, evaluates thresholds, and adds driftless's own metrics.
//!
//! Shared by the `/metrics` server's threads (every method takes `&self`): each collector sits
//! behind its own mutex, so concurrent scrapes never run one collector twice at once, and a
//! collector with an interval is run at most once per interval however many scrapes arrive.
//!
//! The set can be replaced while it runs ([`Gatherer::reload`], the agent's reload): a
//! collector configured as before is kept with its state — the collector itself (counters
//! it rates, its cache), its threshold levels and its interval's last run — a changed one
//! is built afresh, a removed one dropped.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use std::collections::{BTreeMap, BTreeSet};

use super::collectors::{self, Collector, Output, PartRun, Selection};
use super::family::{Family, labels};
use super::thresholds::{EventLog, ThresholdEvent, Thresholds};
use crate::host::{process, procfs};
use crate::model::FactsTask;
use crate::model::Spanned;
use crate::model::facts::{
    CollectorSpec, DiskCollector, NetworkCollector, NoFields, TextfileCollector,
};

/// One configured collector.
struct Entry {
    id: String,
    type_name: &'static str,
    /// The node_exporter collectors it is made of.
    parts: &'static [&'static str],
    /// Its settings were rendered from a secret: its error messages, which may quote its
    /// command or what the command printed, are not shown.
    sensitive: bool,
    interval: Option<Duration>,
    /// A digest of everything it was built from (type, fields, interval, thresholds,
    /// sensitivity; not where they were written): equal digests, the same collector.
    config: [u8; 32],
    state: Mutex<EntryState>,
}

struct EntryState {
    collector: Box<dyn Collector>,
    thresholds: Thresholds,
    families: Arc<Vec<Family>>,
    /// The node_exporter collectors of the last run, with their families' place in `families`.
    parts: Vec<PartRun>,
    last_run: Option<Instant>,
    last_run_unix: f64,
    duration: f64,
    /// Why the last run failed; `None` when it succeeded.
    error: Option<String>,
}

/// How one run of a collector went.
pub struct CollectorRun {
    /// Samples collected (all series of all its families).
    pub samples: usize,
    /// Why the run failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// The collectors of a run and their cached values.
pub struct Gatherer {
    /// The collectors now; a reload swaps in a new list (a gathering keeps the one it
    /// started with).
    entries: Mutex<Arc<[Arc<Entry>]>>,
    /// Counts reloads; the scheduler waits on it to learn of new intervals at once.
    reloads: Mutex<u64>,
    reloaded: Condvar,
    events: Mutex<EventLog>,
    started_unix: f64,
    /// Families from outside the collectors, added to every gathering: the `driftless_log_*`
    /// families of log pipelines running in the same process.
    sources: Mutex<Vec<FamilySource>>,
}

/// Families made on request by another part of the process.
pub type FamilySource = Arc<dyn Fn() -> Vec<Family> + Send + Sync>;

/// What one gathering produced: every collector's families (shared with the cache, not
/// copied) and driftless's own metrics.
pub struct Gathered {
    pub collected: Vec<Arc<Vec<Family>>>,
    pub own: Vec<Family>,
}

impl Gathered {
    pub fn families(&self) -> impl Iterator<Item = &Family> {
        self.collected
            .iter()
            .flat_map(|f| f.iter())
            .chain(&self.own)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One configured collector, as a [`Gatherer`] is built from it.
pub struct CollectorConfig<'a> {
    pub id: &'a str,
    pub spec: &'a CollectorSpec,
    pub interval: Option<Duration>,
    pub thresholds: Option<&'a BTreeMap<String, crate::model::facts::Threshold>>,
    pub sensitive: bool,
}

impl CollectorConfig<'_> {
    /// What [`Entry::config`] holds.
    fn digest(&self) -> [u8; 32] {
        let text = serde_json::to_vec(&(
            self.spec,
            self.interval.filter(|i| !i.is_zero()),
            self.thresholds,
            self.sensitive,
        ))
        .unwrap_or_default();
        Sha256::digest(&text).into()
    }
}

/// What [`Gatherer::reload`] did, by collector id.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CollectorReload {
    /// Configured as before: kept with their state.
    pub kept: Vec<String>,
    /// New, or configured otherwise: built afresh.
    pub built: Vec<String>,
    pub removed: Vec<String>,
}

/// Calls `f` with the collectors of `tasks`, or the defaults when there are none.
fn with_configs<R>(tasks: &[FactsTask], f: impl FnOnce(Vec<CollectorConfig<'_>>) -> R) -> R {
    if tasks.is_empty() {
        let defaults = default_specs();
        return f(defaults
            .iter()
            .map(|(id, spec)| CollectorConfig {
                id,
                spec,
                interval: None,
                thresholds: None,
                sensitive: false,
            })
            .collect());
    }
    f(tasks
        .iter()
        .map(|t| CollectorConfig {
            id: &t.meta.id,
            spec: &t.collector,
            interval: t.keywords.interval.as_ref().map(|i| i.value.0),
            thresholds: Some(&t.keywords.thresholds),
            sensitive: t.sensitive,
        })
        .collect())
}

/// The collectors `driftless facts` runs when the config has no `facts:` tasks: the families
/// node_exporter enables by default.
pub fn default_specs() -> Vec<(String, CollectorSpec)> {
    vec![
        ("cpu".into(), CollectorSpec::Cpu(NoFields {})),
        ("memory".into(), CollectorSpec::Memory(NoFields {})),
        ("disk".into(), CollectorSpec::Disk(DiskCollector::default())),
        (
            "network".into(),
            CollectorSpec::Network(NetworkCollector::default()),
        ),
        ("load".into(), CollectorSpec::Load(NoFields {})),
        ("system".into(), CollectorSpec::System(NoFields {})),
        ("hardware".into(), CollectorSpec::Hardware(NoFields {})),
        (
            "textfile".into(),
            CollectorSpec::Textfile(TextfileCollector {
                directory: Spanned::unplaced(DEFAULT_TEXTFILE_DIRECTORY.to_owned()),
            }),
        ),
    ]
}

/// Debian's node_exporter's textfile directory (`--collector.textfile.directory` in
/// `/etc/default/prometheus-node-exporter`), where the scripts of
/// prometheus-node-exporter-collectors write: a host switching over keeps their metrics.
pub const DEFAULT_TEXTFILE_DIRECTORY: &str = "/var/lib/prometheus/node-exporter";

/// A collector's error as messages, logs and reports show it: not at all when the collector
/// was rendered from a secret (the message may quote the secret or what a command printed).
fn shown_error(sensitive: bool, error: &dyn std::fmt::Display) -> String {
    if sensitive {
        "it failed; the reason is not shown because the collector's settings were rendered \
         from a secret (run its command by hand to see why)"
            .to_owned()
    } else {
        error.to_string()
    }
}

/// The entries of `configs`, reusing the one of `running` with the same id and digest.
fn build_entries(
    configs: Vec<CollectorConfig<'_>>,
    running: &[Arc<Entry>],
) -> Result<Vec<Arc<Entry>>, Vec<String>> {
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    for config in configs {
        let digest = config.digest();
        let CollectorConfig {
            id,
            spec,
            interval,
            thresholds,
            sensitive,
        } = config;
        if let Some(same) = running.iter().find(|e| e.id == id && e.config == digest) {
            entries.push(Arc::clone(same));
            continue;
        }
        let empty = BTreeMap::new();
        let thresholds = thresholds.unwrap_or(&empty);
        if let Some(known) = collectors::value_names(spec) {
            for name in thresholds.keys() {
                if !known.contains(&name.as_str()) {
                    errors.push(format!(
                        "facts.{id}: the {} collector has no value `{name}` to put a threshold on (it has: {})",
                        spec.type_name(),
                        known.join(", ")
                    ));
                }
            }
        }
        match collectors::build(id, spec) {
            Ok(collector) => entries.push(Arc::new(Entry {
                id: id.to_owned(),
                type_name: spec.type_name(),
                parts: collectors::parts(spec),
                sensitive,
                interval: interval.filter(|i| !i.is_zero()),
                config: digest,
                state: Mutex::new(EntryState {
                    collector,
                    thresholds: Thresholds::new(id, thresholds),
                    families: Arc::new(Vec::new()),
                    parts: Vec::new(),
                    last_run: None,
                    last_run_unix: 0.0,
                    duration: 0.0,
                    error: Some("not run yet".to_owned()),
                }),
            })),
            Err(e) => errors.push(format!("facts.{id}: {}", shown_error(sensitive, &e))),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

impl Gatherer {
    /// The collectors of the config's `facts:` tasks, or the defaults when there are none.
    /// Errors (a bad filter glob, a threshold on a value the collector does not have) are
    /// collected and returned together.
    pub fn from_tasks(tasks: &[FactsTask]) -> Result<Gatherer, Vec<String>> {
        with_configs(tasks, Gatherer::from_configs)
    }

    pub fn from_configs(configs: Vec<CollectorConfig<'_>>) -> Result<Gatherer, Vec<String>> {
        let entries = build_entries(configs, &[])?;
        Ok(Gatherer {
            entries: Mutex::new(entries.into()),
            reloads: Mutex::new(0),
            reloaded: Condvar::new(),
            events: Mutex::new(EventLog::default()),
            started_unix: procfs::unix_now(),
            sources: Mutex::new(Vec::new()),
        })
    }

    /// Replaces the collectors with those of `tasks`: one whose id and configuration are
    /// unchanged is kept, state and all; the others are built afresh or dropped. On errors
    /// nothing changes.
    pub fn reload(&self, tasks: &[FactsTask]) -> Result<CollectorReload, Vec<String>> {
        let old = self.entries();
        let new = with_configs(tasks, |configs| build_entries(configs, &old))?;
        let mut summary = CollectorReload::default();
        for entry in &new {
            if old.iter().any(|o| Arc::ptr_eq(o, entry)) {
                summary.kept.push(entry.id.clone());
            } else {
                summary.built.push(entry.id.clone());
            }
        }
        summary.removed = old
            .iter()
            .filter(|o| !new.iter().any(|n| Arc::ptr_eq(o, n)))
            .filter(|o| !summary.built.contains(&o.id))
            .map(|o| o.id.clone())
            .collect();
        *lock(&self.entries) = new.into();
        *lock(&self.reloads) += 1;
        self.reloaded.notify_all();
        Ok(summary)
    }

    /// The collectors now.
    fn entries(&self) -> Arc<[Arc<Entry>]> {
        Arc::clone(&lock(&self.entries))
    }

    /// Sleeps for `wait` (`None`: until a reload), or until a reload comes sooner.
    pub fn sleep_unless_reloaded(&self, wait: Option<Duration>) {
        let reloads = lock(&self.reloads);
        let seen = *reloads;
        let unchanged = |n: &mut u64| *n == seen;
        match wait {
            Some(wait) => drop(
                self.reloaded
                    .wait_timeout_while(reloads, wait, unchanged)
                    .unwrap_or_else(|p| p.into_inner()),
            ),
            None => drop(
                self.reloaded
                    .wait_while(reloads, unchanged)
                    .unwrap_or_else(|p| p.into_inner()),
            ),
        }
    }

    /// Runs one collector now if it is due (always, without an interval).
    fn refresh(&self, entry: &Entry, state: &mut EntryState, force: bool) {
        let due = match (entry.interval, state.last_run) {
            (Some(interval), Some(last)) => force || last.elapsed() >= interval,
            _ => true,
        };
        if !due {
            return;
        }
        let mut out = Output::default();
        let started = Instant::now();
        let result = state
            .collector
            .collect(&mut out)
            .and_then(|()| out.first_part_failure().map_or(Ok(()), Err));
        state.duration = started.elapsed().as_secs_f64();
        state.last_run = Some(Instant::now());
        state.last_run_unix = procfs::unix_now();
        state.error = result.err().map(|e| shown_error(entry.sensitive, &e));
        if let Some(e) = &state.error {
            tracing::warn!(collector = %entry.id, error = %e, "collector failed");
        }
        state.families = Arc::new(out.families);
        state.parts = out.parts;
        if !state.thresholds.is_empty() {
            let events = state.thresholds.evaluate(&out.values, state.last_run_unix);
            if !events.is_empty() {
                let mut log = lock(&self.events);
                for event in events {
                    log.record(event);
                }
            }
        }
    }

    /// The node_exporter collectors the configured collectors are made of, by name: what a
    /// `collect[]` filter may name.
    pub fn exporter_collectors(&self) -> Vec<&'static str> {
        let names: BTreeSet<&'static str> = self
            .entries()
            .iter()
            .flat_map(|e| e.parts.iter().copied())
            .collect();
        names.into_iter().collect()
    }

    /// Adds families made by another part of the process (running log pipelines) to every
    /// gathering from now on.
    pub fn add_source(&self, source: FamilySource) {
        lock(&self.sources).push(source);
    }

    /// Collects what is due and returns every family, ready to expose.
    pub fn gather(&self) -> Gathered {
        self.gather_selected(&Selection::all())
    }

    /// Like [`Gatherer::gather`], with only the node_exporter collectors `selection` wants
    /// (node_exporter's `collect[]`/`exclude[]`). A collector with an interval gives the
    /// selected part of its cached run; one without runs only its selected parts, and that
    /// partial run neither replaces the cache nor evaluates thresholds.
    pub fn gather_selected(&self, selection: &Selection) -> Gathered {
        let entries = self.entries();
        let mut collected = Vec::with_capacity(entries.len());
        // node_exporter's collectors by name: seconds, and whether every run succeeded.
        let mut ne_runs: BTreeMap<&'static str, (f64, bool)> = BTreeMap::new();
        let mut duration = Family::gauge(
            "driftless_collector_duration_seconds",
            "Duration of the last run of a collector.",
        );
        let mut success = Family::gauge(
            "driftless_collector_success",
            "Whether the last run of a collector succeeded.",
        );
        let mut last_run = Family::gauge(
            "driftless_collector_last_run_timestamp_seconds",
            "When a collector last ran, in seconds since the epoch.",
        );
        let mut ne_duration = Family::gauge(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
        );
        let mut ne_success = Family::gauge(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
        );
        let mut state_family = Family::gauge(
            "driftless_threshold_state",
            "Current threshold level of a watched value: 0 ok, 1 warning, 2 critical.",
        );
        for entry in entries.iter() {
            if !selection.wants_any(entry.parts) {
                continue;
            }
            let mut state = lock(&entry.state);
            let partial_run;
            let parts = if selection.is_all() || entry.interval.is_some() {
                self.refresh(entry, &mut state, false);
                collected.push(if selection.is_all() {
                    Arc::clone(&state.families)
                } else {
                    Arc::new(selected_families(&state.families, &state.parts, selection))
                });
                &state.parts
            } else {
                let mut out = Output::selecting(selection.clone());
                if let Err(e) = state.collector.collect(&mut out) {
                    let e = shown_error(entry.sensitive, &e);
                    tracing::warn!(collector = %entry.id, error = %e, "collector failed");
                }
                collected.push(Arc::new(std::mem::take(&mut out.families)));
                partial_run = out.parts;
                &partial_run
            };
            for part in parts.iter().filter(|p| selection.wants(p.name)) {
                let run = ne_runs.entry(part.name).or_insert((0.0, true));
                run.0 += part.seconds;
                run.1 &= part.error.is_none();
            }
            let id = entry.id.as_str();
            let ok = if state.error.is_none() { 1.0 } else { 0.0 };
            duration.push(
                labels([("collector", id), ("type", entry.type_name)]),
                state.duration,
            );
            success.push(labels([("collector", id), ("type", entry.type_name)]), ok);
            last_run.push(
                labels([("collector", id), ("type", entry.type_name)]),
                state.last_run_unix,
            );
            for (value_name, series, level) in state.thresholds.states() {
                let mut l = labels([("collector", id), ("value", value_name)]);
                for (k, v) in series {
                    let key = if k == "collector" || k == "value" {
                        format!("series_{k}").into()
                    } else {
                        k.clone()
                    };
                    l.push((key, v.clone()));
                }
                state_family.push(l, level.as_number());
            }
        }
        for (name, (seconds, ok)) in ne_runs {
            ne_duration.push(labels([("collector", name)]), seconds);
            ne_success.push(labels([("collector", name)]), if ok { 1.0 } else { 0.0 });
        }
        let mut events_total = Family::counter(
            "driftless_threshold_events_total",
            "Threshold level changes, by the level reached.",
        );
        for ((collector, value, level), count) in &lock(&self.events).totals {
            events_total.push(
                labels([
                    ("collector", collector),
                    ("level", level.as_str()),
                    ("value", value),
                ]),
                *count as f64,
            );
        }
        let mut own = vec![
            Family::gauge(
                "driftless_build_info",
                "A metric with a constant '1' value labeled by the driftless version and target.",
            )
            .with_labels(labels([
                ("arch", std::env::consts::ARCH),
                ("os", std::env::consts::OS),
                ("version", env!("CARGO_PKG_VERSION")),
            ])),
            duration,
            success,
            last_run,
            ne_duration,
            ne_success,
            state_family,
            events_total,
        ];
        own.extend(self_process_metrics(self.started_unix));
        for source in lock(&self.sources).iter() {
            own.extend(source());
        }
        Gathered { collected, own }
    }

    /// Runs the collectors with an interval that are due, so thresholds are evaluated on
    /// schedule even when nobody scrapes. Returns how long until the next one is due.
    pub fn run_due(&self) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        for entry in self.entries().iter() {
            let Some(interval) = entry.interval else {
                continue;
            };
            let mut state = lock(&entry.state);
            self.refresh(entry, &mut state, false);
            let left = state
                .last_run
                .map_or(Duration::ZERO, |l| interval.saturating_sub(l.elapsed()));
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        next
    }

    /// Threshold events recorded since sequence number `since` (0: all kept), and the number
    /// to pass next time. For the run report.
    pub fn events_since(&self, since: u64) -> (Vec<ThresholdEvent>, u64) {
        lock(&self.events).since(since)
    }

    /// Runs every collector now, whatever its interval, and says how each run went: what
    /// `execute` does with a plan's facts nodes.
    pub fn collect_once(&self) -> Vec<CollectorRun> {
        self.entries()
            .iter()
            .map(|entry| {
                let mut state = lock(&entry.state);
                self.refresh(entry, &mut state, true);
                CollectorRun {
                    samples: state.families.iter().map(|f| f.samples.len()).sum(),
                    error: state.error.clone(),
                }
            })
            .collect()
    }

    /// The task ids of the collectors, in order.
    pub fn collector_ids(&self) -> Vec<String> {
        self.entries().iter().map(|e| e.id.clone()).collect()
    }
}

/// The families of the parts `selection` wants, and those produced outside any part.
fn selected_families(families: &[Family], parts: &[PartRun], selection: &Selection) -> Vec<Family> {
    families
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            parts
                .iter()
                .find(|p| p.families.contains(i))
                .is_none_or(|p| selection.wants(p.name))
        })
        .map(|(_, f)| f.clone())
        .collect()
}

/// The standard `process_*` metrics of the exporter itself, as every Prometheus client
/// library exposes them.
fn self_process_metrics(started_unix: f64) -> Vec<Family> {
    let mut out = Vec::new();
    let mut text = String::new();
    if process::read_own_stat(&mut text).is_err() {
        return out;
    }
    let Some(stat) = process::parse_stat(&text) else {
        return out;
    };
    out.push(
        Family::counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        )
        .with_value((stat.utime + stat.stime) as f64 / procfs::clock_ticks()),
    );
    out.push(
        Family::gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )
        .with_value(stat.vsize as f64),
    );
    out.push(
        Family::gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )
        .with_value(stat.rss_pages as f64 * procfs::page_size()),
    );
    out.push(
        Family::gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )
        .with_value(started_unix.floor()),
    );
    if let Ok(fds) = process::own_open_fds() {
        out.push(
            Family::gauge("process_open_fds", "Number of open file descriptors.")
                .with_value(fds as f64),
        );
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        out.push(
            Family::gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            )
            .with_value(limit.rlim_cur as f64),
        );
    }
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0 {
        out.push(
            Family::gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
            )
            .with_value(if limit.rlim_cur == libc::RLIM_INFINITY {
                -1.0
            } else {
                limit.rlim_cur as f64
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(gathered: &Gathered) -> Vec<String> {
        gathered.families().map(|f| f.name.to_string()).collect()
    }

    fn scraped_collectors(gathered: &Gathered) -> Vec<String> {
        gathered
            .own
            .iter()
            .filter(|f| f.name == "node_scrape_collector_success")
            .flat_map(|f| f.samples.iter().map(|s| s.labels[0].1.clone()))
            .collect()
    }

    #[test]
    fn a_selection_runs_only_the_named_node_exporter_collectors() {
        let gatherer = Gatherer::from_tasks(&[]).unwrap_or_else(|e| panic!("{e:?}"));
        let only = gatherer.gather_selected(&Selection::only(["loadavg", "timex"]));
        assert_eq!(scraped_collectors(&only), ["loadavg", "timex"]);
        let collected: Vec<String> = only
            .collected
            .iter()
            .flat_map(|f| f.iter().map(|f| f.name.to_string()))
            .collect();
        assert!(
            collected.contains(&"node_load1".to_owned()),
            "{collected:?}"
        );
        assert!(
            collected.contains(&"node_timex_status".to_owned()),
            "{collected:?}"
        );
        assert!(
            collected
                .iter()
                .all(|n| n.starts_with("node_load") || n.starts_with("node_timex_")),
            "{collected:?}"
        );

        let all = gatherer.gather();
        let excluded = gatherer.gather_selected(&Selection::excluding(["cpu", "meminfo"]));
        let mut expected = scraped_collectors(&all);
        expected.retain(|c| c != "cpu" && c != "meminfo");
        assert_eq!(scraped_collectors(&excluded), expected);
        assert!(names(&all).iter().any(|n| n == "node_cpu_seconds_total"));
        assert!(
            !names(&excluded)
                .iter()
                .any(|n| n == "node_cpu_seconds_total")
        );
        assert!(
            !names(&excluded)
                .iter()
                .any(|n| n.starts_with("node_memory_"))
        );
        assert!(names(&excluded).iter().any(|n| n == "node_forks_total"));
    }

    #[test]
    fn every_part_is_a_known_node_exporter_collector() {
        for (_, spec) in default_specs() {
            for part in collectors::parts(&spec) {
                assert!(
                    collectors::NODE_EXPORTER_COLLECTORS.contains(part),
                    "{part} of {}",
                    spec.type_name()
                );
            }
        }
        let mut listed: Vec<&str> = default_specs()
            .iter()
            .flat_map(|(_, spec)| collectors::parts(spec).iter().copied())
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, collectors::NODE_EXPORTER_COLLECTORS);
    }
}
