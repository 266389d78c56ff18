//! CPU frequencies from `/sys/devices/system/cpu/cpu<N>/cpufreq` (kHz in sysfs) and the
//! scheduler's per-CPU statistics from `/proc/schedstat`, as node_exporter's `cpufreq` and
//! `schedstat` collectors read them.

use std::io;
use std::path::Path;

use super::procfs;

pub const CPU_ROOT: &str = "/sys/devices/system/cpu";
pub const SCHEDSTAT: &str = "/proc/schedstat";

/// The cpufreq attributes node_exporter reports, in kHz; `None` when the file is absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuFreq {
    /// The CPU number.
    pub cpu: String,
    pub cpuinfo_cur: Option<f64>,
    pub cpuinfo_min: Option<f64>,
    pub cpuinfo_max: Option<f64>,
    pub scaling_cur: Option<f64>,
    pub scaling_min: Option<f64>,
    pub scaling_max: Option<f64>,
}

/// Every CPU under `root` (normally [`CPU_ROOT`]) that has a `cpufreq` directory, by number.
pub fn cpufreq(root: &Path) -> io::Result<Vec<CpuFreq>> {
    let mut cpus = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cpu"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let dir = entry.path().join("cpufreq");
        if !dir.is_dir() {
            continue;
        }
        let read = |file: &str| procfs::read_number(dir.join(file));
        cpus.push(CpuFreq {
            cpu: number.to_owned(),
            cpuinfo_cur: read("cpuinfo_cur_freq"),
            cpuinfo_min: read("cpuinfo_min_freq"),
            cpuinfo_max: read("cpuinfo_max_freq"),
            scaling_cur: read("scaling_cur_freq"),
            scaling_min: read("scaling_min_freq"),
            scaling_max: read("scaling_max_freq"),
        });
    }
    cpus.sort_by_key(|c| c.cpu.parse::<u32>().unwrap_or(u32::MAX));
    Ok(cpus)
}

/// One CPU's line of `/proc/schedstat`: (cpu, running ns, waiting ns, timeslices).
pub type SchedCpu<'a> = (&'a str, u64, u64, u64);

/// The `cpu<N>` lines of `/proc/schedstat`: the last three of their nine numbers.
pub fn schedstat(text: &str) -> Result<Vec<SchedCpu<'_>>, String> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(cpu) = fields
            .next()
            .and_then(|f| f.strip_prefix("cpu"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let numbers: Vec<u64> = fields
            .map(|f| {
                f.parse()
                    .map_err(|_| format!("invalid schedstat line {line:?}"))
            })
            .collect::<Result<_, _>>()?;
        if numbers.len() < 9 {
            return Err(format!("invalid schedstat line {line:?}"));
        }
        cpus.push((cpu, numbers[6], numbers[7], numbers[8]));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_from_a_recorded_tree() {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/sys/devices/system/cpu"
        ));
        let cpus = cpufreq(root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].cpu, "0");
        assert_eq!(cpus[0].cpuinfo_max, Some(3_600_000.0));
        assert_eq!(cpus[0].scaling_cur, Some(1_200_000.0));
        assert_eq!(cpus[1].cpuinfo_cur, None);
    }

    #[test]
    fn schedstat_lines() {
        let text = "version 15\ntimestamp 4294990000\n\
                    cpu0 0 0 0 0 0 0 2045936778163039 343796328169361 4767485306\n\
                    domain0 00000000,00000003 212499247 210112015 1861015\n\
                    cpu1 0 0 0 0 0 0 1 2 3\n";
        assert_eq!(
            schedstat(text),
            Ok(vec![
                ("0", 2045936778163039, 343796328169361, 4767485306),
                ("1", 1, 2, 3)
            ])
        );
        assert!(schedstat("cpu0 1 2\n").is_err());
    }
}
