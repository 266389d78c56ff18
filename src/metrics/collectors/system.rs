//! `system`: node_exporter's `uname`, `os`, `time`, `filefd` and `entropy` collectors, and
//! `node_boot_time_seconds` (from the `stat` collector).
//!
//! `node_uname_info{domainname,machine,nodename,release,sysname,version}`,
//! `node_os_info{…}`, `node_os_version{id,id_like,name}`, `node_time_seconds`,
//! `node_time_zone_offset_seconds{time_zone}`, `node_time_clocksource_{available,current}_info`,
//! `node_boot_time_seconds`, `node_filefd_{allocated,maximum}`,
//! `node_entropy_{available,pool_size}_bits`. Threshold values: `uptime_seconds`,
//! `filefd_used_ratio`.

use super::{CollectError, Collector, Output};
use crate::host::os_release::OsRelease;
use crate::host::{boot, identity, procfs, sysfs};
use crate::metrics::family::{Family, Label, labels};

pub const VALUE_NAMES: &[&str] = &["uptime_seconds", "filefd_used_ratio"];

/// The os-release keys node_exporter puts on `node_os_info`, with their label names.
const OS_INFO: &[(&str, &str)] = &[
    ("BUILD_ID", "build_id"),
    ("ID", "id"),
    ("ID_LIKE", "id_like"),
    ("IMAGE_ID", "image_id"),
    ("IMAGE_VERSION", "image_version"),
    ("NAME", "name"),
    ("PRETTY_NAME", "pretty_name"),
    ("VARIANT", "variant"),
    ("VARIANT_ID", "variant_id"),
    ("VERSION", "version"),
    ("VERSION_CODENAME", "version_codename"),
    ("VERSION_ID", "version_id"),
];

pub struct SystemCollector {
    boot_time: Option<f64>,
    buf: String,
}

impl SystemCollector {
    pub fn new() -> Self {
        SystemCollector {
            boot_time: None,
            buf: String::with_capacity(512),
        }
    }
}

impl Default for SystemCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// The local time zone's abbreviation and offset from UTC in seconds.
fn time_zone(now: i64) -> Option<(String, i64)> {
    let t: libc::time_t = now as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: both pointers are valid; localtime_r fills tm and returns it, or NULL on error.
    let ok = unsafe { !libc::localtime_r(&t, tm.as_mut_ptr()).is_null() };
    if !ok {
        return None;
    }
    // SAFETY: localtime_r succeeded, so tm is initialised.
    let tm = unsafe { tm.assume_init() };
    let zone = if tm.tm_zone.is_null() {
        "UTC".to_owned()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated static string owned by libc.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((zone, tm.tm_gmtoff))
}

/// `VERSION_ID` as node_exporter parses it: the major.minor part as a number.
fn os_version_number(version_id: &str) -> Option<f64> {
    let mut parts = version_id.split('.');
    let major = parts.next()?;
    let candidate = match parts.next() {
        Some(minor) => format!("{major}.{minor}"),
        None => major.to_owned(),
    };
    candidate.parse().ok()
}

impl Collector for SystemCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let u = identity::uname().ok_or_else(|| CollectError("uname(2) failed".into()))?;
        out.family(
            Family::gauge(
                "node_uname_info",
                "Labeled system information as provided by the uname system call.",
            )
            .with_labels(labels([
                ("domainname", &u.domainname),
                ("machine", &u.machine),
                ("nodename", &u.nodename),
                ("release", &u.release),
                ("sysname", &u.sysname),
                ("version", &u.version),
            ])),
        );

        let release = OsRelease::read();
        let get = |key: &str| release.get(key).unwrap_or("");
        let info: Vec<Label> = OS_INFO
            .iter()
            .map(|(key, label)| ((*label).into(), get(key).to_owned()))
            .collect();
        out.family(
            Family::gauge(
                "node_os_info",
                "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            )
            .with_labels(info),
        );
        if let Some(v) = os_version_number(get("VERSION_ID")) {
            let mut family = Family::gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
            );
            family.push(
                labels([
                    ("id", get("ID")),
                    ("id_like", get("ID_LIKE")),
                    ("name", get("NAME")),
                ]),
                v,
            );
            out.family(family);
        }

        let now = procfs::unix_now();
        out.family(
            Family::gauge(
                "node_time_seconds",
                "System time in seconds since epoch (1970).",
            )
            .with_value(now),
        );
        if let Some((zone, offset)) = time_zone(now as i64) {
            let mut family = Family::gauge(
                "node_time_zone_offset_seconds",
                "System time zone offset in seconds.",
            );
            family.push(labels([("time_zone", &zone)]), offset as f64);
            out.family(family);
        }
        if let Some(available) = sysfs::available_clocksources() {
            let mut family = Family::gauge(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
            );
            for source in available.split_whitespace() {
                family.push(labels([("clocksource", source), ("device", "0")]), 1.0);
            }
            out.family(family);
        }
        if let Some(current) = sysfs::current_clocksource() {
            let mut family = Family::gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
            );
            family.push(labels([("clocksource", &current), ("device", "0")]), 1.0);
            out.family(family);
        }

        if self.boot_time.is_none() {
            self.boot_time = boot::boot_time()?.map(|v| v as f64);
        }
        if let Some(boot) = self.boot_time {
            out.family(
                Family::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
                    .with_value(boot),
            );
        }
        if let Some(uptime) = boot::uptime_seconds() {
            out.watch("uptime_seconds", Vec::new(), uptime);
        }

        if procfs::read_into("/proc/sys/fs/file-nr", &mut self.buf).is_ok() {
            let parts: Vec<f64> = self
                .buf
                .split_whitespace()
                .filter_map(procfs::parse_number)
                .collect();
            if let [allocated, _, maximum] = parts[..] {
                out.family(
                    Family::gauge(
                        "node_filefd_allocated",
                        "File descriptor statistics: allocated.",
                    )
                    .with_value(allocated),
                );
                out.family(
                    Family::gauge(
                        "node_filefd_maximum",
                        "File descriptor statistics: maximum.",
                    )
                    .with_value(maximum),
                );
                if maximum > 0.0 {
                    out.watch("filefd_used_ratio", Vec::new(), allocated / maximum);
                }
            }
        }
        if let Some(bits) = procfs::read_number("/proc/sys/kernel/random/entropy_avail") {
            out.family(
                Family::gauge("node_entropy_available_bits", "Bits of available entropy.")
                    .with_value(bits),
            );
        }
        if let Some(bits) = procfs::read_number("/proc/sys/kernel/random/poolsize") {
            out.family(
                Family::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.")
                    .with_value(bits),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_version_is_major_minor() {
        assert_eq!(os_version_number("12"), Some(12.0));
        assert_eq!(os_version_number("22.04"), Some(22.04));
        assert_eq!(os_version_number("3.18.4"), Some(3.18));
        assert_eq!(os_version_number(""), None);
    }
}
