//! The built-in facts every template can use: `facts.hostname`, `facts.os.family`, …
//!
//! Assembled from the host readers ([`crate::host`]): small reads of `/proc`, `/sys` and
//! `/etc`, `getifaddrs(3)` and `statfs(2)`, no subprocess, so gathering them costs about a
//! millisecond.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::host::os_release::OsRelease;
use crate::host::{
    addresses, boot, cpuinfo, identity, meminfo, mounts as host_mounts, routes, sysfs, tags,
    virtualization,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    pub fqdn: String,
    pub os: OsFacts,
    pub arch: String,
    pub kernel: String,
    pub cpu: CpuFacts,
    pub memory: MemoryFacts,
    /// `/etc/machine-id` (or D-Bus's copy); empty when the host has none.
    pub machine_id: String,
    pub virtualization: VirtualizationFacts,
    pub swap: SwapFacts,
    /// Mounted filesystems by mount point (the visible one when a point is mounted twice);
    /// pseudo filesystems (proc, sysfs, cgroup, …) are left out.
    pub mounts: BTreeMap<String, MountFacts>,
    /// Network interfaces by name.
    pub interfaces: BTreeMap<String, InterfaceFacts>,
    /// The interface and address of the IPv4 default route, when there is one.
    pub default_ipv4: Option<DefaultRoute>,
    /// The interface and address of the IPv6 default route, when there is one.
    pub default_ipv6: Option<DefaultRoute>,
    /// Boot time, seconds since the Unix epoch.
    pub boot_time: u64,
    /// The host's tags: the file names in `/etc/driftless/tags/` (inventory groups with
    /// `tag:` select by them). Absent from facts recorded before tags existed: none.
    #[serde(default)]
    pub tags: Vec<String>,
    pub uptime_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VirtualizationFacts {
    /// `kvm`, `qemu`, `vmware`, `virtualbox`, `xen`, `hyperv`, `amazon`, `google`, `docker`,
    /// `podman`, `lxc`, `container` (another container runtime), or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `guest` inside a VM or container, `host` otherwise.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SwapFacts {
    pub total_bytes: u64,
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountFacts {
    pub device: String,
    pub fstype: String,
    pub options: Vec<String>,
    /// From statfs; absent for network filesystems (never asked, they may hang) and when
    /// statfs fails.
    pub size_bytes: Option<u64>,
    pub available_bytes: Option<u64>,
    pub inodes_total: Option<u64>,
    pub inodes_free: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InterfaceFacts {
    /// The hardware address (`aa:bb:…`), empty when the interface has none.
    pub mac: String,
    pub mtu: Option<u64>,
    /// The kernel's operstate: `up`, `down`, `unknown`, …
    pub state: String,
    pub ipv4: Vec<AddressFacts>,
    pub ipv6: Vec<AddressFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddressFacts {
    pub address: String,
    pub prefix: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DefaultRoute {
    pub interface: String,
    /// The interface's first address of that family; empty when it has none.
    pub address: String,
    /// The next hop; empty for a direct route.
    pub gateway: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsFacts {
    /// Lowercase family, as Ansible's `os_family` lowercased: `debian`, `redhat`, `alpine`, …
    pub family: String,
    pub name: String,
    pub version: String,
    /// `VERSION_CODENAME`, e.g. `bookworm`; empty when the OS does not say.
    pub codename: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CpuFacts {
    pub count: usize,
    /// The first CPU's model name from `/proc/cpuinfo`.
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryFacts {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl HostFacts {
    pub fn gather() -> Self {
        let hostname = identity::hostname().unwrap_or_else(|| "localhost".into());
        let mut meminfo = String::new();
        // Unreadable, it reads as empty: every size is then 0.
        let _ = meminfo::read_into(&mut meminfo);
        let interfaces = interfaces();
        let default_ipv4 = default_ipv4(&interfaces);
        let default_ipv6 = default_ipv6(&interfaces);
        HostFacts {
            machine_id: identity::machine_id().unwrap_or_default(),
            virtualization: match virtualization::guest_kind() {
                Some(kind) => VirtualizationFacts {
                    kind,
                    role: "guest".to_owned(),
                },
                None => VirtualizationFacts {
                    kind: "none".to_owned(),
                    role: "host".to_owned(),
                },
            },
            swap: SwapFacts {
                total_bytes: meminfo::bytes_of(&meminfo, "SwapTotal"),
                free_bytes: meminfo::bytes_of(&meminfo, "SwapFree"),
            },
            mounts: mounts(),
            interfaces,
            default_ipv4,
            default_ipv6,
            boot_time: boot::boot_time().ok().flatten().unwrap_or(0),
            tags: tags::read(),
            uptime_seconds: boot::uptime_seconds().unwrap_or(0.0),
            fqdn: identity::fqdn(&hostname),
            os: os_facts(&OsRelease::read()),
            arch: std::env::consts::ARCH.to_owned(),
            kernel: identity::uname().map(|u| u.release).unwrap_or_default(),
            cpu: CpuFacts {
                count: std::thread::available_parallelism().map_or(1, |n| n.get()),
                model: cpuinfo::model(&cpuinfo::read()),
            },
            memory: MemoryFacts {
                total_bytes: meminfo::bytes_of(&meminfo, "MemTotal"),
                available_bytes: meminfo::bytes_of(&meminfo, "MemAvailable"),
            },
            hostname,
        }
    }
}

fn os_facts(os_release: &OsRelease) -> OsFacts {
    let id = os_release.get("ID").unwrap_or("linux");
    let like = os_release.get("ID_LIKE").unwrap_or("");
    let ids: Vec<&str> = std::iter::once(id).chain(like.split_whitespace()).collect();
    let family = [
        ("debian", &["debian", "ubuntu"][..]),
        (
            "redhat",
            &["rhel", "fedora", "centos", "rocky", "almalinux"][..],
        ),
        ("suse", &["suse", "opensuse", "sles"][..]),
        ("archlinux", &["arch"][..]),
        ("alpine", &["alpine"][..]),
    ]
    .iter()
    .find(|(_, members)| ids.iter().any(|i| members.contains(i)))
    .map_or(id, |(family, _)| family);
    OsFacts {
        family: family.to_owned(),
        name: os_release.get("NAME").unwrap_or(id).to_owned(),
        version: os_release.get("VERSION_ID").unwrap_or("").to_owned(),
        codename: os_release.get("VERSION_CODENAME").unwrap_or("").to_owned(),
    }
}

/// Filesystem types that are kernel interfaces, not storage.
const PSEUDO_FS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tracefs",
    "efivarfs",
];

fn mounts() -> BTreeMap<String, MountFacts> {
    let mut out = BTreeMap::new();
    for m in host_mounts::own_mounts().unwrap_or_default() {
        if PSEUDO_FS.contains(&m.fstype.as_str()) {
            continue;
        }
        let stats = if host_mounts::NETWORK_FS.contains(&m.fstype.as_str()) {
            None
        } else {
            host_mounts::statfs(&m.mountpoint).ok()
        };
        out.insert(
            m.mountpoint.clone(),
            MountFacts {
                device: m.device,
                fstype: m.fstype,
                options: m.options.split(',').map(str::to_owned).collect(),
                size_bytes: stats.map(|s| s.size_bytes as u64),
                available_bytes: stats.map(|s| s.avail_bytes as u64),
                inodes_total: stats.map(|s| s.files as u64),
                inodes_free: stats.map(|s| s.files_free as u64),
            },
        );
    }
    out
}

/// Interfaces from `/sys/class/net`, with addresses from `getifaddrs(3)`.
fn interfaces() -> BTreeMap<String, InterfaceFacts> {
    let mut out = BTreeMap::new();
    for name in sysfs::net_devices().unwrap_or_default() {
        let attribute = |attribute: &str| sysfs::net_attribute(&name, attribute);
        let facts = InterfaceFacts {
            mac: attribute("address").unwrap_or_default(),
            mtu: attribute("mtu").and_then(|m| m.parse().ok()),
            state: attribute("operstate").unwrap_or_default(),
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        };
        out.insert(name, facts);
    }
    for (name, addr, prefix) in addresses::interface_addresses() {
        let Some(iface) = out.get_mut(&name) else {
            continue;
        };
        let entry = AddressFacts {
            address: addr.to_string(),
            prefix,
        };
        match addr {
            IpAddr::V4(_) => iface.ipv4.push(entry),
            IpAddr::V6(_) => iface.ipv6.push(entry),
        }
    }
    out
}

/// The IPv4 default route, with its interface's first IPv4 address.
fn default_ipv4(interfaces: &BTreeMap<String, InterfaceFacts>) -> Option<DefaultRoute> {
    let route = routes::default_ipv4()?;
    let address = interfaces
        .get(&route.interface)
        .and_then(|i| i.ipv4.first())
        .map(|a| a.address.clone())
        .unwrap_or_default();
    Some(DefaultRoute {
        interface: route.interface,
        address,
        gateway: route.gateway,
    })
}

/// The IPv6 default route, with its interface's first address that is not link-local (else
/// its first).
fn default_ipv6(interfaces: &BTreeMap<String, InterfaceFacts>) -> Option<DefaultRoute> {
    let route = routes::default_ipv6()?;
    let address = interfaces
        .get(&route.interface)
        .and_then(|i| {
            i.ipv6
                .iter()
                .find(|a| !a.address.starts_with("fe80"))
                .or(i.ipv6.first())
        })
        .map(|a| a.address.clone())
        .unwrap_or_default();
    Some(DefaultRoute {
        interface: route.interface,
        address,
        gateway: route.gateway,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_family_comes_from_id_like() {
        let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n";
        let os = os_facts(&OsRelease::parse(ubuntu));
        assert_eq!(os.family, "debian");
        assert_eq!(os.name, "Ubuntu");
        assert_eq!(os.version, "24.04");
        assert_eq!(
            os_facts(&OsRelease::parse(
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"
            ))
            .family,
            "redhat"
        );
    }

    #[test]
    fn gathered_facts_are_consistent() {
        let facts = HostFacts::gather();
        assert!(facts.cpu.count >= 1);
        assert!(facts.memory.total_bytes > 0);
        assert!(facts.boot_time > 0);
        assert!(facts.mounts.contains_key("/"));
        assert!(facts.interfaces.contains_key("lo"));
        let lo = &facts.interfaces["lo"];
        assert!(
            lo.ipv4
                .iter()
                .any(|a| a.address == "127.0.0.1" && a.prefix == 8)
        );
    }
}
