//! apt and dpkg. Installed versions are read from dpkg's status file ([`crate::host::dpkg`]);
//! the query, for the packages whose candidate decides something, is `apt-cache policy n1 n2
//! …`: for each package it knows, the installed version, the candidate, and the version table
//! (every version it could install).
//! It is told not to write its binary cache (`Dir::Cache::pkgcache=`): planning writes
//! nothing. The transaction is one `apt-get install` with `name=version` for each install or
//! upgrade and `name-` for each removal; no prompt ever (`-y`, `DEBIAN_FRONTEND=noninteractive`)
//! and conffiles the admin changed are kept (`--force-confdef --force-confold`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::{Change, Manager, Versions};
use crate::process::{Finished, Invocation};

/// Where apt keeps the package index: its age is the age of the index.
const LISTS: &str = "/var/lib/apt/lists";

pub struct Apt;

fn none_or(version: &str) -> Option<String> {
    (version != "(none)").then(|| version.to_owned())
}

/// The environment every apt invocation gets: no question is ever asked.
fn quiet(invocation: Invocation) -> Invocation {
    invocation
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("APT_LISTCHANGES_FRONTEND", "none")
}

impl Manager for Apt {
    fn query(&self, names: &[&str]) -> Invocation {
        let mut argv = vec![
            "apt-cache",
            "-o",
            "Dir::Cache::pkgcache=",
            "-o",
            "Dir::Cache::srcpkgcache=",
            "policy",
            "--",
        ];
        argv.extend_from_slice(names);
        quiet(Invocation::new(argv))
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        if !finished.success() {
            return Err(format!(
                "apt-cache policy failed (exit {}): {}",
                finished.rc,
                finished.complaint()
            ));
        }
        Ok(parse_policy(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut argv: Vec<String> = [
            "apt-get",
            "-y",
            "-q",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            "--allow-downgrades",
            "install",
            "--",
        ]
        .map(str::to_owned)
        .to_vec();
        argv.extend(
            change
                .install
                .iter()
                .map(|(name, version)| format!("{name}={version}")),
        );
        argv.extend(change.remove.iter().map(|name| format!("{name}-")));
        vec![quiet(Invocation::new(argv))]
    }

    fn refresh(&self) -> Invocation {
        quiet(Invocation::new(["apt-get", "-q", "update"]))
    }

    fn index_age(&self) -> Option<std::time::Duration> {
        let modified = std::fs::metadata(LISTS).and_then(|m| m.modified()).ok()?;
        Some(
            SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default(),
        )
    }

    fn installed_database(&self) -> Option<Result<BTreeMap<String, String>, String>> {
        Some(
            crate::host::dpkg::installed()
                .map_err(|e| format!("cannot read {}: {e}", crate::host::dpkg::STATUS)),
        )
    }

    fn refreshed(&self) {
        // `apt-get update` leaves the lists untouched when nothing changed upstream: the time
        // of the refresh is recorded on the directory, for the next `cache_valid_time`.
        if let Ok(dir) = std::fs::File::open(LISTS) {
            let _ = dir.set_modified(SystemTime::now());
        }
    }
}

/// Parses `apt-cache policy` output: a `name:` line per package, then `Installed:`,
/// `Candidate:` and the version table (version lines indented by 5, `***` marking the
/// installed one; their sources indented by 8).
pub fn parse_policy(text: &str) -> BTreeMap<String, Versions> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Versions)> = None;
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            if let Some((name, versions)) = current.take() {
                out.insert(name, versions);
            }
            if let Some(name) = line.strip_suffix(':') {
                current = Some((
                    name.to_owned(),
                    Versions {
                        available: Some(Vec::new()),
                        ..Versions::default()
                    },
                ));
                in_table = false;
            }
            continue;
        }
        let Some((_, versions)) = current.as_mut() else {
            continue;
        };
        let trimmed = line.trim_start();
        if let Some(v) = trimmed.strip_prefix("Installed:") {
            versions.installed = none_or(v.trim());
        } else if let Some(v) = trimmed.strip_prefix("Candidate:") {
            versions.candidate = none_or(v.trim());
        } else if trimmed.starts_with("Version table:") {
            in_table = true;
        } else if in_table && line.len() - trimmed.len() < 8 {
            let entry = trimmed.trim_start_matches("***").trim_start();
            if let (Some(version), Some(available)) =
                (entry.split_whitespace().next(), versions.available.as_mut())
            {
                available.push(version.to_owned());
            }
        }
    }
    if let Some((name, versions)) = current {
        out.insert(name, versions);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded on Debian 12 (`apt-cache policy bash dpkg nosuchpackage`): the unknown name
    /// prints nothing.
    const POLICY: &str = "bash:
  Installed: 5.2.15-2+b8
  Candidate: 5.2.15-2+b13
  Version table:
     5.2.15-2+b13 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 5.2.15-2+b8 100
        100 /var/lib/dpkg/status
dpkg:
  Installed: (none)
  Candidate: 1.21.23
  Version table:
     1.21.23 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
";

    #[test]
    fn policy_gives_installed_candidate_and_every_version() {
        let parsed = parse_policy(POLICY);
        assert_eq!(parsed.len(), 2);
        let bash = &parsed["bash"];
        assert_eq!(bash.installed.as_deref(), Some("5.2.15-2+b8"));
        assert_eq!(bash.candidate.as_deref(), Some("5.2.15-2+b13"));
        assert_eq!(
            bash.available.as_deref(),
            Some(&["5.2.15-2+b13".to_owned(), "5.2.15-2+b8".to_owned()][..])
        );
        assert_eq!(parsed["dpkg"].installed, None);
        assert_eq!(parsed["dpkg"].candidate.as_deref(), Some("1.21.23"));
    }

    #[test]
    fn one_transaction_pins_installs_and_removes() {
        let change = Change {
            install: vec![("nginx".into(), "1.22.1-9+deb12u1".into())],
            remove: vec!["apache2".into()],
        };
        let invocations = Apt.transaction(&change);
        assert_eq!(invocations.len(), 1);
        let argv: Vec<String> = invocations[0]
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            &argv[argv.len() - 3..],
            ["--", "nginx=1.22.1-9+deb12u1", "apache2-"]
        );
        assert!(argv.contains(&"Dpkg::Options::=--force-confold".to_owned()));
        assert!(
            invocations[0]
                .env
                .iter()
                .any(|(k, v)| k == "DEBIAN_FRONTEND" && v == "noninteractive")
        );
    }
}
