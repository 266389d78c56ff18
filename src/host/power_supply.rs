//! Power supplies (batteries, mains, USB) under `/sys/class/power_supply`: the attribute files
//! of each, as node_exporter's `powersupplyclass` collector (through its procfs library) reads
//! them.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use super::procfs;

pub const POWER_SUPPLY: &str = "/sys/class/power_supply";

/// One power supply: its name and every attribute file's trimmed content.
pub type Supply = (String, BTreeMap<String, String>);

/// The supplies under `root` (normally [`POWER_SUPPLY`]), in name order.
pub fn supplies(root: &Path) -> io::Result<Vec<Supply>> {
    let mut entries: Vec<_> = std::fs::read_dir(root)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut out = Vec::new();
    for entry in entries {
        let dir = entry.path();
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut attributes = BTreeMap::new();
        for file in files.filter_map(|f| f.ok()) {
            // Attributes are regular files; `device`, `subsystem`, `power` are links or
            // directories, and `uevent` repeats the rest.
            if !file.file_type().is_ok_and(|t| t.is_file()) || file.file_name() == "uevent" {
                continue;
            }
            if let Some(value) = procfs::read_trimmed(file.path()) {
                attributes.insert(file.file_name().to_string_lossy().into_owned(), value);
            }
        }
        out.push((entry.file_name().to_string_lossy().into_owned(), attributes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supplies_from_a_recorded_tree() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/host/sys/class/power_supply");
        let supplies = supplies(&root).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = supplies.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["AC", "BAT0"]);
        assert_eq!(supplies[1].1["energy_now"], "36100000");
        assert_eq!(supplies[1].1["model_name"], "LNV-45N1");
        assert!(!supplies[1].1.contains_key("uevent"));
    }
}
