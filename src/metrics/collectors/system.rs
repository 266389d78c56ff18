//! `system`: node_exporter's `uname`, `os`, `time`, `timex`, `filefd`, `entropy` and `selinux`
//! collectors, one part each.
//!
//! `node_uname_info{domainname,machine,nodename,release,sysname,version}`,
//! `node_os_info{…}`, `node_os_version{id,id_like,name}`, `node_time_seconds`,
//! `node_time_zone_offset_seconds{time_zone}`, `node_time_clocksource_{available,current}_info`,
//! `node_timex_*` (adjtimex), `node_filefd_{allocated,maximum}`,
//! `node_entropy_{available,pool_size}_bits`, `node_selinux_{enabled,config_mode,current_mode}`.
//! Threshold values: `uptime_seconds`, `filefd_used_ratio`.

use super::{CollectError, Collector, Output};
use crate::host::os_release::OsRelease;
use crate::host::{boot, identity, procfs, selinux, sysfs, timex};
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
    buf: String,
}

impl SystemCollector {
    pub fn new() -> Self {
        SystemCollector {
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

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &[
    "uname", "os", "time", "timex", "filefd", "entropy", "selinux",
];

impl Collector for SystemCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("uname", uname);
        out.part("os", os);
        out.part("time", time);
        out.part("timex", timex);
        out.part("filefd", |out| self.filefd(out));
        out.part("entropy", entropy);
        out.part("selinux", selinux);
        if let Some(uptime) = boot::uptime_seconds() {
            out.watch("uptime_seconds", Vec::new(), uptime);
        }
        Ok(())
    }
}

fn uname(out: &mut Output) -> Result<(), CollectError> {
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

    Ok(())
}

fn os(out: &mut Output) -> Result<(), CollectError> {
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

    Ok(())
}

fn time(out: &mut Output) -> Result<(), CollectError> {
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

    Ok(())
}

fn timex(out: &mut Output) -> Result<(), CollectError> {
    let t = timex::read()
        .map_err(|e| CollectError(format!("failed to retrieve adjtimex stats: {e}")))?;
    let gauge =
        |name: &'static str, help: &'static str, v: f64| Family::gauge(name, help).with_value(v);
    let counter =
        |name: &'static str, help: &'static str, v: f64| Family::counter(name, help).with_value(v);
    for family in [
        gauge(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            if t.synchronised { 1.0 } else { 0.0 },
        ),
        gauge(
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset_seconds,
        ),
        gauge(
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            t.frequency_adjustment_ratio,
        ),
        gauge(
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            t.maxerror_seconds,
        ),
        gauge(
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            t.estimated_error_seconds,
        ),
        gauge(
            "node_timex_status",
            "Value of the status array bits.",
            t.status,
        ),
        gauge(
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            t.loop_time_constant,
        ),
        gauge(
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            t.tick_seconds,
        ),
        gauge(
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            t.pps_frequency_hertz,
        ),
        gauge(
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            t.pps_jitter_seconds,
        ),
        gauge(
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            t.pps_shift_seconds,
        ),
        gauge(
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.pps_stability_hertz,
        ),
        counter(
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            t.pps_jitter_total,
        ),
        counter(
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            t.pps_calibration_total,
        ),
        counter(
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            t.pps_error_total,
        ),
        counter(
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.pps_stability_exceeded_total,
        ),
        gauge(
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            t.tai_offset_seconds,
        ),
    ] {
        out.family(family);
    }
    Ok(())
}

fn entropy(out: &mut Output) -> Result<(), CollectError> {
    if let Some(bits) = procfs::read_number("/proc/sys/kernel/random/entropy_avail") {
        out.family(
            Family::gauge("node_entropy_available_bits", "Bits of available entropy.")
                .with_value(bits),
        );
    }
    if let Some(bits) = procfs::read_number("/proc/sys/kernel/random/poolsize") {
        out.family(
            Family::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.").with_value(bits),
        );
    }
    Ok(())
}

fn selinux(out: &mut Output) -> Result<(), CollectError> {
    let Some(state) = selinux::read() else {
        out.family(
            Family::gauge(
                "node_selinux_enabled",
                "SELinux is enabled, 1 is true, 0 is false",
            )
            .with_value(0.0),
        );
        return Ok(());
    };
    out.family(
        Family::gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
        )
        .with_value(1.0),
    );
    out.family(
        Family::gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
        )
        .with_value(state.config_mode),
    );
    out.family(
        Family::gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
        )
        .with_value(state.current_mode),
    );
    Ok(())
}

impl SystemCollector {
    fn filefd(&mut self, out: &mut Output) -> Result<(), CollectError> {
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
