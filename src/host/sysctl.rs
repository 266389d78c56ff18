//! Kernel parameters as `/proc/sys` shows them (`sysctl -n`), read-only.

use std::io;

/// The directory of the kernel parameters.
pub const PROC_SYS: &str = "/proc/sys";

/// The file of a parameter under `/proc/sys`: `net.ipv4.ip_forward` is `net/ipv4/ip_forward`;
/// a name written with slashes (`net/ipv4/conf/eth0.100/forwarding`, for an interface whose
/// name has a dot) keeps its dots, as `sysctl(8)` reads it. `None` for a name that would leave
/// `/proc/sys` or is empty.
pub fn path_of(name: &str) -> Option<String> {
    let relative = if name.contains('/') {
        name.to_owned()
    } else {
        name.replace('.', "/")
    };
    let plain = relative
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    plain.then(|| format!("{PROC_SYS}/{relative}"))
}

/// A value as the kernel prints it, words separated by one space (`32768\t60999` is
/// `32768 60999`): what two values are compared as.
pub fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The current value of a parameter, normalized; `None` when the kernel has no such
/// parameter (in this network namespace, for `net.*`).
pub fn read(name: &str) -> io::Result<Option<String>> {
    let Some(path) = path_of(name) else {
        return Ok(None);
    };
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(normalize(&String::from_utf8_lossy(&bytes)))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_files_under_proc_sys() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").as_deref(),
            Some("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of("net/ipv4/conf/eth0.100/forwarding").as_deref(),
            Some("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
        assert_eq!(path_of("net/../../etc/passwd"), None);
        assert_eq!(path_of("net..ipv4"), None);
        assert_eq!(path_of(""), None);
    }

    #[test]
    fn values_compare_by_words() {
        assert_eq!(normalize("32768\t60999\n"), "32768 60999");
        assert_eq!(normalize("1\n"), "1");
    }
}
