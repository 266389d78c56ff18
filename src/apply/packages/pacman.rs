//! pacman (Arch). The query is one `pacman -Ss '^(n1|n2|…)$'`: every sync-database package
//! whose name matches, as `repo/name version [installed]` or `[installed: other-version]`
//! (the names are validated to letters, digits and `+ . _ -`; the dots and pluses are
//! escaped). The candidate is the sync version; pacman installs only it, so a pinned
//! `version` must be the candidate. Installs are one `pacman -S --needed`, removals one
//! `pacman -R`. A package installed but in no sync database is not seen by this query.

use std::collections::BTreeMap;

use super::{Change, Manager, Versions};
use crate::process::{Finished, Invocation};

pub struct Pacman;

/// The extended regular expression matching exactly these names.
fn exact_names(names: &[&str]) -> String {
    let escaped: Vec<String> = names
        .iter()
        .map(|name| name.replace('.', "\\.").replace('+', "\\+"))
        .collect();
    format!("^({})$", escaped.join("|"))
}

impl Manager for Pacman {
    fn query(&self, names: &[&str]) -> Invocation {
        Invocation::new(["pacman".to_owned(), "-Ss".into(), "--".into(), exact_names(names)])
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        // Nothing matched: exit 1 and no output.
        let none_matched = finished.rc == 1 && finished.stdout.is_empty();
        if !finished.success() && !none_matched {
            return Err(format!("pacman -Ss failed (exit {}): {}", finished.rc, finished.complaint()));
        }
        Ok(parse_search(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut out = Vec::new();
        if !change.install.is_empty() {
            let mut argv = vec!["pacman".to_owned(), "-S".into(), "--noconfirm".into(), "--needed".into(), "--".into()];
            argv.extend(change.install.iter().map(|(name, _)| name.clone()));
            out.push(Invocation::new(argv));
        }
        if !change.remove.is_empty() {
            let mut argv = vec!["pacman".to_owned(), "-R".into(), "--noconfirm".into(), "--".into()];
            argv.extend(change.remove.iter().cloned());
            out.push(Invocation::new(argv));
        }
        out
    }

    fn refresh(&self) -> Invocation {
        Invocation::new(["pacman", "-Sy", "--noconfirm"])
    }

    fn pins_versions(&self) -> bool {
        false
    }
}

/// Parses `pacman -Ss` output: an unindented `repo/name version [(groups)] [[installed…]]`
/// line per package, its description indented under it.
pub fn parse_search(text: &str) -> BTreeMap<String, Versions> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with(char::is_whitespace)) {
        let mut words = line.split_whitespace();
        let (Some(repo_name), Some(version)) = (words.next(), words.next()) else { continue };
        let Some((_, name)) = repo_name.split_once('/') else { continue };
        let installed = if let Some(at) = line.find("[installed: ") {
            line[at + "[installed: ".len()..].split(']').next().map(str::to_owned)
        } else if line.contains("[installed]") {
            Some(version.to_owned())
        } else {
            None
        };
        // The first repository listing a name is the one pacman installs from.
        out.entry(name.to_owned()).or_insert(Versions {
            installed,
            candidate: Some(version.to_owned()),
            available: None,
        });
    }
    out
}
