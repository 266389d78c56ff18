//! `cpu`: node_exporter's `cpu` and `stat` collectors, from one read of `/proc/stat`, and its
//! `cpufreq` (`/sys/devices/system/cpu/cpu<N>/cpufreq`) and `schedstat` (`/proc/schedstat`)
//! collectors.
//!
//! `node_cpu_seconds_total{cpu,mode}`, `node_cpu_guest_seconds_total{cpu,mode}`,
//! `node_context_switches_total`, `node_forks_total`, `node_intr_total`, `node_procs_running`,
//! `node_procs_blocked`, `node_boot_time_seconds`, `node_cpu_{,scaling_}frequency*_hertz{cpu}`,
//! `node_schedstat_*{cpu}`. Threshold values: `usage_ratio` and `iowait_ratio` (all CPUs, since the
//! previous collection).

use std::path::Path;

use super::{CollectError, Collector, Output};
use crate::host::{cpufreq, procfs, stat};
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

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &["cpu", "stat", "cpufreq", "schedstat"];

impl Collector for CpuCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        // `cpu` and `stat` share one read of /proc/stat.
        let stat = if out.wants("cpu") || out.wants("stat") {
            stat::read_into(&mut self.buf).map(|()| stat::parse_stat(&self.buf))
        } else {
            Ok(stat::Stat::default())
        };
        out.part("cpu", |out| {
            let stat = stat.as_ref().map_err(|e| CollectError(e.to_string()))?;
            self.cpu(stat, out)
        });
        out.part("stat", |out| {
            let stat = stat.as_ref().map_err(|e| CollectError(e.to_string()))?;
            emit_stat(stat, out);
            Ok(())
        });
        out.part("cpufreq", |out| cpufreq(Path::new(cpufreq::CPU_ROOT), out));
        out.part("schedstat", |out| schedstat(&mut self.buf, out));
        Ok(())
    }
}

impl CpuCollector {
    fn cpu(&mut self, stat: &stat::Stat, out: &mut Output) -> Result<(), CollectError> {
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

/// node_exporter's `stat`: the counters of /proc/stat besides CPU time, and the boot time.
fn emit_stat(stat: &stat::Stat, out: &mut Output) {
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
    if let Some(boot) = stat.btime {
        out.family(
            Family::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
                .with_value(boot as f64),
        );
    }
}

/// node_exporter's `cpufreq`: `node_cpu_{,scaling_}frequency{,_min,_max}_hertz{cpu}`.
fn cpufreq(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let cpus = cpufreq::cpufreq(root)?;
    type Field = fn(&cpufreq::CpuFreq) -> Option<f64>;
    let families: [(&'static str, &'static str, Field); 6] = [
        (
            "node_cpu_frequency_hertz",
            "Current cpu thread frequency in hertz.",
            |c| c.cpuinfo_cur,
        ),
        (
            "node_cpu_frequency_min_hertz",
            "Minimum cpu thread frequency in hertz.",
            |c| c.cpuinfo_min,
        ),
        (
            "node_cpu_frequency_max_hertz",
            "Maximum cpu thread frequency in hertz.",
            |c| c.cpuinfo_max,
        ),
        (
            "node_cpu_scaling_frequency_hertz",
            "Current scaled CPU thread frequency in hertz.",
            |c| c.scaling_cur,
        ),
        (
            "node_cpu_scaling_frequency_min_hertz",
            "Minimum scaled CPU thread frequency in hertz.",
            |c| c.scaling_min,
        ),
        (
            "node_cpu_scaling_frequency_max_hertz",
            "Maximum scaled CPU thread frequency in hertz.",
            |c| c.scaling_max,
        ),
    ];
    for (name, help, field) in families {
        let mut family = Family::gauge(name, help);
        for cpu in &cpus {
            // sysfs says kHz.
            if let Some(khz) = field(cpu) {
                family.push(labels([("cpu", &cpu.cpu)]), khz * 1000.0);
            }
        }
        out.family(family);
    }
    Ok(())
}

/// node_exporter's `schedstat`: no `/proc/schedstat` (a kernel without CONFIG_SCHEDSTATS) is
/// "no data".
fn schedstat(buf: &mut String, out: &mut Output) -> Result<(), CollectError> {
    procfs::read_into(cpufreq::SCHEDSTAT, buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::no_data("no /proc/schedstat")
        } else {
            CollectError(e.to_string())
        }
    })?;
    let cpus = cpufreq::schedstat(buf).map_err(CollectError)?;
    let mut running = Family::counter(
        "node_schedstat_running_seconds_total",
        "Number of seconds CPU spent running a process.",
    );
    let mut waiting = Family::counter(
        "node_schedstat_waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
    );
    let mut timeslices = Family::counter(
        "node_schedstat_timeslices_total",
        "Number of timeslices executed by CPU.",
    );
    for (cpu, run_ns, wait_ns, slices) in cpus {
        running.push(labels([("cpu", cpu)]), run_ns as f64 / 1e9);
        waiting.push(labels([("cpu", cpu)]), wait_ns as f64 / 1e9);
        timeslices.push(labels([("cpu", cpu)]), slices as f64);
    }
    out.family(running);
    out.family(waiting);
    out.family(timeslices);
    Ok(())
}
