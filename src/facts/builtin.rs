//! The built-in facts every template can use: `facts.hostname`, `facts.os.family`, …
//!
//! Read straight from `/proc`, `/sys`, `/etc`, `getifaddrs(3)` and `statfs(2)`: small reads,
//! no subprocess, so gathering them costs about a millisecond.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::procfs;

#[derive(Debug, Clone, Serialize, PartialEq)]
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
    pub uptime_seconds: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VirtualizationFacts {
    /// `kvm`, `qemu`, `vmware`, `virtualbox`, `xen`, `hyperv`, `amazon`, `google`, `docker`,
    /// `podman`, `lxc`, `container` (another container runtime), or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `guest` inside a VM or container, `host` otherwise.
    pub role: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SwapFacts {
    pub total_bytes: u64,
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InterfaceFacts {
    /// The hardware address (`aa:bb:…`), empty when the interface has none.
    pub mac: String,
    pub mtu: Option<u64>,
    /// The kernel's operstate: `up`, `down`, `unknown`, …
    pub state: String,
    pub ipv4: Vec<AddressFacts>,
    pub ipv6: Vec<AddressFacts>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AddressFacts {
    pub address: String,
    pub prefix: u8,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DefaultRoute {
    pub interface: String,
    /// The interface's first address of that family; empty when it has none.
    pub address: String,
    /// The next hop; empty for a direct route.
    pub gateway: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OsFacts {
    /// Lowercase family, as Ansible's `os_family` lowercased: `debian`, `redhat`, `alpine`, …
    pub family: String,
    pub name: String,
    pub version: String,
    /// `VERSION_CODENAME`, e.g. `bookworm`; empty when the OS does not say.
    pub codename: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuFacts {
    pub count: usize,
    /// The first CPU's model name from `/proc/cpuinfo`.
    pub model: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemoryFacts {
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl HostFacts {
    pub fn gather() -> Self {
        let hostname =
            read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into());
        let fqdn = fqdn(&hostname);
        let os_release = fs::read_to_string("/etc/os-release")
            .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
            .unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let interfaces = interfaces();
        let default_ipv4 = default_ipv4(&interfaces);
        let default_ipv6 = default_ipv6(&interfaces);
        let uptime_seconds = read_trimmed("/proc/uptime")
            .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        HostFacts {
            machine_id: read_trimmed("/etc/machine-id")
                .or_else(|| read_trimmed("/var/lib/dbus/machine-id"))
                .unwrap_or_default(),
            virtualization: virtualization(),
            swap: SwapFacts {
                total_bytes: meminfo_bytes(&meminfo, "SwapTotal:"),
                free_bytes: meminfo_bytes(&meminfo, "SwapFree:"),
            },
            mounts: mounts(),
            interfaces,
            default_ipv4,
            default_ipv6,
            boot_time: fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("btime "))
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0),
            uptime_seconds,
            fqdn,
            os: os_facts(&os_release),
            arch: std::env::consts::ARCH.to_owned(),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            cpu: CpuFacts {
                count: std::thread::available_parallelism().map_or(1, |n| n.get()),
                model: cpu_model(&fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
            },
            memory: MemoryFacts {
                total_bytes: mem_total(&meminfo),
                available_bytes: meminfo_bytes(&meminfo, "MemAvailable:"),
            },
            hostname,
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The canonical name: the kernel's domain name when set, else the first name of the
/// `/etc/hosts` line that lists the hostname (what `hostname -f` finds through the resolver on
/// a typical host), else the hostname.
fn fqdn(hostname: &str) -> String {
    if hostname.contains('.') {
        return hostname.to_owned();
    }
    if let Some(domain) = read_trimmed("/proc/sys/kernel/domainname").filter(|d| d != "(none)") {
        return format!("{hostname}.{domain}");
    }
    let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter_map(|line| {
            let mut names = line.split_whitespace().skip(1);
            let canonical = names.next()?;
            let listed = canonical == hostname || names.any(|n| n == hostname);
            (listed && canonical.contains('.')).then(|| canonical.to_owned())
        })
        .next()
        .unwrap_or_else(|| hostname.to_owned())
}

fn os_release_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(value.trim().trim_matches('"').trim_matches('\''))
    })
}

fn os_facts(os_release: &str) -> OsFacts {
    let id = os_release_field(os_release, "ID").unwrap_or("linux");
    let like = os_release_field(os_release, "ID_LIKE").unwrap_or("");
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
        name: os_release_field(os_release, "NAME")
            .unwrap_or(id)
            .to_owned(),
        version: os_release_field(os_release, "VERSION_ID")
            .unwrap_or("")
            .to_owned(),
        codename: os_release_field(os_release, "VERSION_CODENAME")
            .unwrap_or("")
            .to_owned(),
    }
}

fn mem_total(meminfo: &str) -> u64 {
    meminfo_bytes(meminfo, "MemTotal:")
}

fn meminfo_bytes(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            matches!(
                key.trim(),
                "model name" | "Model" | "cpu model" | "Processor"
            )
            .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Container first (a container in a VM is best described as the container), then the
/// hypervisor from DMI, `/sys/hypervisor` and the CPU's `hypervisor` flag.
fn virtualization() -> VirtualizationFacts {
    let guest = |kind: &str| VirtualizationFacts {
        kind: kind.to_owned(),
        role: "guest".to_owned(),
    };
    if fs::metadata("/.dockerenv").is_ok() {
        return guest("docker");
    }
    if fs::metadata("/run/.containerenv").is_ok() {
        return guest("podman");
    }
    if let Ok(environ) = fs::read("/proc/1/environ") {
        for var in environ.split(|b| *b == 0) {
            if let Some(value) = var.strip_prefix(b"container=") {
                let value = String::from_utf8_lossy(value).to_ascii_lowercase();
                return guest(match value.as_str() {
                    "docker" | "podman" | "lxc" => &value,
                    "lxc-libvirt" => "lxc",
                    _ => "container",
                });
            }
        }
    }
    let cgroup = fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    if cgroup.contains("/docker/") || cgroup.contains("/docker-") {
        return guest("docker");
    }
    if cgroup.contains("/lxc/") {
        return guest("lxc");
    }
    if cgroup.contains("/kubepods") {
        return guest("container");
    }
    let dmi = ["sys_vendor", "product_name", "bios_vendor"]
        .iter()
        .filter_map(|f| read_trimmed(&format!("/sys/class/dmi/id/{f}")))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let table = [
        ("kvm", "kvm"),
        ("qemu", "qemu"),
        ("vmware", "vmware"),
        ("virtualbox", "virtualbox"),
        ("innotek", "virtualbox"),
        ("xen", "xen"),
        ("microsoft corporation", "hyperv"),
        ("amazon ec2", "amazon"),
        ("google compute engine", "google"),
        ("openstack", "kvm"),
        ("firecracker", "kvm"),
    ];
    if let Some((_, kind)) = table.iter().find(|(needle, _)| dmi.contains(needle)) {
        return guest(kind);
    }
    if let Some(kind) = read_trimmed("/sys/hypervisor/type") {
        return guest(&kind);
    }
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
    {
        return guest("kvm");
    }
    VirtualizationFacts {
        kind: "none".to_owned(),
        role: "host".to_owned(),
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
    let text = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut out = BTreeMap::new();
    for m in procfs::parse_mounts(&text) {
        if PSEUDO_FS.contains(&m.fstype.as_str()) {
            continue;
        }
        let stats = if crate::facts::collectors::disk::NETWORK_FS.contains(&m.fstype.as_str()) {
            None
        } else {
            procfs::statfs(&m.mountpoint).ok()
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
    if let Ok(entries) = fs::read_dir("/sys/class/net") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = format!("/sys/class/net/{name}");
            out.insert(
                name,
                InterfaceFacts {
                    mac: read_trimmed(&format!("{dir}/address")).unwrap_or_default(),
                    mtu: read_trimmed(&format!("{dir}/mtu")).and_then(|m| m.parse().ok()),
                    state: read_trimmed(&format!("{dir}/operstate")).unwrap_or_default(),
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                },
            );
        }
    }
    for (name, addr, prefix) in interface_addresses() {
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

/// (interface, address, prefix length) for every IPv4 and IPv6 address.
fn interface_addresses() -> Vec<(String, IpAddr, u8)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list and stores its head in `head`; freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cursor };
        cursor = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null and points to a sockaddr whose family says its type.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        match family {
            libc::AF_INET => {
                // SAFETY: the family is AF_INET, so both are sockaddr_in (netmask may be null).
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: non-null netmask of an AF_INET address is a sockaddr_in.
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(mask.sin_addr.s_addr).count_ones() as u8
                };
                out.push((name, IpAddr::V4(ip), prefix));
            }
            libc::AF_INET6 => {
                // SAFETY: the family is AF_INET6, so both are sockaddr_in6.
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: non-null netmask of an AF_INET6 address is a sockaddr_in6.
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                    mask.sin6_addr
                        .s6_addr
                        .iter()
                        .map(|b| b.count_ones() as u8)
                        .sum()
                };
                out.push((name, IpAddr::V6(ip), prefix));
            }
            _ => {}
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The IPv4 default route with the lowest metric, from `/proc/net/route`.
fn default_ipv4(interfaces: &BTreeMap<String, InterfaceFacts>) -> Option<DefaultRoute> {
    let text = fs::read_to_string("/proc/net/route").ok()?;
    let (iface, gateway) = parse_default_ipv4(&text)?;
    let address = interfaces
        .get(&iface)
        .and_then(|i| i.ipv4.first())
        .map(|a| a.address.clone())
        .unwrap_or_default();
    Some(DefaultRoute {
        interface: iface,
        address,
        gateway,
    })
}

fn parse_default_ipv4(text: &str) -> Option<(String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, gateway, flags, metric, mask) = (
                f.first()?,
                f.get(1)?,
                f.get(2)?,
                f.get(3)?,
                f.get(6)?,
                f.get(7)?,
            );
            let up = u32::from_str_radix(flags, 16).ok()? & 1 == 1;
            (up && *dest == "00000000" && *mask == "00000000").then(|| {
                let gw = u32::from_str_radix(gateway, 16).unwrap_or(0);
                let gateway = if gw == 0 {
                    String::new()
                } else {
                    Ipv4Addr::from(u32::from_be(gw)).to_string()
                };
                (
                    metric.parse::<u64>().unwrap_or(u64::MAX),
                    iface.to_string(),
                    gateway,
                )
            })
        })
        .min_by_key(|(metric, _, _)| *metric)
        .map(|(_, iface, gw)| (iface, gw))
}

/// The IPv6 default route with the lowest metric, from `/proc/net/ipv6_route`.
fn default_ipv6(interfaces: &BTreeMap<String, InterfaceFacts>) -> Option<DefaultRoute> {
    let text = fs::read_to_string("/proc/net/ipv6_route").ok()?;
    let (metric, iface, gateway) = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[0] != "00000000000000000000000000000000" || f[1] != "00" {
                return None;
            }
            let iface = f[9];
            if iface == "lo" {
                return None;
            }
            let gw = u128::from_str_radix(f[4], 16).ok()?;
            let gateway = if gw == 0 {
                String::new()
            } else {
                Ipv6Addr::from(gw).to_string()
            };
            Some((
                u32::from_str_radix(f[5], 16).unwrap_or(u32::MAX),
                iface.to_owned(),
                gateway,
            ))
        })
        .min_by_key(|(metric, _, _)| *metric)?;
    let _ = metric;
    let address = interfaces
        .get(&iface)
        .and_then(|i| {
            i.ipv6
                .iter()
                .find(|a| !a.address.starts_with("fe80"))
                .or(i.ipv6.first())
        })
        .map(|a| a.address.clone())
        .unwrap_or_default();
    Some(DefaultRoute {
        interface: iface,
        address,
        gateway,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_family_comes_from_id_like() {
        let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n";
        let os = os_facts(ubuntu);
        assert_eq!(os.family, "debian");
        assert_eq!(os.name, "Ubuntu");
        assert_eq!(os.version, "24.04");
        assert_eq!(
            os_facts("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n").family,
            "redhat"
        );
    }

    #[test]
    fn default_route_is_parsed() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     eth1\t00000000\t0101A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n\
                     eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_default_ipv4(route),
            Some(("eth1".to_owned(), "192.168.1.1".to_owned()))
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

    #[test]
    fn mem_total_is_in_bytes() {
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            16384 * 1024
        );
    }
}
