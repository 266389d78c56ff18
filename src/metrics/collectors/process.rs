//! `process`: processes by exact name (`comm`) or by a regular expression over the command
//! line; per group: count, CPU seconds, memory, threads.
//!
//! node_exporter has no per-process metrics; the names are those of the widely used
//! process-exporter, so its dashboards work: `namedprocess_namegroup_num_procs{groupname}`,
//! `namedprocess_namegroup_cpu_seconds_total{groupname,mode="user"|"system"}`,
//! `namedprocess_namegroup_memory_bytes{groupname,memtype="resident"|"virtual"}`,
//! `namedprocess_namegroup_num_threads{groupname}`. A group is one listed name, or the task id
//! for `pattern`. CPU seconds are the sum over the group's live processes, so the value drops
//! when a process exits (Prometheus treats that as a counter reset).
//!
//! Threshold values, per group: `count`, `cpu_seconds`, `rss_bytes`.

use regex::Regex;

use super::{CollectError, Collector, Output};
use crate::host::{process, procfs};
use crate::metrics::family::{Family, labels};
use crate::model::facts::ProcessCollector as ProcessConfig;

pub const VALUE_NAMES: &[&str] = &["count", "cpu_seconds", "rss_bytes"];

pub struct ProcessCollector {
    names: Vec<String>,
    pattern: Option<(String, Regex)>,
    buf: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    count: u64,
    user: f64,
    system: f64,
    rss: f64,
    vsize: f64,
    threads: f64,
}

impl ProcessCollector {
    pub fn new(id: &str, config: &ProcessConfig) -> Result<Self, String> {
        let pattern = match &config.pattern {
            Some(p) => Some((
                id.to_owned(),
                Regex::new(&p.value).map_err(|e| format!("invalid pattern: {e}"))?,
            )),
            None => None,
        };
        if config.names.is_empty() && pattern.is_none() {
            return Err("a process collector needs `names` or `pattern`".into());
        }
        Ok(ProcessCollector {
            names: config.names.clone(),
            pattern,
            buf: String::with_capacity(1024),
        })
    }
}

impl Collector for ProcessCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let mut by_name = vec![Totals::default(); self.names.len()];
        let mut by_pattern = Totals::default();
        let hz = procfs::clock_ticks();
        let page = procfs::page_size();
        let mut cmdline = String::new();
        for pid in process::pids()? {
            // A process may exit between listing and reading: skip it.
            if process::read_stat(pid, &mut self.buf).is_err() {
                continue;
            }
            let Some(stat) = process::parse_stat(&self.buf) else {
                continue;
            };
            let add = |t: &mut Totals| {
                t.count += 1;
                t.user += stat.utime as f64 / hz;
                t.system += stat.stime as f64 / hz;
                t.rss += stat.rss_pages as f64 * page;
                t.vsize += stat.vsize as f64;
                t.threads += stat.num_threads as f64;
            };
            for (wanted, totals) in self.names.iter().zip(by_name.iter_mut()) {
                if wanted == stat.comm {
                    add(totals);
                }
            }
            if let Some((_, regex)) = &self.pattern {
                let Ok(raw) = process::cmdline(pid) else {
                    continue;
                };
                cmdline.clear();
                for (i, arg) in raw.split(|b| *b == 0).filter(|a| !a.is_empty()).enumerate() {
                    if i > 0 {
                        cmdline.push(' ');
                    }
                    cmdline.push_str(&String::from_utf8_lossy(arg));
                }
                // Kernel threads have no command line; match their name instead.
                let subject = if cmdline.is_empty() {
                    stat.comm
                } else {
                    &cmdline
                };
                if regex.is_match(subject) {
                    add(&mut by_pattern);
                }
            }
        }
        let mut groups: Vec<(&str, Totals)> =
            self.names.iter().map(String::as_str).zip(by_name).collect();
        if let Some((group, _)) = &self.pattern {
            groups.push((group, by_pattern));
        }
        let mut num_procs = Family::gauge(
            "namedprocess_namegroup_num_procs",
            "Number of processes in this group.",
        );
        let mut cpu = Family::counter(
            "namedprocess_namegroup_cpu_seconds_total",
            "CPU seconds used by the live processes of this group.",
        );
        let mut memory = Family::gauge(
            "namedprocess_namegroup_memory_bytes",
            "Memory of the processes in this group, by type.",
        );
        let mut threads = Family::gauge(
            "namedprocess_namegroup_num_threads",
            "Number of threads of the processes in this group.",
        );
        let mut seen = std::collections::HashSet::new();
        for (group, t) in groups {
            if !seen.insert(group) {
                continue;
            }
            num_procs.push(labels([("groupname", group)]), t.count as f64);
            cpu.push(labels([("groupname", group), ("mode", "user")]), t.user);
            cpu.push(labels([("groupname", group), ("mode", "system")]), t.system);
            memory.push(
                labels([("groupname", group), ("memtype", "resident")]),
                t.rss,
            );
            memory.push(
                labels([("groupname", group), ("memtype", "virtual")]),
                t.vsize,
            );
            threads.push(labels([("groupname", group)]), t.threads);
            out.watch("count", labels([("groupname", group)]), t.count as f64);
            out.watch(
                "cpu_seconds",
                labels([("groupname", group)]),
                t.user + t.system,
            );
            out.watch("rss_bytes", labels([("groupname", group)]), t.rss);
        }
        for family in [num_procs, cpu, memory, threads] {
            out.family(family);
        }
        Ok(())
    }
}
