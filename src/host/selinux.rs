//! Whether SELinux is enabled and in which mode, as node_exporter's `selinux` collector (the
//! go-selinux library) decides: enabled when a `selinuxfs` is mounted and this process has a
//! security context other than `kernel`.

use std::path::Path;

use super::{mounts, procfs};

/// SELinux's state: `None` when it is disabled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selinux {
    /// The mode `/etc/selinux/config` asks for: 1 enforcing, 0 permissive, -1 disabled.
    pub config_mode: f64,
    /// The running mode: 1 enforcing, 0 permissive.
    pub current_mode: f64,
}

pub fn read() -> Option<Selinux> {
    let text = procfs::read("/proc/self/mounts").ok()?;
    // Only the selinuxfs line is parsed: this runs on every scrape.
    let line = text
        .lines()
        .find(|l| l.split_ascii_whitespace().nth(2) == Some("selinuxfs"))?;
    let fs = mounts::parse_mounts(line).into_iter().next()?;
    let context = procfs::read_trimmed("/proc/self/attr/current")?;
    if context.trim_end_matches('\0') == "kernel" {
        return None;
    }
    let current_mode =
        procfs::read_number(Path::new(&fs.mountpoint).join("enforce")).unwrap_or(-1.0);
    let config = procfs::read("/etc/selinux/config").unwrap_or_default();
    Some(Selinux {
        config_mode: config_mode(&config),
        current_mode,
    })
}

/// `SELINUX=` of `/etc/selinux/config` as a mode number; -1 (disabled) when unset.
pub fn config_mode(config: &str) -> f64 {
    config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SELINUX="))
        .map(|v| match v.trim().trim_matches('"') {
            "enforcing" => 1.0,
            "permissive" => 0.0,
            _ => -1.0,
        })
        .next_back()
        .unwrap_or(-1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_modes() {
        assert_eq!(
            config_mode("# c\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"),
            1.0
        );
        assert_eq!(config_mode("SELINUX=permissive\n"), 0.0);
        assert_eq!(config_mode("SELINUX=disabled\n"), -1.0);
        assert_eq!(config_mode(""), -1.0);
    }
}
