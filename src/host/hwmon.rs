//! Hardware monitoring chips under `/sys/class/hwmon`, read as node_exporter's `hwmon`
//! collector reads them: each chip's name (from its `device` link, else its `name` file),
//! and the raw text of every sensor attribute of a known sensor type, in the chip's directory
//! and its `device` directory.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

pub const HWMON: &str = "/sys/class/hwmon";

/// The sensor types node_exporter reads (`temp1_input` is type `temp`, sensor `temp1`,
/// property `input`).
const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// One chip: its label value (`platform_coretemp_0`), its human-readable name (`coretemp`),
/// and sensor → property → raw value (property `""` for a file like `vrm` or `fan1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    pub chip: String,
    pub chip_name: Option<String>,
    pub sensors: BTreeMap<String, BTreeMap<String, String>>,
}

/// node_exporter's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, `_` trimmed.
pub fn clean_name(raw: &str) -> String {
    let lower: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lower.trim_matches('_').to_owned()
}

/// Splits a sensor file name into (type, number, property): `temp1_crit_alarm` →
/// (`temp`, 1, `crit_alarm`); `None` when it has no such shape.
pub fn split_sensor_file(name: &str) -> Option<(&str, u32, &str)> {
    let type_end = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    let (kind, rest) = name.split_at(type_end);
    if type_end == name.len() {
        // No number: the whole name is the type (`beep_enable`, `vrm`), as node_exporter's
        // greedy `^(?P<type>[^0-9]+)…` reads it.
        return Some((name, 0, ""));
    }
    if kind.is_empty() {
        return None;
    }
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let number = if digits_end == 0 {
        0
    } else {
        rest[..digits_end].parse().ok()?
    };
    let property = match &rest[digits_end..] {
        "" => "",
        p => p.strip_prefix('_')?,
    };
    Some((kind, number, property))
}

/// Every chip under `root` (normally [`HWMON`]), in directory-name order.
pub fn chips(root: &Path) -> io::Result<Vec<Chip>> {
    let mut entries: Vec<_> = std::fs::read_dir(root)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut chips = Vec::new();
    for entry in entries {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let Some(chip) = chip_label(&dir) else {
            continue;
        };
        let mut sensors = BTreeMap::new();
        read_sensors(&dir, &mut sensors)?;
        let device = dir.join("device");
        if device.is_dir() {
            read_sensors(&device, &mut sensors)?;
        }
        let chip_name = std::fs::read_to_string(dir.join("name"))
            .ok()
            .map(|n| clean_name(&n))
            .filter(|n| !n.is_empty());
        chips.push(Chip {
            chip,
            chip_name,
            sensors,
        });
    }
    Ok(chips)
}

/// node_exporter's chip label: `<bus>_<device>` from where `device` leads, else the
/// cleaned `name`, else the directory's own name.
fn chip_label(dir: &Path) -> Option<String> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let name = device
            .file_name()
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        let bus = device
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        if !bus.is_empty() && !name.is_empty() {
            return Some(format!("{bus}_{name}"));
        }
        if !name.is_empty() {
            return Some(name);
        }
    }
    if let Ok(name) = std::fs::read_to_string(dir.join("name")) {
        let name = clean_name(&name);
        if !name.is_empty() {
            return Some(name);
        }
    }
    let real = std::fs::canonicalize(dir).ok()?;
    Some(clean_name(&real.file_name()?.to_string_lossy())).filter(|n| !n.is_empty())
}

fn read_sensors(
    dir: &Path,
    sensors: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let Some((kind, number, property)) = split_sensor_file(name) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        // Like node_exporter, at most the first 128 bytes of an attribute.
        let Ok(raw) = read_attribute(&entry.path()) else {
            continue;
        };
        sensors
            .entry(format!("{kind}{number}"))
            .or_default()
            .insert(property.to_owned(), raw.trim_end_matches('\n').to_owned());
    }
    Ok(())
}

fn read_attribute(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 128];
    let n = std::fs::File::open(path)?.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_file_names() {
        assert_eq!(split_sensor_file("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(
            split_sensor_file("temp12_crit_alarm"),
            Some(("temp", 12, "crit_alarm"))
        );
        assert_eq!(split_sensor_file("fan2"), Some(("fan", 2, "")));
        assert_eq!(split_sensor_file("vrm"), Some(("vrm", 0, "")));
        assert_eq!(
            split_sensor_file("beep_enable"),
            Some(("beep_enable", 0, ""))
        );
        assert_eq!(
            split_sensor_file("update_interval"),
            Some(("update_interval", 0, ""))
        );
        assert_eq!(split_sensor_file("1abc"), None);
        assert_eq!(clean_name("Core 0\n"), "core_0");
    }

    #[test]
    fn chips_from_a_recorded_tree() {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/sys/class/hwmon"
        ));
        let chips = chips(root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chips.len(), 2);
        assert_eq!(chips[0].chip, "platform_coretemp_0");
        assert_eq!(chips[0].chip_name.as_deref(), Some("coretemp"));
        assert_eq!(chips[0].sensors["temp1"]["input"], "55000");
        assert_eq!(chips[0].sensors["temp1"]["label"], "Package id 0");
        assert_eq!(chips[1].chip, "nct6779");
        assert_eq!(chips[1].sensors["fan2"]["input"], "1098");
        assert_eq!(chips[1].sensors["in0"]["input"], "792");
    }
}
