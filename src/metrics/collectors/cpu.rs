//! `cpu`: node_exporter's `cpu` and `stat` collectors, from `/proc/stat`.
//!
//! `node_cpu_seconds_total{cpu,mode}`, `node_cpu_guest_seconds_total{cpu,mode}`,
//! `node_context_switches_total`, `node_forks_total`, `node_intr_total`, `node_procs_running`,
//! `node_procs_blocked`. Threshold values: `usage_ratio` and `iowait_ratio` (all CPUs, since the
//! previous collection).

use super::{CollectError, Collector, Output};
use crate::host::procfs;
use crate::host::stat;
use crate::metrics::family::{Family, labels};

pub const VALUE_NAMES: &[&str] = &["usage_ratio", "iowait_ratio"];

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

pub struct CpuCollector {
    buf: String,
    /// Total and idle(+iowait) and iowait ticks of the `cpu` line at the previous collection.
    previous: Option<[u64; 3]>,
}

impl CpuCollector {
    pub fn new() -> Self {
        CpuCollector {
            buf: String::with_capacity(8192),
            previous: None,
        }
    }
}

impl Default for CpuCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for CpuCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        stat::read_into(&mut self.buf)?;
        let stat = stat::parse_stat(&self.buf);
        if stat.cpus.is_empty() {
            return Err(CollectError("/proc/stat lists no CPUs".into()));
        }
        let hz = procfs::clock_ticks();
        let mut seconds = Family::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        let mut guest = Family::counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        );
        for (cpu, ticks) in &stat.cpus {
            let id = cpu.to_string();
            for (mode, value) in MODES.iter().zip(ticks.iter()) {
                seconds.push(
                    labels([("cpu", id.as_str()), ("mode", mode)]),
                    *value as f64 / hz,
                );
            }
            guest.push(
                labels([("cpu", id.as_str()), ("mode", "nice")]),
                ticks[9] as f64 / hz,
            );
            guest.push(
                labels([("cpu", id.as_str()), ("mode", "user")]),
                ticks[8] as f64 / hz,
            );
        }
        out.family(seconds);
        out.family(guest);
        let scalar = |name: &'static str, help: &'static str, counter: bool, v: Option<u64>| {
            v.map(|v| {
                if counter {
                    Family::counter(name, help).with_value(v as f64)
                } else {
                    Family::gauge(name, help).with_value(v as f64)
                }
            })
        };
        for family in [
            scalar(
                "node_context_switches_total",
                "Total number of context switches.",
                true,
                stat.ctxt,
            ),
            scalar(
                "node_forks_total",
                "Total number of forks.",
                true,
                stat.processes,
            ),
            scalar(
                "node_intr_total",
                "Total number of interrupts serviced.",
                true,
                stat.intr,
            ),
            scalar(
                "node_procs_running",
                "Number of processes in runnable state.",
                false,
                stat.procs_running,
            ),
            scalar(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                false,
                stat.procs_blocked,
            ),
        ]
        .into_iter()
        .flatten()
        {
            out.family(family);
        }
        if let Some(total) = stat.total {
            let all: u64 = total[..8].iter().sum();
            let idle = total[3] + total[4];
            let now = [all, idle, total[4]];
            let (d_all, d_idle, d_iowait) = match self.previous {
                Some(prev) if now[0] > prev[0] => (
                    (now[0] - prev[0]) as f64,
                    now[1].saturating_sub(prev[1]) as f64,
                    now[2].saturating_sub(prev[2]) as f64,
                ),
                _ => (now[0] as f64, now[1] as f64, now[2] as f64),
            };
            if d_all > 0.0 {
                out.watch("usage_ratio", Vec::new(), 1.0 - d_idle / d_all);
                out.watch("iowait_ratio", Vec::new(), d_iowait / d_all);
            }
            self.previous = Some(now);
        }
        Ok(())
    }
}
