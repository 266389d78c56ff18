//! Thermal zones and cooling devices under `/sys/class/thermal`, and the memory controllers'
//! error counts under `/sys/devices/system/edac/mc`, as node_exporter's `thermal_zone` and
//! `edac` collectors read them.

use std::io;
use std::path::Path;

use super::procfs;

pub const THERMAL: &str = "/sys/class/thermal";
pub const EDAC_MC: &str = "/sys/devices/system/edac/mc";

/// A thermal zone: (zone number, type, temperature in millidegrees Celsius).
pub type Zone = (String, String, f64);
/// A cooling device: (device number, type, current state, maximum state).
pub type CoolingDevice = (String, String, f64, f64);

/// The entries of `root` named `<prefix><number>`, with their numbers, sorted by number.
fn numbered(root: &Path, prefix: &str) -> io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut out: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let number = name.strip_prefix(prefix)?;
            (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (number.to_owned(), e.path()))
        })
        .collect();
    out.sort_by_key(|(n, _)| n.parse::<u64>().unwrap_or(u64::MAX));
    Ok(out)
}

/// The thermal zones under `root` (normally [`THERMAL`]) whose type and temperature read;
/// like node_exporter's procfs library, a zone whose sensor fails to read is skipped.
pub fn zones(root: &Path) -> io::Result<Vec<Zone>> {
    let mut out = Vec::new();
    for (number, dir) in numbered(root, "thermal_zone")? {
        let (Some(kind), Some(temp)) = (
            procfs::read_trimmed(dir.join("type")),
            procfs::read_number(dir.join("temp")),
        ) else {
            continue;
        };
        out.push((number, kind, temp));
    }
    Ok(out)
}

/// The cooling devices under `root` (normally [`THERMAL`]).
pub fn cooling_devices(root: &Path) -> io::Result<Vec<CoolingDevice>> {
    let mut out = Vec::new();
    for (number, dir) in numbered(root, "cooling_device")? {
        let (Some(kind), Some(cur), Some(max)) = (
            procfs::read_trimmed(dir.join("type")),
            procfs::read_number(dir.join("cur_state")),
            procfs::read_number(dir.join("max_state")),
        ) else {
            continue;
        };
        out.push((number, kind, cur, max));
    }
    Ok(out)
}

/// One memory controller's error counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryController {
    pub controller: String,
    pub correctable: f64,
    pub uncorrectable: f64,
    /// Errors not attributed to a csrow.
    pub correctable_noinfo: f64,
    pub uncorrectable_noinfo: f64,
    /// (csrow, correctable, uncorrectable).
    pub csrows: Vec<(String, f64, f64)>,
}

/// The memory controllers under `root` (normally [`EDAC_MC`]); none when EDAC is absent. A
/// counter that does not read is an error naming it, as in node_exporter.
pub fn memory_controllers(root: &Path) -> io::Result<Vec<MemoryController>> {
    let controllers = match numbered(root, "mc") {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let count = |path: std::path::PathBuf| {
        procfs::read_number(&path)
            .ok_or_else(|| io::Error::other(format!("couldn't read {}", path.display())))
    };
    let mut out = Vec::new();
    for (number, dir) in controllers {
        let mut csrows = Vec::new();
        for (row, row_dir) in numbered(&dir, "csrow")? {
            csrows.push((
                row,
                count(row_dir.join("ce_count"))?,
                count(row_dir.join("ue_count"))?,
            ));
        }
        out.push(MemoryController {
            controller: number,
            correctable: count(dir.join("ce_count"))?,
            uncorrectable: count(dir.join("ue_count"))?,
            correctable_noinfo: count(dir.join("ce_noinfo_count"))?,
            uncorrectable_noinfo: count(dir.join("ue_noinfo_count"))?,
            csrows,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/host/sys")
            .join(path)
    }

    #[test]
    fn zones_and_cooling_devices_from_a_recorded_tree() {
        let root = data("class/thermal");
        assert_eq!(
            zones(&root).ok(),
            Some(vec![
                ("0".to_owned(), "acpitz".to_owned(), 27800.0),
                ("1".to_owned(), "x86_pkg_temp".to_owned(), 44000.0)
            ])
        );
        assert_eq!(
            cooling_devices(&root).ok(),
            Some(vec![("0".to_owned(), "Processor".to_owned(), 0.0, 3.0)])
        );
    }

    #[test]
    fn memory_controllers_from_a_recorded_tree() {
        let mcs = memory_controllers(&data("devices/system/edac/mc")).unwrap_or_default();
        assert_eq!(mcs.len(), 1);
        assert_eq!(mcs[0].controller, "0");
        assert_eq!(mcs[0].correctable, 3.0);
        assert_eq!(mcs[0].uncorrectable_noinfo, 1.0);
        assert_eq!(mcs[0].csrows, vec![("0".to_owned(), 2.0, 0.0)]);
        assert_eq!(
            memory_controllers(Path::new("/nonexistent")).ok(),
            Some(Vec::new())
        );
    }
}
