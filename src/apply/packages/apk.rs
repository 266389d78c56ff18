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
            return Err(format!("apk policy failed (exit {}): {}", finished.rc, finished.complaint()));
        }
        Ok(parse_policy(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut out = Vec::new();
        if !change.install.is_empty() {
            let mut argv = vec!["apk".to_owned(), "add".into(), "--no-interactive".into(), "--".into()];
            argv.extend(change.install.iter().map(|(name, version)| format!("{name}={version}")));
            out.push(Invocation::new(argv));
        }
        if !change.remove.is_empty() {
            let mut argv = vec!["apk".to_owned(), "del".into(), "--no-interactive".into(), "--".into()];
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
        if let Some(header) = line.strip_suffix(" policy:").filter(|_| !line.starts_with(' ')) {
            name = Some(header.to_owned());
            version = None;
            out.entry(header.to_owned()).or_insert_with(|| Versions {
                available: Some(Vec::new()),
                ..Versions::default()
            });
            continue;
        }
        let Some(entry) = name.as_ref().and_then(|n| out.get_mut(n)) else { continue };
        if line.starts_with("    ") {
            let source = line.trim();
            let Some(version) = &version else { continue };
            if source == "lib/apk/db/installed" || source.ends_with("/installed") {
                entry.installed = Some(version.clone());
            } else if !source.starts_with('@') && entry.candidate.is_none() {
                entry.candidate = Some(version.clone());
            }
        } else if let Some(v) = line.strip_prefix("  ").and_then(|l| l.trim_end().strip_suffix(':')) {
            // apk 3 may annotate a version: `1.2.3.5 (upgradeable):`.
            let v = v.split_whitespace().next().unwrap_or(v).to_owned();
            if let Some(available) = entry.available.as_mut() {
                available.push(v.clone());
            }
            version = Some(v);
        }
    }
    out
}
