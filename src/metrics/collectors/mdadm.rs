//! The `disk` collector's part for node_exporter's `mdadm` collector: software RAID arrays
//! from `/proc/mdstat` — `node_md_state{device,state}`, `node_md_disks{device,state}`,
//! `node_md_disks_required`, `node_md_blocks`, `node_md_blocks_synced`. No `/proc/mdstat`
//! (no md driver) is "no data", as in node_exporter.

use super::{CollectError, Output};
use crate::host::{mdstat, procfs};
use crate::metrics::family::{Family, labels};

pub fn collect(buf: &mut String, out: &mut Output) -> Result<(), CollectError> {
    procfs::read_into(mdstat::MDSTAT, buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::no_data("no /proc/mdstat")
        } else {
            CollectError(e.to_string())
        }
    })?;
    emit(buf, out)
}

fn emit(text: &str, out: &mut Output) -> Result<(), CollectError> {
    let devices =
        mdstat::parse(text).map_err(|e| CollectError(format!("error parsing mdstatus: {e}")))?;
    let mut required = Family::gauge("node_md_disks_required", "Total number of disks of device.");
    let mut disks = Family::gauge(
        "node_md_disks",
        "Number of active/failed/spare disks of device.",
    );
    let mut state = Family::gauge("node_md_state", "Indicates the state of md-device.");
    let mut blocks = Family::gauge("node_md_blocks", "Total number of blocks on device.");
    let mut synced = Family::gauge(
        "node_md_blocks_synced",
        "Number of blocks synced on device.",
    );
    for d in &devices {
        required.push(labels([("device", d.name)]), d.disks_total as f64);
        disks.push(
            labels([("device", d.name), ("state", "active")]),
            d.disks_active as f64,
        );
        disks.push(
            labels([("device", d.name), ("state", "failed")]),
            d.disks_failed as f64,
        );
        disks.push(
            labels([("device", d.name), ("state", "spare")]),
            d.disks_spare as f64,
        );
        // node_exporter's state label values and the parser's states they stand for.
        for (label, parsed) in [
            ("active", "active"),
            ("inactive", "inactive"),
            ("recovering", "recovering"),
            ("resync", "resyncing"),
            ("check", "checking"),
        ] {
            state.push(
                labels([("device", d.name), ("state", label)]),
                if d.state == parsed { 1.0 } else { 0.0 },
            );
        }
        blocks.push(labels([("device", d.name)]), d.blocks as f64);
        synced.push(labels([("device", d.name)]), d.blocks_synced as f64);
    }
    for family in [required, disks, state, blocks, synced] {
        out.family(family);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_a_recorded_mdstat() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/mdstat"
        ))
        .unwrap_or_default();
        let mut out = Output::default();
        assert!(emit(&text, &mut out).is_ok());
        let state = out.families.iter().find(|f| f.name == "node_md_state");
        let state = state.unwrap_or_else(|| panic!("no node_md_state"));
        assert_eq!(
            state.sample(&[("device", "md0"), ("state", "recovering")]),
            Some(1.0)
        );
        assert_eq!(
            state.sample(&[("device", "md6"), ("state", "resync")]),
            Some(1.0)
        );
        assert_eq!(
            state.sample(&[("device", "md3"), ("state", "active")]),
            Some(1.0)
        );
        let disks = &out.families[1];
        assert_eq!(
            disks.sample(&[("device", "md3"), ("state", "spare")]),
            Some(2.0)
        );
    }
}
