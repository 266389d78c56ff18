//! The dpkg database: which packages are installed, at which version — read from dpkg's status
//! file (what `dpkg-query -W` reads), without starting a program. The package type observes
//! installed packages with it, and asks apt only for the candidates that decide something.

use std::collections::BTreeMap;

/// dpkg's status file.
pub const STATUS: &str = "/var/lib/dpkg/status";

/// Every installed package (status `installed`) and its version.
pub fn installed() -> std::io::Result<BTreeMap<String, String>> {
    Ok(parse_status(&std::fs::read_to_string(STATUS)?))
}

/// Parses a status file: paragraphs of `Field: value` lines, separated by blank lines. A
/// package removed with its conffiles kept (`config-files`), or half installed, is not
/// installed.
pub fn parse_status(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for paragraph in text.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, None, false);
        for line in paragraph.lines() {
            if let Some(value) = line.strip_prefix("Package:") {
                name = Some(value.trim());
            } else if let Some(value) = line.strip_prefix("Version:") {
                version = Some(value.trim());
            } else if let Some(value) = line.strip_prefix("Status:") {
                installed = value.split_whitespace().nth(2) == Some("installed");
            }
        }
        if let (Some(name), Some(version), true) = (name, version, installed) {
            // Multi-Arch: same packages appear once per architecture, at one version.
            out.entry(name.to_owned())
                .or_insert_with(|| version.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_installed_packages_count() {
        let status = "Package: bash\nStatus: install ok installed\nPriority: required\nVersion: 5.2.15-2+b8\n\n\
                      Package: nginx\nStatus: deinstall ok config-files\nVersion: 1.22.1-9\n\n\
                      Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\n\n\
                      Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36-9+deb12u7\n";
        let installed = parse_status(status);
        assert_eq!(installed.len(), 2);
        assert_eq!(installed["bash"], "5.2.15-2+b8");
        assert!(!installed.contains_key("nginx"));
    }

    #[test]
    fn this_hosts_database_reads() {
        // The test machine is Debian: its own database is there to read.
        let installed = installed().expect("read the dpkg status file");
        assert!(installed.contains_key("dpkg"));
    }
}
