//! Kernel networking tables under `/proc/net` that node_exporter reports besides the
//! interface counters: the ARP table, connection-tracking statistics, per-CPU softnet
//! statistics and the UDP socket queues. Each parser takes the file's text, so that it is read
//! with one `read(2)` into a reused buffer and tested from recorded text.

use super::procfs;

pub const ARP: &str = "/proc/net/arp";
pub const CONNTRACK_COUNT: &str = "/proc/sys/net/netfilter/nf_conntrack_count";
pub const CONNTRACK_MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";
pub const CONNTRACK_STAT: &str = "/proc/net/stat/nf_conntrack";
pub const SOFTNET_STAT: &str = "/proc/net/softnet_stat";
pub const UDP: &str = "/proc/net/udp";
pub const UDP6: &str = "/proc/net/udp6";

/// ARP entries per device, in the order devices first appear in `/proc/net/arp`.
pub fn arp_entries(text: &str) -> Result<Vec<(&str, u32)>, String> {
    let mut counts: Vec<(&str, u32)> = Vec::new();
    for line in text.lines() {
        let columns: Vec<&str> = line.split_ascii_whitespace().collect();
        if columns.is_empty() {
            continue;
        }
        if columns.len() < 6 {
            return Err("unexpected ARP table format".into());
        }
        if columns[0] == "IP" {
            continue;
        }
        // The device is the last column.
        let device = columns[columns.len() - 1];
        match counts.iter_mut().find(|(d, _)| *d == device) {
            Some((_, n)) => *n += 1,
            None => counts.push((device, 1)),
        }
    }
    Ok(counts)
}

/// Connection-tracking statistics summed over CPUs (`/proc/net/stat/nf_conntrack`), the
/// columns node_exporter reports.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ConntrackStat {
    pub found: u64,
    pub invalid: u64,
    pub ignore: u64,
    pub insert: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub search_restart: u64,
}

/// Parses `/proc/net/stat/nf_conntrack`: a header naming the columns, then one line of hex
/// numbers per CPU. Columns are found by name, since kernels renamed some (`searched` became
/// `clashres`).
pub fn conntrack_stat(text: &str) -> Result<ConntrackStat, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty conntrack statistics")?
        .split_ascii_whitespace()
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let wanted = [
        column("found"),
        column("invalid"),
        column("ignore"),
        column("insert"),
        column("insert_failed"),
        column("drop"),
        column("early_drop"),
        column("search_restart"),
    ];
    let mut sums = [0u64; 8];
    for line in lines {
        let values: Vec<&str> = line.split_ascii_whitespace().collect();
        if values.is_empty() {
            continue;
        }
        if values.len() != header.len() {
            return Err(format!(
                "conntrack statistics line has {} columns, the header {}",
                values.len(),
                header.len()
            ));
        }
        for (sum, index) in sums.iter_mut().zip(wanted) {
            if let Some(i) = index {
                let v = u64::from_str_radix(values[i], 16)
                    .map_err(|_| format!("invalid conntrack statistic {:?}", values[i]))?;
                *sum = sum.saturating_add(v);
            }
        }
    }
    let [
        found,
        invalid,
        ignore,
        insert,
        insert_failed,
        drop,
        early_drop,
        search_restart,
    ] = sums;
    Ok(ConntrackStat {
        found,
        invalid,
        ignore,
        insert,
        insert_failed,
        drop,
        early_drop,
        search_restart,
    })
}

/// One CPU's line of `/proc/net/softnet_stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softnet {
    pub processed: u32,
    pub dropped: u32,
    pub time_squeezed: u32,
}

/// Parses `/proc/net/softnet_stat`: per CPU (in line order, which is how node_exporter 1.5
/// numbers them), at least 9 hex columns.
pub fn softnet(text: &str) -> Result<Vec<Softnet>, String> {
    let hex =
        |s: &str| u32::from_str_radix(s, 16).map_err(|_| format!("invalid softnet value {s:?}"));
    let mut out = Vec::new();
    for line in text.lines() {
        let columns: Vec<&str> = line.split_ascii_whitespace().collect();
        if columns.is_empty() {
            continue;
        }
        if columns.len() < 9 {
            return Err(format!(
                "softnet_stat line has {} columns, expected at least 9",
                columns.len()
            ));
        }
        out.push(Softnet {
            processed: hex(columns[0])?,
            dropped: hex(columns[1])?,
            time_squeezed: hex(columns[2])?,
        });
    }
    Ok(out)
}

/// The bytes queued in all UDP sockets of `/proc/net/udp{,6}`: (transmit, receive).
pub fn udp_queues(text: &str) -> Result<(u64, u64), String> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let Some(queues) = line.split_ascii_whitespace().nth(4) else {
            continue;
        };
        let (t, r) = queues
            .split_once(':')
            .ok_or_else(|| format!("invalid UDP queue column {queues:?}"))?;
        let parse = |s: &str| {
            u64::from_str_radix(s, 16).map_err(|_| format!("invalid UDP queue length {s:?}"))
        };
        tx = tx.saturating_add(parse(t)?);
        rx = rx.saturating_add(parse(r)?);
    }
    Ok((tx, rx))
}

/// The connection-tracking table's size and limit; `None` when the module is not loaded.
pub fn conntrack_entries() -> Option<(f64, f64)> {
    Some((
        procfs::read_number(CONNTRACK_COUNT)?,
        procfs::read_number(CONNTRACK_MAX)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_counts_per_device() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
                    192.0.2.2        0x1         0x2         02:fc:00:00:00:06     *        eth0\n\
                    10.0.0.1         0x1         0x2         02:fc:00:00:00:07     *        br0\n";
        assert_eq!(arp_entries(text), Ok(vec![("eth0", 2), ("br0", 1)]));
        assert!(arp_entries("garbage line\n").is_err());
    }

    #[test]
    fn conntrack_columns_by_name() {
        let text = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
                    00000000  00000000 00000002 00000000 00000010 00000001 00000000 00000000 00000003 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000004\n\
                    00000000  00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000005 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let stat = conntrack_stat(text).unwrap_or_default();
        assert_eq!(stat.found, 3);
        assert_eq!(stat.invalid, 16);
        assert_eq!(stat.ignore, 1);
        assert_eq!(stat.insert, 4);
        assert_eq!(stat.drop, 5);
        assert_eq!(stat.search_restart, 4);
        assert!(conntrack_stat("entries found\n1\n").is_err());
    }

    #[test]
    fn softnet_and_udp_parse() {
        let text = "000c2260 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                    000cfe80 00000002 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000\n";
        let cpus = softnet(text).unwrap_or_default();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].processed, 0xc2260);
        assert_eq!(cpus[1].dropped, 2);
        assert_eq!(cpus[1].time_squeezed, 3);
        assert!(softnet("0 1 2\n").is_err());
        let udp = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                   1: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1 2 0 0\n\
                   2: 00000000:0045 00000000:0000 07 00000001:00000000 00:00000000 00000000     0        0 1 2 0 0\n";
        assert_eq!(udp_queues(udp), Ok((0x11, 0x200)));
    }
}
