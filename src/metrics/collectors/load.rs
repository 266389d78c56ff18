//! `load`: node_exporter's `loadavg` and `pressure` collectors.
//!
//! `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`; the pressure stall counters
//! `node_pressure_{cpu,io,memory}_{waiting,stalled}_seconds_total` from `/proc/pressure` when
//! the kernel has it. Threshold values: `load1`, `load5`, `load15`, `load1_per_cpu`.

use super::{CollectError, Collector, Output};
use crate::host::procfs;
use crate::metrics::family::Family;

pub const VALUE_NAMES: &[&str] = &["load1", "load5", "load15", "load1_per_cpu"];

pub struct LoadCollector {
    buf: String,
    cpus: f64,
}

impl LoadCollector {
    pub fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        LoadCollector {
            buf: String::with_capacity(256),
            cpus: cpus as f64,
        }
    }
}

impl Default for LoadCollector {
    fn default() -> Self {
        Self::new()
    }
}

pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut parts = text.split_ascii_whitespace();
    let mut next = || parts.next()?.parse::<f64>().ok();
    Some([next()?, next()?, next()?])
}

/// The `total=` microseconds of the `some` and `full` lines of a `/proc/pressure/*` file.
fn parse_pressure(text: &str) -> (Option<f64>, Option<f64>) {
    let total = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))?
            .split_whitespace()
            .find_map(|f| f.strip_prefix("total="))?
            .parse::<f64>()
            .ok()
    };
    (total("some "), total("full "))
}

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &["loadavg", "pressure"];

impl Collector for LoadCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("loadavg", |out| self.loadavg(out));
        out.part("pressure", |out| self.pressure(out));
        Ok(())
    }
}

impl LoadCollector {
    fn loadavg(&mut self, out: &mut Output) -> Result<(), CollectError> {
        procfs::read_into("/proc/loadavg", &mut self.buf)?;
        let [one, five, fifteen] = parse_loadavg(&self.buf)
            .ok_or_else(|| CollectError("cannot parse /proc/loadavg".into()))?;
        out.family(Family::gauge("node_load1", "1m load average.").with_value(one));
        out.family(Family::gauge("node_load5", "5m load average.").with_value(five));
        out.family(Family::gauge("node_load15", "15m load average.").with_value(fifteen));
        out.watch("load1", Vec::new(), one);
        out.watch("load5", Vec::new(), five);
        out.watch("load15", Vec::new(), fifteen);
        out.watch("load1_per_cpu", Vec::new(), one / self.cpus.max(1.0));
        Ok(())
    }

    /// node_exporter's `pressure`: no data (success 0) when the kernel has no PSI.
    fn pressure(&mut self, out: &mut Output) -> Result<(), CollectError> {
        // (resource, "some" name and help, "full" name and help), node_exporter's texts.
        type Named = (&'static str, &'static str);
        const PRESSURE: &[(&str, &str, &str, Option<Named>)] = &[
            (
                "cpu",
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
                None,
            ),
            (
                "io",
                "node_pressure_io_waiting_seconds_total",
                "Total time in seconds that processes have waited due to IO congestion",
                Some((
                    "node_pressure_io_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to IO congestion",
                )),
            ),
            (
                "memory",
                "node_pressure_memory_waiting_seconds_total",
                "Total time in seconds that processes have waited for memory",
                Some((
                    "node_pressure_memory_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to memory congestion",
                )),
            ),
        ];
        for (resource, some_name, some_help, full) in PRESSURE {
            procfs::read_into(format!("/proc/pressure/{resource}"), &mut self.buf).map_err(
                |e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        CollectError::no_data(
                            "pressure information is unavailable (a kernel without PSI)",
                        )
                    } else {
                        CollectError(e.to_string())
                    }
                },
            )?;
            let (some, full_value) = parse_pressure(&self.buf);
            if let Some(us) = some {
                out.family(Family::counter(*some_name, *some_help).with_value(us / 1e6));
            }
            if let (Some((name, help)), Some(us)) = (full, full_value) {
                out.family(Family::counter(*name, *help).with_value(us / 1e6));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_loadavg("0.50 0.25 0.10 1/123 4567\n"),
            Some([0.5, 0.25, 0.1])
        );
        let p = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=250\n";
        assert_eq!(parse_pressure(p), (Some(1_500_000.0), Some(250.0)));
    }
}
