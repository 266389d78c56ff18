//! apk (Alpine). The query is `apk policy n1 n2 …`: for each package, every version the
//! repositories offer, newest first, each followed by where it comes from; the installed one
//! is followed by `lib/apk/db/installed` (apk 2) or `<layer>/installed` (apk 3). The
//! candidate is the newest version from an untagged repository (a tagged one, `@testing`, is
//! used only when pinned). `apk add name=version` pins; `apk del` removes: two commands.

use std::collections::BTreeMap;

use super::{Change, Manager, Versions};
use crate::process::{Finished, Invocation};

pub struct Apk;

impl Manager for Apk {
    fn query(&self, names: &[&str]) -> Invocation {
        let mut argv = vec!["apk", "policy", "--"];
        argv.extend_from_slice(names);
        Invocation::new(argv)
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        if !finished.success() {
            return Err(format!(
                "apk policy failed (exit {}): {}",
                finished.rc,
                finished.complaint()
            ));
        }
        Ok(parse_policy(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut out = Vec::new();
        if !change.install.is_empty() {
            let mut argv = vec![
                "apk".to_owned(),
                "add".into(),
                "--no-interactive".into(),
                "--".into(),
            ];
            argv.extend(
                change
                    .install
                    .iter()
                    .map(|(name, version)| format!("{name}={version}")),
            );
            out.push(Invocation::new(argv));
        }
        if !change.remove.is_empty() {
            let mut argv = vec![
                "apk".to_owned(),
                "del".into(),
                "--no-interactive".into(),
                "--".into(),
            ];
            argv.extend(change.remove.iter().cloned());
            out.push(Invocation::new(argv));
        }
        out
    }

    fn refresh(&self) -> Invocation {
        Invocation::new(["apk", "update"])
    }
}

/// Parses `apk policy` output: `name policy:`, then `  version:` lines (two spaces), each
/// followed by its sources (four spaces).
pub fn parse_policy(text: &str) -> BTreeMap<String, Versions> {
    let mut out: BTreeMap<String, Versions> = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    for line in text.lines() {
        if let Some(header) = line
            .strip_suffix(" policy:")
            .filter(|_| !line.starts_with(' '))
        {
            name = Some(header.to_owned());
            version = None;
            out.entry(header.to_owned()).or_insert_with(|| Versions {
                available: Some(Vec::new()),
                ..Versions::default()
            });
            continue;
        }
        let Some(entry) = name.as_ref().and_then(|n| out.get_mut(n)) else {
            continue;
        };
        if line.starts_with("    ") {
            let source = line.trim();
            let Some(version) = &version else { continue };
            if source == "lib/apk/db/installed" || source.ends_with("/installed") {
                entry.installed = Some(version.clone());
            } else if !source.starts_with('@') && entry.candidate.is_none() {
                entry.candidate = Some(version.clone());
            }
        } else if let Some(v) = line
            .strip_prefix("  ")
            .and_then(|l| l.trim_end().strip_suffix(':'))
        {
            // A version may be annotated: `1.2.3.5 (upgradeable):`, `1.2.3.4 (installed):`.
            let mut words = v.split_whitespace();
            let v = words.next().unwrap_or(v).to_owned();
            if words.any(|w| w == "(installed)") {
                entry.installed = Some(v.clone());
            }
            if let Some(available) = entry.available.as_mut() {
                available.push(v.clone());
            }
            version = Some(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_gives_the_installed_version_and_the_newest_untagged_one() {
        let parsed = parse_policy(include_str!("../../../tests/data/packages/apk-policy.txt"));
        let zlib = &parsed["zlib1g"];
        assert_eq!(zlib.installed.as_deref(), Some("1.2.3.4"));
        // 2.0 and 1.7 come from tagged repositories: installed only when asked for by tag.
        assert_eq!(zlib.candidate.as_deref(), Some("1.2.3.5"));
        assert_eq!(zlib.available.as_ref().map(Vec::len), Some(5));
    }

    #[test]
    fn the_installed_database_line_of_apk_2_marks_the_installed_version() {
        let parsed = parse_policy(
            "busybox policy:\n  1.36.1-r15:\n    lib/apk/db/installed\n    https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n",
        );
        assert_eq!(parsed["busybox"].installed.as_deref(), Some("1.36.1-r15"));
        assert_eq!(parsed["busybox"].candidate.as_deref(), Some("1.36.1-r15"));
    }
}
