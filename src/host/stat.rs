//! `/proc/stat`: CPU time per mode, context switches, forks, interrupts, boot time.

use std::io;

use super::procfs;

/// Reads `/proc/stat` into `buf` (cleared first).
pub fn read_into(buf: &mut String) -> io::Result<()> {
    procfs::read_into("/proc/stat", buf)
}

/// The parts of `/proc/stat` driftless uses. CPU tick arrays hold user, nice, system,
/// idle, iowait, irq, softirq, steal, guest, guest_nice.
#[derive(Debug, Default, PartialEq)]
pub struct Stat {
    pub total: Option<[u64; 10]>,
    pub cpus: Vec<(u32, [u64; 10])>,
    pub ctxt: Option<u64>,
    pub btime: Option<u64>,
    pub processes: Option<u64>,
    pub intr: Option<u64>,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
}

pub fn parse_stat(text: &str) -> Stat {
    let mut stat = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(cpu) = key.strip_prefix("cpu") {
            let mut ticks = [0u64; 10];
            for (slot, field) in ticks.iter_mut().zip(fields) {
                *slot = procfs::parse_u64(field).unwrap_or(0);
            }
            if cpu.is_empty() {
                stat.total = Some(ticks);
            } else if let Ok(n) = cpu.parse::<u32>() {
                stat.cpus.push((n, ticks));
            }
            continue;
        }
        let first = fields.next().and_then(procfs::parse_u64);
        match key {
            "ctxt" => stat.ctxt = first,
            "btime" => stat.btime = first,
            "processes" => stat.processes = first,
            "intr" => stat.intr = first,
            "procs_running" => stat.procs_running = first,
            "procs_blocked" => stat.procs_blocked = first,
            _ => {}
        }
    }
    stat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses() {
        let text = "cpu  10 0 5 100 2 0 1 0 0 0\ncpu0 5 0 2 50 1 0 1 0 3 4\ncpu1 5 0 3 50 1 0 0 0 0 0\n\
                    intr 1234 0 1\nctxt 99\nbtime 1700000000\nprocesses 42\nprocs_running 3\nprocs_blocked 1\n";
        let stat = parse_stat(text);
        assert_eq!(stat.cpus.len(), 2);
        assert_eq!(stat.cpus[0].1[8], 3);
        assert_eq!(stat.intr, Some(1234));
        assert_eq!(stat.btime, Some(1_700_000_000));
        assert_eq!(stat.procs_blocked, Some(1));
    }
}
