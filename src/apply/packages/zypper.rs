//! zypper (SUSE). The query is `zypper search -s --match-exact -t package n1 n2 …` with
//! `--no-refresh` (planning fetches nothing): a table with a row per version of each package
//! (`S | Name | Type | Version | Arch | Repository`), the installed one marked `i` or `i+`
//! in the status column. The candidate is the newest version from a repository (`(System
//! Packages)` is the installed database). One transaction: `zypper install name=version
//! !removed`.

use std::collections::BTreeMap;

use super::{Change, Manager, Versions, compare_versions};
use crate::process::{Finished, Invocation};

pub struct Zypper;

/// zypper's exit code when no package matched (ZYPPER_EXIT_INF_CAP_NOT_FOUND).
const NOTHING_FOUND: i32 = 104;

impl Manager for Zypper {
    fn query(&self, names: &[&str]) -> Invocation {
        let mut argv = vec![
            "zypper",
            "--non-interactive",
            "--no-refresh",
            "search",
            "-s",
            "--match-exact",
            "-t",
            "package",
            "--",
        ];
        argv.extend_from_slice(names);
        Invocation::new(argv)
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        if !finished.success() && finished.rc != NOTHING_FOUND {
            return Err(format!(
                "zypper search failed (exit {}): {}",
                finished.rc,
                finished.complaint()
            ));
        }
        Ok(parse_search(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut argv: Vec<String> = [
            "zypper",
            "--non-interactive",
            "install",
            "--auto-agree-with-licenses",
            "--oldpackage",
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
        argv.extend(change.remove.iter().map(|name| format!("!{name}")));
        vec![Invocation::new(argv)]
    }

    fn refresh(&self) -> Invocation {
        Invocation::new(["zypper", "--non-interactive", "refresh"])
    }
}

/// Parses the `zypper search -s` table (rows after the `--+--` rule, columns split on `|`).
pub fn parse_search(text: &str) -> BTreeMap<String, Versions> {
    let mut out: BTreeMap<String, Versions> = BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("--+") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        let columns: Vec<&str> = line.split('|').map(str::trim).collect();
        let [status, name, kind, version, _arch, repository, ..] = columns[..] else {
            continue;
        };
        if kind != "package" {
            continue;
        }
        let entry = out.entry(name.to_owned()).or_insert_with(|| Versions {
            available: Some(Vec::new()),
            ..Versions::default()
        });
        if status.starts_with('i') {
            entry.installed = Some(version.to_owned());
        }
        if repository != "(System Packages)" {
            if let Some(available) = entry.available.as_mut() {
                available.push(version.to_owned());
            }
            if entry
                .candidate
                .as_deref()
                .is_none_or(|c| compare_versions(version, c).is_gt())
            {
                entry.candidate = Some(version.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_not_installed_has_its_repository_version_as_candidate() {
        let parsed = parse_search(include_str!(
            "../../../tests/data/packages/zypper-se-yq.txt"
        ));
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed["yq"].installed, None);
        assert_eq!(parsed["yq"].candidate.as_deref(), Some("4.18.1-bp154.1.17"));
    }

    #[test]
    fn one_transaction_installs_and_removes() {
        let change = Change {
            install: vec![("yq".into(), "4.18.1-bp154.1.17".into())],
            remove: vec!["jq".into()],
        };
        let invocations = Zypper.transaction(&change);
        assert_eq!(invocations.len(), 1);
        let argv: Vec<String> = invocations[0]
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&argv[argv.len() - 2..], ["yq=4.18.1-bp154.1.17", "!jq"]);
    }
}
