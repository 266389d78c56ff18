//! Intel RAPL energy counters under `/sys/class/powercap` and NVMe controllers under
//! `/sys/class/nvme`, as node_exporter's `rapl` and `nvme` collectors (through its procfs
//! library) read them.

use std::io;
use std::path::Path;

use super::procfs;

pub const POWERCAP: &str = "/sys/class/powercap";
pub const NVME: &str = "/sys/class/nvme";

/// One RAPL zone: its name (`package`, `core`, `dram`, …), index, directory and energy.
#[derive(Debug, Clone, PartialEq)]
pub struct RaplZone {
    pub name: String,
    pub index: u32,
    pub path: String,
    pub microjoules: f64,
}

/// The zones under `root` (normally [`POWERCAP`]): every subdirectory with a `name`, in
/// name order. A name `package-1` is zone `package` index 1; a repeated name without an
/// index is numbered by its occurrences.
pub fn rapl_zones(root: &Path) -> io::Result<Vec<RaplZone>> {
    let mut entries: Vec<_> = std::fs::read_dir(root)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut used: Vec<(String, u32)> = Vec::new();
    let mut zones = Vec::new();
    for entry in entries {
        let dir = entry.path();
        let Some(raw) = procfs::read_trimmed(dir.join("name")) else {
            continue;
        };
        let (index, name) = match raw.split_once('-') {
            Some((base, n)) if !n.contains('-') && n.parse::<u32>().is_ok() => {
                (n.parse().unwrap_or(0), base.to_owned())
            }
            _ => (
                used.iter().find(|(n, _)| *n == raw).map_or(0, |(_, c)| *c),
                raw,
            ),
        };
        let microjoules = procfs::read_number(dir.join("energy_uj")).ok_or_else(|| {
            io::Error::other(format!("couldn't read {}", dir.join("energy_uj").display()))
        })?;
        match used.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count = index + 1,
            None => used.push((name.clone(), index + 1)),
        }
        zones.push(RaplZone {
            name,
            index,
            path: dir.display().to_string(),
            microjoules,
        });
    }
    Ok(zones)
}

/// One NVMe controller: (name, firmware revision, model, serial, state).
pub type NvmeDevice = (String, String, String, String, String);

/// The controllers under `root` (normally [`NVME`]), in name order; a controller whose
/// attributes do not read is an error, as in node_exporter.
pub fn nvme_devices(root: &Path) -> io::Result<Vec<NvmeDevice>> {
    let mut entries: Vec<_> = std::fs::read_dir(root)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut devices = Vec::new();
    for entry in entries {
        let dir = entry.path();
        let read = |file: &str| {
            procfs::read_trimmed(dir.join(file)).ok_or_else(|| {
                io::Error::other(format!("failed to read {}", dir.join(file).display()))
            })
        };
        devices.push((
            entry.file_name().to_string_lossy().into_owned(),
            read("firmware_rev")?,
            read("model")?,
            read("serial")?,
            read("state")?,
        ));
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/host/sys/class")
            .join(path)
    }

    #[test]
    fn rapl_zones_are_named_and_indexed_as_node_exporter_does() {
        let zones = rapl_zones(&data("powercap")).unwrap_or_else(|e| panic!("{e}"));
        let named: Vec<(&str, u32, f64)> = zones
            .iter()
            .map(|z| (z.name.as_str(), z.index, z.microjoules))
            .collect();
        assert_eq!(
            named,
            [
                ("package", 0, 240422366267.0),
                ("dram", 0, 24422366267.0),
                ("dram", 1, 2.0)
            ]
        );
        assert!(zones[0].path.ends_with("/powercap/intel-rapl:0"));
    }

    #[test]
    fn nvme_devices_from_a_recorded_tree() {
        assert_eq!(
            nvme_devices(&data("nvme")).ok(),
            Some(vec![(
                "nvme0".to_owned(),
                "1B2QEXP7".to_owned(),
                "Samsung SSD 970 PRO 512GB".to_owned(),
                "S680HF8N190894I".to_owned(),
                "live".to_owned()
            )])
        );
        assert!(nvme_devices(Path::new("/nonexistent")).is_err());
    }
}
