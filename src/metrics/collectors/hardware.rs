//! `hardware`: node_exporter's `hwmon`, `thermal_zone`, `edac`, `nvme`, `rapl` and
//! `powersupplyclass` collectors — sensor chips, thermal zones and cooling devices,
//! memory-controller error counts, NVMe controllers, RAPL energy counters, power supplies —
//! from `/sys`.
//!
//! A VM usually has none of them: then `hwmon`, `nvme` and `rapl` report "no data" (their
//! `/sys` directory is missing) and the others report nothing, as node_exporter does. Each part reads from a root directory,
//! so that tests run it on a recorded `/sys` tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CollectError, Collector, Output};
use crate::host::{hwmon, power_supply, powercap, thermal};
use crate::metrics::family::{Family, Kind, labels, sanitize_name};

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &[
    "hwmon",
    "thermal_zone",
    "edac",
    "nvme",
    "rapl",
    "powersupplyclass",
];

/// Where each part reads: `/sys`'s directories, or a recorded tree's in tests.
pub struct HardwareCollector {
    hwmon: PathBuf,
    thermal: PathBuf,
    edac: PathBuf,
    nvme: PathBuf,
    powercap: PathBuf,
    power_supply: PathBuf,
}

impl HardwareCollector {
    pub fn new() -> Self {
        HardwareCollector {
            hwmon: hwmon::HWMON.into(),
            thermal: thermal::THERMAL.into(),
            edac: thermal::EDAC_MC.into(),
            nvme: powercap::NVME.into(),
            powercap: powercap::POWERCAP.into(),
            power_supply: power_supply::POWER_SUPPLY.into(),
        }
    }
}

impl Default for HardwareCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for HardwareCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("hwmon", |out| hwmon_families(&self.hwmon, out));
        out.part("thermal_zone", |out| thermal_zone(&self.thermal, out));
        out.part("edac", |out| edac(&self.edac, out));
        out.part("nvme", |out| nvme(&self.nvme, out));
        out.part("rapl", |out| rapl(&self.powercap, out));
        out.part("powersupplyclass", |out| {
            power_supplies(&self.power_supply, out)
        });
        Ok(())
    }
}

/// The families of a hwmon scrape, by name: names depend on the sensors found.
struct Families(BTreeMap<String, Family>);

impl Families {
    fn push(
        &mut self,
        name: String,
        help: impl FnOnce() -> String,
        kind: Kind,
        chip: &str,
        sensor: &str,
        value: f64,
    ) {
        self.0
            .entry(name)
            .or_insert_with_key(|name| Family::new(name.clone(), help(), kind))
            .push(labels([("chip", chip), ("sensor", sensor)]), value);
    }
}

/// A missing directory is node_exporter's "no data"; other errors are failures.
fn missing_is_no_data(root: &Path) -> impl Fn(std::io::Error) -> CollectError + '_ {
    move |e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::no_data(format_args!("no {}", root.display()))
        } else {
            CollectError(e.to_string())
        }
    }
}

fn hwmon_families(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let chips = hwmon::chips(root).map_err(missing_is_no_data(root))?;
    let mut names = Family::gauge(
        "node_hwmon_chip_names",
        "Annotation metric for human-readable chip names",
    );
    let mut sensor_labels =
        Family::gauge("node_hwmon_sensor_label", "Label for given chip and sensor");
    let mut families = Families(BTreeMap::new());
    for chip in &chips {
        if let Some(name) = &chip.chip_name {
            names.push(labels([("chip", &chip.chip), ("chip_name", name)]), 1.0);
        }
        for (sensor, properties) in &chip.sensors {
            sensor_series(
                &chip.chip,
                sensor,
                properties,
                &mut sensor_labels,
                &mut families,
            );
        }
    }
    out.family(names);
    out.family(sensor_labels);
    for family in families.0.into_values() {
        out.family(family);
    }
    Ok(())
}

/// One sensor's series, named, scaled and described as node_exporter's `hwmon` collector does.
fn sensor_series(
    chip: &str,
    sensor: &str,
    properties: &BTreeMap<String, String>,
    sensor_labels: &mut Family,
    families: &mut Families,
) {
    let Some((kind, _, _)) = hwmon::split_sensor_file(sensor) else {
        return;
    };
    let kind = kind.to_owned();
    if let Some(label) = properties.get("label") {
        sensor_labels.push(
            labels([("chip", chip), ("label", label), ("sensor", sensor)]),
            1.0,
        );
    }
    let number = |key: &str| {
        properties
            .get(key)
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    match kind.as_str() {
        "beep_enable" => {
            let on = properties.get("").is_some_and(|v| v == "1");
            families.push(
                "node_hwmon_beep_enabled".into(),
                || "Hardware beep enabled".into(),
                Kind::Gauge,
                chip,
                sensor,
                if on { 1.0 } else { 0.0 },
            );
            return;
        }
        "vrm" => {
            if let Some(v) = number("") {
                families.push(
                    "node_hwmon_voltage_regulator_version".into(),
                    || "Hardware voltage regulator".into(),
                    Kind::Gauge,
                    chip,
                    sensor,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = number("") {
                families.push(
                    "node_hwmon_update_interval_seconds".into(),
                    || "Hardware monitor update interval".into(),
                    Kind::Gauge,
                    chip,
                    sensor,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, raw) in properties {
        if element == "label" {
            continue;
        }
        let Ok(value) = raw.trim().parse::<f64>() else {
            continue;
        };
        let mut name = prefix.clone();
        if element == "input" {
            if properties.contains_key("") {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&hwmon::clean_name(element));
        }
        let element = element.as_str();
        let (name, help, kind_of, value) = match (kind.as_str(), element) {
            (_, "fault" | "alarm") => (
                name,
                format!("Hardware sensor {element} status ({kind})"),
                Kind::Gauge,
                value,
            ),
            (_, "beep") => (
                format!("{name}_enabled"),
                "Hardware monitor sensor has beeping enabled".into(),
                Kind::Gauge,
                value,
            ),
            ("in" | "cpu", _) => (
                format!("{name}_volts"),
                format!("Hardware monitor for voltage ({element})"),
                Kind::Gauge,
                value * 0.001,
            ),
            ("temp", e) if e != "type" => {
                let element = if e.is_empty() { "input" } else { e };
                (
                    format!("{name}_celsius"),
                    format!("Hardware monitor for temperature ({element})"),
                    Kind::Gauge,
                    value * 0.001,
                )
            }
            ("curr", _) => (
                format!("{name}_amps"),
                format!("Hardware monitor for current ({element})"),
                Kind::Gauge,
                value * 0.001,
            ),
            ("energy", _) => (
                format!("{name}_joule_total"),
                format!("Hardware monitor for joules used so far ({element})"),
                Kind::Counter,
                value / 1e6,
            ),
            ("power", "accuracy") => (
                name,
                "Hardware monitor power meter accuracy, as a ratio".into(),
                Kind::Gauge,
                value / 1e6,
            ),
            ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
                format!("{name}_seconds"),
                format!("Hardware monitor power usage update interval ({element})"),
                Kind::Gauge,
                value * 0.001,
            ),
            ("power", _) => (
                format!("{name}_watt"),
                format!("Hardware monitor for power usage in watts ({element})"),
                Kind::Gauge,
                value / 1e6,
            ),
            ("humidity", _) => (
                name,
                format!(
                    "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
                ),
                Kind::Gauge,
                value / 1e6,
            ),
            ("fan", "input" | "min" | "max" | "target") => (
                format!("{name}_rpm"),
                format!("Hardware monitor for fan revolutions per minute ({element})"),
                Kind::Gauge,
                value,
            ),
            _ => (
                name,
                format!("Hardware monitor {kind} element {element}"),
                Kind::Gauge,
                value,
            ),
        };
        families.push(name, || help, kind_of, chip, sensor, value);
    }
}

fn thermal_zone(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let mut temp = Family::gauge("node_thermal_zone_temp", "Zone temperature in Celsius");
    for (zone, kind, millidegrees) in thermal::zones(root)? {
        temp.push(
            labels([("type", &kind), ("zone", &zone)]),
            millidegrees / 1000.0,
        );
    }
    out.family(temp);
    let mut current = Family::gauge(
        "node_cooling_device_cur_state",
        "Current throttle state of the cooling device",
    );
    let mut maximum = Family::gauge(
        "node_cooling_device_max_state",
        "Maximum throttle state of the cooling device",
    );
    for (name, kind, cur, max) in thermal::cooling_devices(root)? {
        current.push(labels([("name", &name), ("type", &kind)]), cur);
        maximum.push(labels([("name", &name), ("type", &kind)]), max);
    }
    out.family(current);
    out.family(maximum);
    Ok(())
}

fn edac(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let controllers = thermal::memory_controllers(root)?;
    let mut ce = Family::counter(
        "node_edac_correctable_errors_total",
        "Total correctable memory errors.",
    );
    let mut ue = Family::counter(
        "node_edac_uncorrectable_errors_total",
        "Total uncorrectable memory errors.",
    );
    let mut row_ce = Family::counter(
        "node_edac_csrow_correctable_errors_total",
        "Total correctable memory errors for this csrow.",
    );
    let mut row_ue = Family::counter(
        "node_edac_csrow_uncorrectable_errors_total",
        "Total uncorrectable memory errors for this csrow.",
    );
    for mc in &controllers {
        let c = mc.controller.as_str();
        ce.push(labels([("controller", c)]), mc.correctable);
        ue.push(labels([("controller", c)]), mc.uncorrectable);
        row_ce.push(
            labels([("controller", c), ("csrow", "unknown")]),
            mc.correctable_noinfo,
        );
        row_ue.push(
            labels([("controller", c), ("csrow", "unknown")]),
            mc.uncorrectable_noinfo,
        );
        for (row, row_correctable, row_uncorrectable) in &mc.csrows {
            row_ce.push(
                labels([("controller", c), ("csrow", row)]),
                *row_correctable,
            );
            row_ue.push(
                labels([("controller", c), ("csrow", row)]),
                *row_uncorrectable,
            );
        }
    }
    for family in [ce, ue, row_ce, row_ue] {
        out.family(family);
    }
    Ok(())
}

fn nvme(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let devices = powercap::nvme_devices(root).map_err(missing_is_no_data(root))?;
    let mut info = Family::gauge(
        "node_nvme_info",
        "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
    );
    for (device, firmware, model, serial, state) in &devices {
        info.push(
            labels([
                ("device", device),
                ("firmware_revision", firmware),
                ("model", model),
                ("serial", serial),
                ("state", state),
            ]),
            1.0,
        );
    }
    out.family(info);
    Ok(())
}

/// `node_rapl_<zone>_joules_total{index,path}`: a family per zone name.
fn rapl(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let zones = powercap::rapl_zones(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            CollectError::no_data(format_args!("can't access {}", root.display()))
        } else {
            missing_is_no_data(root)(e)
        }
    })?;
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for zone in &zones {
        let name = format!("node_rapl_{}_joules_total", sanitize_name(&zone.name));
        families
            .entry(name)
            .or_insert_with_key(|name| {
                Family::counter(
                    name.clone(),
                    format!("Current RAPL {} value in joules", zone.name),
                )
            })
            .push(
                labels([("index", &zone.index.to_string()), ("path", &zone.path)]),
                zone.microjoules / 1e6,
            );
    }
    for family in families.into_values() {
        out.family(family);
    }
    Ok(())
}

/// node_exporter's `powersupplyclass` gauges: (metric name, attribute file, scale). sysfs
/// gives µA, µV, µWh, µW and tenths of a degree.
const POWER_SUPPLY_VALUES: &[(&str, &str, f64)] = &[
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cyclecount", "cycle_count", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_seconds", "time_to_empty_now", 1.0),
    ("time_to_full_seconds", "time_to_full_now", 1.0),
    ("current_boot", "current_boot", 1e-6),
    ("current_max", "current_max", 1e-6),
    ("current_ampere", "current_now", 1e-6),
    ("energy_empty", "energy_empty", 1e-6),
    ("energy_empty_design", "energy_empty_design", 1e-6),
    ("energy_full", "energy_full", 1e-6),
    ("energy_full_design", "energy_full_design", 1e-6),
    ("energy_watthour", "energy_now", 1e-6),
    ("voltage_boot", "voltage_boot", 1e-6),
    ("voltage_max", "voltage_max", 1e-6),
    ("voltage_max_design", "voltage_max_design", 1e-6),
    ("voltage_min", "voltage_min", 1e-6),
    ("voltage_min_design", "voltage_min_design", 1e-6),
    ("voltage_volt", "voltage_now", 1e-6),
    ("voltage_ocv", "voltage_ocv", 1e-6),
    ("charge_control_limit", "charge_control_limit", 1e-6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e-6),
    ("charge_counter", "charge_counter", 1e-6),
    ("charge_empty", "charge_empty", 1e-6),
    ("charge_empty_design", "charge_empty_design", 1e-6),
    ("charge_full", "charge_full", 1e-6),
    ("charge_full_design", "charge_full_design", 1e-6),
    ("charge_ampere", "charge_now", 1e-6),
    ("charge_term_current", "charge_term_current", 1e-6),
    ("constant_charge_current", "constant_charge_current", 1e-6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e-6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e-6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e-6,
    ),
    ("precharge_current", "precharge_current", 1e-6),
    ("input_current_limit", "input_current_limit", 1e-6),
    ("power_watt", "power_now", 1e-6),
    ("temp_celsius", "temp", 0.1),
    ("temp_alert_max_celsius", "temp_alert_max", 0.1),
    ("temp_alert_min_celsius", "temp_alert_min", 0.1),
    ("temp_ambient_celsius", "temp_ambient", 0.1),
    ("temp_ambient_max_celsius", "temp_ambient_max", 0.1),
    ("temp_ambient_min_celsius", "temp_ambient_min", 0.1),
    ("temp_max_celsius", "temp_max", 0.1),
    ("temp_min_celsius", "temp_min", 0.1),
];

/// The text attributes `node_power_supply_info` carries, by label name (sorted, as
/// node_exporter writes labels); `power_supply` is the supply's name.
const POWER_SUPPLY_INFO: &[&str] = &[
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "power_supply",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

fn power_supplies(root: &Path, out: &mut Output) -> Result<(), CollectError> {
    let supplies = power_supply::supplies(root).map_err(missing_is_no_data(root))?;
    let mut families: Vec<Family> = POWER_SUPPLY_VALUES
        .iter()
        .map(|(name, _, _)| {
            Family::gauge(
                format!("node_power_supply_{name}"),
                format!("{name} value of /sys/class/power_supply/<power_supply>."),
            )
        })
        .collect();
    let mut info = Family::gauge(
        "node_power_supply_info",
        "info of /sys/class/power_supply/<power_supply>.",
    );
    for (supply, attributes) in &supplies {
        for (family, (_, file, scale)) in families.iter_mut().zip(POWER_SUPPLY_VALUES) {
            if let Some(value) = attributes.get(*file).and_then(|v| v.parse::<i64>().ok()) {
                family.push(labels([("power_supply", supply)]), value as f64 * scale);
            }
        }
        let info_labels = POWER_SUPPLY_INFO
            .iter()
            .filter_map(|label| {
                let value = if *label == "power_supply" {
                    supply
                } else {
                    attributes.get(*label)?
                };
                (!value.is_empty()).then(|| ((*label).into(), value.clone()))
            })
            .collect();
        info.push(info_labels, 1.0);
    }
    for family in families {
        out.family(family);
    }
    out.family(info);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> HardwareCollector {
        let sys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/host/sys");
        HardwareCollector {
            hwmon: sys.join("class/hwmon"),
            thermal: sys.join("class/thermal"),
            edac: sys.join("devices/system/edac/mc"),
            nvme: sys.join("class/nvme"),
            powercap: sys.join("class/powercap"),
            power_supply: sys.join("class/power_supply"),
        }
    }

    fn find<'a>(out: &'a Output, name: &str) -> &'a Family {
        out.families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no {name} in {:?}",
                    out.families.iter().map(|f| &f.name).collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn node_exporter_families_from_a_recorded_sys_tree() {
        let mut out = Output::default();
        assert!(recorded().collect(&mut out).is_ok());
        assert!(
            out.parts.iter().all(|p| p.error.is_none()),
            "{:?}",
            out.parts
        );
        let chip = [("chip", "platform_coretemp_0"), ("sensor", "temp1")];
        assert_eq!(
            find(&out, "node_hwmon_temp_celsius").sample(&chip),
            Some(55.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_temp_crit_celsius").sample(&chip),
            Some(100.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_temp_crit_alarm_celsius").sample(&chip),
            Some(0.0)
        );
        let help = &find(&out, "node_hwmon_temp_celsius").help;
        assert_eq!(help, "Hardware monitor for temperature (input)");
        let nct = |sensor| [("chip", "nct6779"), ("sensor", sensor)];
        assert_eq!(
            find(&out, "node_hwmon_fan_rpm").sample(&nct("fan2")),
            Some(1098.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_fan_min_rpm").sample(&nct("fan2")),
            Some(200.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_fan_alarm").sample(&nct("fan2")),
            Some(0.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_in_volts").sample(&nct("in0")),
            Some(0.792)
        );
        assert_eq!(
            find(&out, "node_hwmon_beep_enabled").sample(&nct("beep_enable0")),
            Some(1.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_voltage_regulator_version").sample(&nct("vrm0")),
            Some(90.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_power_average_watt").sample(&nct("power1")),
            Some(9.5)
        );
        assert_eq!(
            find(&out, "node_hwmon_temp_type").sample(&nct("temp7")),
            Some(2.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_sensor_label").sample(&[
                ("chip", "nct6779"),
                ("label", "Vcore"),
                ("sensor", "in0")
            ]),
            Some(1.0)
        );
        assert_eq!(
            find(&out, "node_hwmon_chip_names")
                .sample(&[("chip", "platform_coretemp_0"), ("chip_name", "coretemp")]),
            Some(1.0)
        );
        assert_eq!(
            find(&out, "node_thermal_zone_temp").sample(&[("type", "acpitz"), ("zone", "0")]),
            Some(27.8)
        );
        assert_eq!(
            find(&out, "node_cooling_device_max_state")
                .sample(&[("name", "0"), ("type", "Processor")]),
            Some(3.0)
        );
        assert_eq!(
            find(&out, "node_edac_csrow_correctable_errors_total")
                .sample(&[("controller", "0"), ("csrow", "unknown")]),
            Some(1.0)
        );
        assert_eq!(
            find(&out, "node_edac_correctable_errors_total").kind,
            Kind::Counter
        );
        let nvme = find(&out, "node_nvme_info");
        assert_eq!(nvme.samples[0].labels[2].1, "Samsung SSD 970 PRO 512GB");
        let dram = find(&out, "node_rapl_dram_joules_total");
        assert_eq!(dram.help, "Current RAPL dram value in joules");
        assert_eq!(dram.samples.len(), 2);
        assert_eq!(dram.samples[1].labels[0].1, "1");
        let package = find(&out, "node_rapl_package_joules_total");
        assert_eq!(package.samples[0].value, 240422.366267);
        let bat = [("power_supply", "BAT0")];
        assert_eq!(
            find(&out, "node_power_supply_energy_watthour").sample(&bat),
            Some(36.1)
        );
        assert_eq!(
            find(&out, "node_power_supply_temp_celsius").sample(&bat),
            Some(28.5)
        );
        assert_eq!(
            find(&out, "node_power_supply_cyclecount").sample(&bat),
            Some(0.0)
        );
        assert_eq!(
            find(&out, "node_power_supply_online").sample(&[("power_supply", "AC")]),
            Some(1.0)
        );
        let info = find(&out, "node_power_supply_info");
        assert_eq!(
            info.sample(&[("power_supply", "AC"), ("type", "Mains")]),
            Some(1.0)
        );
        let battery: Vec<&str> = info.samples[1]
            .labels
            .iter()
            .map(|(k, _)| k.as_ref())
            .collect();
        assert_eq!(
            battery,
            [
                "capacity_level",
                "manufacturer",
                "model_name",
                "power_supply",
                "serial_number",
                "status",
                "technology",
                "type"
            ]
        );
    }

    #[test]
    fn no_hwmon_directory_is_no_data() {
        let mut out = Output::default();
        let missing = PathBuf::from("/nonexistent");
        let mut collector = HardwareCollector {
            hwmon: missing.clone(),
            thermal: missing.clone(),
            edac: missing.clone(),
            nvme: missing.clone(),
            powercap: missing.clone(),
            power_supply: missing,
        };
        assert!(collector.collect(&mut out).is_ok());
        for name in ["hwmon", "nvme", "rapl", "powersupplyclass"] {
            let part = out.parts.iter().find(|p| p.name == name);
            assert!(
                part.and_then(|p| p.error.as_ref())
                    .is_some_and(CollectError::is_no_data),
                "{name}: {part:?}"
            );
        }
        assert!(out.families.is_empty());
    }
}
