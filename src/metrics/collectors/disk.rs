//! `disk`: node_exporter's `filesystem` and `diskstats` collectors.
//!
//! Filesystems from the mount table and `statfs(2)`:
//! `node_filesystem_{size,free,avail}_bytes`, `node_filesystem_files`,
//! `node_filesystem_files_free`, `node_filesystem_readonly`, `node_filesystem_device_error`,
//! labelled `{device,fstype,mountpoint}`. Block devices from `/proc/diskstats`:
//! `node_disk_*_total{device}`, `node_disk_io_now`, `node_disk_info`.
//!
//! A network filesystem (NFS, CIFS, …) that stops answering would block `statfs`; those are
//! asked from a helper thread with a timeout, and a mount that timed out is skipped (reported as
//! a device error) until its call returns, as node_exporter does with "stuck" mounts.
//!
//! Threshold values, per filesystem: `used_ratio` (1 − avail/size, as dashboards show it),
//! `inodes_used_ratio`, `avail_bytes`.

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{CollectError, Collector, NameFilter, Output, Regexes};
use crate::host::mounts::{self, FsStats, NETWORK_FS};
use crate::host::procfs;
use crate::metrics::family::{Family, Label, labels};
use crate::model::facts::DiskCollector as DiskConfig;

pub const VALUE_NAMES: &[&str] = &["used_ratio", "inodes_used_ratio", "avail_bytes"];

/// Debian's node_exporter 1.5 default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// node_exporter's default `--collector.diskstats.device-exclude`: partitions, RAM disks,
/// loops.
pub const DEFAULT_DISKSTATS_DEVICE_EXCLUDE: &str =
    r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

const STATFS_TIMEOUT: Duration = Duration::from_secs(5);

pub struct DiskCollector {
    mountpoints: NameFilter,
    fs_types: NameFilter,
    devices: NameFilter,
    stuck: Arc<Mutex<HashSet<String>>>,
    buf: String,
}

impl DiskCollector {
    pub fn new(config: &DiskConfig) -> Result<Self, String> {
        Ok(DiskCollector {
            mountpoints: NameFilter::new(
                &config.mountpoints,
                Regexes::exclude(config.mount_points_exclude.as_ref()),
                Some(DEFAULT_MOUNT_POINTS_EXCLUDE),
            )?,
            fs_types: NameFilter::new(
                &config.fs_types,
                Regexes::exclude(config.fs_types_exclude.as_ref()),
                Some(DEFAULT_FS_TYPES_EXCLUDE),
            )?,
            devices: NameFilter::new(
                &config.devices,
                Regexes::new(
                    config.diskstats_device_include.as_ref(),
                    config.diskstats_device_exclude.as_ref(),
                ),
                Some(DEFAULT_DISKSTATS_DEVICE_EXCLUDE),
            )?,
            stuck: Arc::default(),
            buf: String::with_capacity(4096),
        })
    }

    fn statfs(&self, mountpoint: &str, fstype: &str) -> Result<FsStats, String> {
        if !NETWORK_FS.contains(&fstype) {
            return mounts::statfs(mountpoint).map_err(|e| e.to_string());
        }
        if self.lock_stuck().contains(mountpoint) {
            return Err("a previous statfs call has not returned (stuck mount)".into());
        }
        let (tx, rx) = mpsc::channel();
        let path = mountpoint.to_owned();
        let stuck = Arc::clone(&self.stuck);
        let spawned = std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || {
                let result = mounts::statfs(&path).map_err(|e| e.to_string());
                if tx.send(result).is_err() {
                    // The collector gave up on this mount; it answers again now.
                    stuck
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&path);
                }
            });
        if let Err(e) = spawned {
            return Err(format!("cannot start a statfs thread: {e}"));
        }
        match rx.recv_timeout(STATFS_TIMEOUT) {
            Ok(result) => result,
            Err(_) => {
                self.lock_stuck().insert(mountpoint.to_owned());
                tracing::warn!(mountpoint, "statfs timed out; marking the mount as stuck");
                Err("statfs timed out".into())
            }
        }
    }

    fn lock_stuck(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.stuck.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn filesystems(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let mounts = mounts::host_mounts()?;
        let mut size = Family::gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
        let mut free = Family::gauge(
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
        );
        let mut avail = Family::gauge(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        );
        let mut files = Family::gauge("node_filesystem_files", "Filesystem total file nodes.");
        let mut files_free = Family::gauge(
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
        );
        let mut readonly =
            Family::gauge("node_filesystem_readonly", "Filesystem read-only status.");
        let mut device_error = Family::gauge(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        );
        let mut seen = HashSet::new();
        for mount in &mounts {
            if !self.mountpoints.matches(&mount.mountpoint) || !self.fs_types.matches(&mount.fstype)
            {
                continue;
            }
            if !seen.insert((&mount.device, &mount.mountpoint, &mount.fstype)) {
                continue;
            }
            let series: Vec<Label> = labels([
                ("device", mount.device.as_str()),
                ("fstype", mount.fstype.as_str()),
                ("mountpoint", mount.mountpoint.as_str()),
            ]);
            match self.statfs(&mount.mountpoint, &mount.fstype) {
                Ok(stats) => {
                    let ro = mount.options.split(',').any(|o| o == "ro");
                    size.push(series.clone(), stats.size_bytes);
                    free.push(series.clone(), stats.free_bytes);
                    avail.push(series.clone(), stats.avail_bytes);
                    files.push(series.clone(), stats.files);
                    files_free.push(series.clone(), stats.files_free);
                    readonly.push(series.clone(), if ro { 1.0 } else { 0.0 });
                    device_error.push(series.clone(), 0.0);
                    if stats.size_bytes > 0.0 {
                        out.watch(
                            "used_ratio",
                            series.clone(),
                            1.0 - stats.avail_bytes / stats.size_bytes,
                        );
                    }
                    if stats.files > 0.0 {
                        out.watch(
                            "inodes_used_ratio",
                            series.clone(),
                            1.0 - stats.files_free / stats.files,
                        );
                    }
                    out.watch("avail_bytes", series, stats.avail_bytes);
                }
                Err(e) => {
                    tracing::debug!(mountpoint = %mount.mountpoint, error = %e, "statfs failed");
                    device_error.push(series, 1.0);
                }
            }
        }
        for family in [size, free, avail, files, files_free, readonly, device_error] {
            out.family(family);
        }
        Ok(())
    }

    fn diskstats(&mut self, out: &mut Output) -> Result<(), CollectError> {
        procfs::read_into("/proc/diskstats", &mut self.buf)?;
        // (name, help, counter?, field index (0-based after the device name), scale)
        const FIELDS: &[(&str, &str, bool, usize, f64)] = &[
            (
                "node_disk_reads_completed_total",
                "The total number of reads completed successfully.",
                true,
                0,
                1.0,
            ),
            (
                "node_disk_reads_merged_total",
                "The total number of reads merged.",
                true,
                1,
                1.0,
            ),
            (
                "node_disk_read_bytes_total",
                "The total number of bytes read successfully.",
                true,
                2,
                512.0,
            ),
            (
                "node_disk_read_time_seconds_total",
                "The total number of seconds spent by all reads.",
                true,
                3,
                0.001,
            ),
            (
                "node_disk_writes_completed_total",
                "The total number of writes completed successfully.",
                true,
                4,
                1.0,
            ),
            (
                "node_disk_writes_merged_total",
                "The number of writes merged.",
                true,
                5,
                1.0,
            ),
            (
                "node_disk_written_bytes_total",
                "The total number of bytes written successfully.",
                true,
                6,
                512.0,
            ),
            (
                "node_disk_write_time_seconds_total",
                "This is the total number of seconds spent by all writes.",
                true,
                7,
                0.001,
            ),
            (
                "node_disk_io_now",
                "The number of I/Os currently in progress.",
                false,
                8,
                1.0,
            ),
            (
                "node_disk_io_time_seconds_total",
                "Total seconds spent doing I/Os.",
                true,
                9,
                0.001,
            ),
            (
                "node_disk_io_time_weighted_seconds_total",
                "The weighted # of seconds spent doing I/Os.",
                true,
                10,
                0.001,
            ),
            (
                "node_disk_discards_completed_total",
                "The total number of discards completed successfully.",
                true,
                11,
                1.0,
            ),
            (
                "node_disk_discards_merged_total",
                "The total number of discards merged.",
                true,
                12,
                1.0,
            ),
            (
                "node_disk_discarded_sectors_total",
                "The total number of sectors discarded successfully.",
                true,
                13,
                1.0,
            ),
            (
                "node_disk_discard_time_seconds_total",
                "This is the total number of seconds spent by all discards.",
                true,
                14,
                0.001,
            ),
            (
                "node_disk_flush_requests_total",
                "The total number of flush requests completed successfully",
                true,
                15,
                1.0,
            ),
            (
                "node_disk_flush_requests_time_seconds_total",
                "This is the total number of seconds spent by all flush requests.",
                true,
                16,
                0.001,
            ),
        ];
        let mut families: Vec<Family> = FIELDS
            .iter()
            .map(|(name, help, counter, _, _)| {
                if *counter {
                    Family::counter(*name, *help)
                } else {
                    Family::gauge(*name, *help)
                }
            })
            .collect();
        let mut info = Family::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
        for line in self.buf.lines() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(major), Some(minor), Some(device)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if !self.devices.matches(device) {
                continue;
            }
            let values: Vec<u64> = fields.filter_map(procfs::parse_u64).collect();
            for (family, (_, _, _, index, scale)) in families.iter_mut().zip(FIELDS) {
                if let Some(v) = values.get(*index) {
                    family.push(labels([("device", device)]), *v as f64 * scale);
                }
            }
            let udev = procfs::read(format!("/run/udev/data/b{major}:{minor}")).unwrap_or_default();
            let prop = |key: &str| {
                udev.lines()
                    .find_map(|l| l.strip_prefix("E:")?.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_owned()
            };
            info.push(
                labels([
                    ("device", device),
                    ("major", major),
                    ("minor", minor),
                    ("model", &prop("ID_MODEL")),
                    ("path", &prop("ID_PATH")),
                    ("revision", &prop("ID_REVISION")),
                    ("serial", &prop("ID_SERIAL_SHORT")),
                    ("wwn", &prop("ID_WWN")),
                ]),
                1.0,
            );
        }
        for family in families {
            out.family(family);
        }
        out.family(info);
        Ok(())
    }
}

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &["filesystem", "diskstats", "mdadm"];

impl Collector for DiskCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        out.part("filesystem", |out| self.filesystems(out));
        out.part("diskstats", |out| self.diskstats(out));
        out.part("mdadm", |out| super::mdadm::collect(&mut self.buf, out));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::facts::Filter;

    #[test]
    fn default_filters_match_node_exporter() {
        let mounts = NameFilter::new(
            &Filter::default(),
            Regexes::default(),
            Some(DEFAULT_MOUNT_POINTS_EXCLUDE),
        )
        .unwrap_or_default();
        assert!(mounts.matches("/"));
        assert!(mounts.matches("/home"));
        assert!(mounts.matches("/var/lib/docker"));
        assert!(!mounts.matches("/var/lib/docker/overlay2"));
        assert!(!mounts.matches("/run"));
        assert!(!mounts.matches("/dev/shm"));
        let devices = NameFilter::new(
            &Filter::default(),
            Regexes::default(),
            Some(DEFAULT_DISKSTATS_DEVICE_EXCLUDE),
        )
        .unwrap_or_default();
        assert!(devices.matches("sda"));
        assert!(devices.matches("nvme0n1"));
        assert!(devices.matches("dm-0"));
        assert!(!devices.matches("sda1"));
        assert!(!devices.matches("nvme0n1p2"));
        assert!(!devices.matches("loop3"));
    }
}
