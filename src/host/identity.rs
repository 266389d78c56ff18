//! Who the host is: its hostname, domain name, fully qualified name, machine id, and the
//! kernel's `uname(2)`.

use super::procfs::read_trimmed;

/// A file's trimmed content, `None` when it cannot be read or is empty.
fn nonempty(path: &str) -> Option<String> {
    read_trimmed(path).filter(|s| !s.is_empty())
}

/// The kernel's hostname (uname's `nodename`, also `/proc/sys/kernel/hostname`).
pub fn hostname() -> Option<String> {
    uname().map(|u| u.nodename).filter(|h| !h.is_empty())
}

/// The kernel's NIS domain name, `None` when unset (`(none)`).
pub fn domainname() -> Option<String> {
    uname()
        .map(|u| u.domainname)
        .filter(|d| !d.is_empty() && d != "(none)")
}

/// The canonical name: the kernel's domain name when set, else the first name of the
/// `/etc/hosts` line that lists the hostname (what `hostname -f` finds through the resolver on
/// a typical host), else the hostname.
pub fn fqdn(hostname: &str) -> String {
    if hostname.contains('.') {
        return hostname.to_owned();
    }
    if let Some(domain) = domainname() {
        return format!("{hostname}.{domain}");
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    fqdn_in_hosts(&hosts, hostname).unwrap_or_else(|| hostname.to_owned())
}

fn fqdn_in_hosts(hosts: &str, hostname: &str) -> Option<String> {
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
}

/// `/etc/machine-id` (or D-Bus's copy); `None` when the host has none.
pub fn machine_id() -> Option<String> {
    nonempty("/etc/machine-id").or_else(|| nonempty("/var/lib/dbus/machine-id"))
}

/// The kernel's uname fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

pub fn uname() -> Option<Uname> {
    let mut buf = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: buf points to writable memory of the right size; uname fills it on success.
    if unsafe { libc::uname(buf.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: uname returned 0, so buf is initialised.
    let u = unsafe { buf.assume_init() };
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some(Uname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
        domainname: field(&u.domainname),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_reads() {
        let u = uname().unwrap_or_default();
        assert_eq!(u.sysname, "Linux");
    }

    #[test]
    fn fqdn_comes_from_the_hosts_line_naming_the_host() {
        let hosts =
            "127.0.0.1 localhost\n# 10.0.0.1 web.old web\n10.0.0.2 web.example.org web # x\n";
        assert_eq!(
            fqdn_in_hosts(hosts, "web").as_deref(),
            Some("web.example.org")
        );
        assert_eq!(fqdn_in_hosts(hosts, "db"), None);
        assert_eq!(fqdn("a.b"), "a.b");
    }
}
