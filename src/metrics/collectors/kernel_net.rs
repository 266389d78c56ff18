//! Parts of the `network` collector for kernel networking state beyond the interfaces:
//! node_exporter's `conntrack`, `softnet`, `udp_queues` and `bonding` collectors.
//!
//! As in node_exporter, a table the kernel does not have (conntrack module not loaded, no
//! bonding driver, no IPv4 and no IPv6 UDP) is "no data": its families are absent and the
//! collector reports success 0.

use std::path::Path;

use super::{CollectError, Output};
use crate::host::{bonding, proc_net, procfs};
use crate::metrics::family::{Family, labels};

/// `node_nf_conntrack_*`.
pub fn conntrack(buf: &mut String, out: &mut Output) -> Result<(), CollectError> {
    let (entries, limit) = proc_net::conntrack_entries()
        .ok_or_else(|| CollectError::no_data("conntrack is probably not loaded"))?;
    out.family(
        Family::gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
        )
        .with_value(entries),
    );
    out.family(
        Family::gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
        )
        .with_value(limit),
    );
    procfs::read_into(proc_net::CONNTRACK_STAT, buf)
        .map_err(|e| CollectError::no_data(format_args!("conntrack statistics: {e}")))?;
    let stat = proc_net::conntrack_stat(buf)
        .map_err(|e| CollectError(format!("failed to retrieve conntrack stats: {e}")))?;
    for (name, help, value) in [
        (
            "node_nf_conntrack_stat_found",
            "Number of searched entries which were successful.",
            stat.found,
        ),
        (
            "node_nf_conntrack_stat_invalid",
            "Number of packets seen which can not be tracked.",
            stat.invalid,
        ),
        (
            "node_nf_conntrack_stat_ignore",
            "Number of packets seen which are already connected to a conntrack entry.",
            stat.ignore,
        ),
        (
            "node_nf_conntrack_stat_insert",
            "Number of entries inserted into the list.",
            stat.insert,
        ),
        (
            "node_nf_conntrack_stat_insert_failed",
            "Number of entries for which list insertion was attempted but failed.",
            stat.insert_failed,
        ),
        (
            "node_nf_conntrack_stat_drop",
            "Number of packets dropped due to conntrack failure.",
            stat.drop,
        ),
        (
            "node_nf_conntrack_stat_early_drop",
            "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
            stat.early_drop,
        ),
        (
            "node_nf_conntrack_stat_search_restart",
            "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
            stat.search_restart,
        ),
    ] {
        out.family(Family::gauge(name, help).with_value(value as f64));
    }
    Ok(())
}

/// `node_softnet_{processed,dropped,times_squeezed}_total{cpu}`.
pub fn softnet(buf: &mut String, out: &mut Output) -> Result<(), CollectError> {
    procfs::read_into(proc_net::SOFTNET_STAT, buf)
        .map_err(|e| CollectError(format!("could not get softnet statistics: {e}")))?;
    let cpus = proc_net::softnet(buf)
        .map_err(|e| CollectError(format!("could not get softnet statistics: {e}")))?;
    let mut processed = Family::counter(
        "node_softnet_processed_total",
        "Number of processed packets",
    );
    let mut dropped = Family::counter("node_softnet_dropped_total", "Number of dropped packets");
    let mut squeezed = Family::counter(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
    );
    for (cpu, stat) in cpus.iter().enumerate() {
        let cpu = cpu.to_string();
        processed.push(labels([("cpu", &cpu)]), f64::from(stat.processed));
        dropped.push(labels([("cpu", &cpu)]), f64::from(stat.dropped));
        squeezed.push(labels([("cpu", &cpu)]), f64::from(stat.time_squeezed));
    }
    out.family(processed);
    out.family(dropped);
    out.family(squeezed);
    Ok(())
}

/// `node_udp_queues{ip,queue}`: bytes queued in UDP sockets.
pub fn udp_queues(buf: &mut String, out: &mut Output) -> Result<(), CollectError> {
    let mut family = Family::gauge(
        "node_udp_queues",
        "Number of allocated memory in the kernel for UDP datagrams in bytes.",
    );
    let mut found = false;
    for (path, ip) in [(proc_net::UDP, "v4"), (proc_net::UDP6, "v6")] {
        match procfs::read_into(path, buf) {
            Ok(()) => found = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(CollectError(format!("couldn't get udp queued bytes: {e}"))),
        }
        let (tx, rx) = proc_net::udp_queues(buf)
            .map_err(|e| CollectError(format!("couldn't get udp queued bytes: {e}")))?;
        family.push(labels([("ip", ip), ("queue", "tx")]), tx as f64);
        family.push(labels([("ip", ip), ("queue", "rx")]), rx as f64);
    }
    if !found {
        return Err(CollectError::no_data("no /proc/net/udp or udp6"));
    }
    out.family(family);
    Ok(())
}

/// `node_bonding_{slaves,active}{master}`.
pub fn bonding(out: &mut Output) -> Result<(), CollectError> {
    bonding_under(Path::new(bonding::NET_CLASS), out)
}

fn bonding_under(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let bonds = bonding::bonds(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::no_data("no bonding interfaces")
        } else {
            CollectError(e.to_string())
        }
    })?;
    let mut slaves = Family::gauge(
        "node_bonding_slaves",
        "Number of configured slaves per bonding interface.",
    );
    let mut active = Family::gauge(
        "node_bonding_active",
        "Number of active slaves per bonding interface.",
    );
    for (master, configured, up) in &bonds {
        slaves.push(labels([("master", master)]), f64::from(*configured));
        active.push(labels([("master", master)]), f64::from(*up));
    }
    out.family(slaves);
    out.family(active);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bonding_families_from_a_recorded_tree() {
        let mut out = Output::default();
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/sys/class/net"
        ));
        assert!(bonding_under(root, &mut out).is_ok());
        assert_eq!(out.families[0].name, "node_bonding_slaves");
        assert_eq!(out.families[0].sample(&[("master", "bond0")]), Some(2.0));
        assert_eq!(out.families[1].sample(&[("master", "bond0")]), Some(1.0));
        assert!(bonding_under(Path::new("/nonexistent"), &mut Output::default()).is_err());
    }

    #[test]
    fn this_host_has_softnet_and_udp() {
        let mut out = Output::default();
        let mut buf = String::new();
        assert!(softnet(&mut buf, &mut out).is_ok());
        assert!(udp_queues(&mut buf, &mut out).is_ok());
        let names: Vec<&str> = out.families.iter().map(|f| f.name.as_ref()).collect();
        assert!(names.contains(&"node_softnet_processed_total"), "{names:?}");
        assert!(names.contains(&"node_udp_queues"), "{names:?}");
    }
}
