//! The `/sys` attributes driftless reads: network interfaces (`/sys/class/net`), DMI ids, the
//! hypervisor type and the clock source.

use std::io;

use super::procfs::{self, Dir};

const NET_CLASS: &str = "/sys/class/net";

/// The names of the network interfaces, in directory order.
pub fn net_devices() -> io::Result<Vec<String>> {
    Ok(std::fs::read_dir(NET_CLASS)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// One attribute of a network interface (`address`, `mtu`, `statistics/rx_nohandler`, …),
/// trimmed; `None` when it cannot be read.
pub fn net_attribute(device: &str, attribute: &str) -> Option<String> {
    procfs::read_trimmed(format!("{NET_CLASS}/{device}/{attribute}"))
}

/// A network interface's directory held open, for reading several of its attributes
/// ([`Dir::read_into`]); `path` is scratch space, so that a caller looping over interfaces
/// reuses one allocation.
pub fn open_net_device(device: &str, path: &mut String) -> io::Result<Dir> {
    path.clear();
    path.push_str(NET_CLASS);
    path.push('/');
    path.push_str(device);
    Dir::open(path)
}

/// A DMI id field (`sys_vendor`, `product_name`, `bios_vendor`, …), `None` when unreadable
/// or empty.
pub fn dmi(field: &str) -> Option<String> {
    procfs::read_trimmed(format!("/sys/class/dmi/id/{field}")).filter(|s| !s.is_empty())
}

/// The hypervisor the kernel says it runs under (`/sys/hypervisor/type`: `xen`, …).
pub fn hypervisor_type() -> Option<String> {
    procfs::read_trimmed("/sys/hypervisor/type").filter(|s| !s.is_empty())
}

const CLOCKSOURCE: &str = "/sys/devices/system/clocksource/clocksource0";

/// The clock sources the kernel offers, space-separated.
pub fn available_clocksources() -> Option<String> {
    procfs::read_trimmed(format!("{CLOCKSOURCE}/available_clocksource"))
}

/// The clock source in use.
pub fn current_clocksource() -> Option<String> {
    procfs::read_trimmed(format!("{CLOCKSOURCE}/current_clocksource"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_and_readable() {
        let devices = net_devices().unwrap_or_else(|e| panic!("{e}"));
        assert!(devices.iter().any(|d| d == "lo"), "{devices:?}");
        assert_eq!(
            net_attribute("lo", "address").as_deref(),
            Some("00:00:00:00:00:00")
        );
        let mut path = String::new();
        let dir = open_net_device("lo", &mut path).unwrap_or_else(|e| panic!("{e}"));
        let mut buf = String::new();
        dir.read_into(c"mtu", &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Some(buf.trim().to_owned()), net_attribute("lo", "mtu"));
    }
}
