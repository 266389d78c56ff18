//! The built-in facts every template can use: `facts.hostname`, `facts.os.family`, …
//!
//! Read straight from `/proc`, `/etc` and the kernel's uname fields: a few small reads, no
//! subprocess, so gathering them costs well under a millisecond.

use std::fs;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostFacts {
    pub hostname: String,
    pub fqdn: String,
    pub os: OsFacts,
    pub arch: String,
    pub kernel: String,
    pub cpu: CpuFacts,
    pub memory: MemoryFacts,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OsFacts {
    /// Lowercase family, as Ansible's `os_family` lowercased: `debian`, `redhat`, `alpine`, …
    pub family: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuFacts {
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemoryFacts {
    pub total_bytes: u64,
}

impl HostFacts {
    pub fn gather() -> Self {
        let hostname =
            read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into());
        let fqdn = fqdn(&hostname);
        let os_release = fs::read_to_string("/etc/os-release")
            .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
            .unwrap_or_default();
        HostFacts {
            fqdn,
            os: os_facts(&os_release),
            arch: std::env::consts::ARCH.to_owned(),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            cpu: CpuFacts {
                count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
            memory: MemoryFacts {
                total_bytes: mem_total(&fs::read_to_string("/proc/meminfo").unwrap_or_default()),
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
    }
}

fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
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
    fn mem_total_is_in_bytes() {
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            16384 * 1024
        );
    }
}
