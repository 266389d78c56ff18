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
        Invocation::new([
            "pacman".to_owned(),
            "-Ss".into(),
            "--".into(),
            exact_names(names),
        ])
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        // Nothing matched: exit 1 and no output.
        let none_matched = finished.rc == 1 && finished.stdout.is_empty();
        if !finished.success() && !none_matched {
            return Err(format!(
                "pacman -Ss failed (exit {}): {}",
                finished.rc,
                finished.complaint()
            ));
        }
        Ok(parse_search(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut out = Vec::new();
        if !change.install.is_empty() {
            let mut argv = vec![
                "pacman".to_owned(),
                "-S".into(),
                "--noconfirm".into(),
                "--needed".into(),
                "--".into(),
            ];
            argv.extend(change.install.iter().map(|(name, _)| name.clone()));
            out.push(Invocation::new(argv));
        }
        if !change.remove.is_empty() {
            let mut argv = vec![
                "pacman".to_owned(),
                "-R".into(),
                "--noconfirm".into(),
                "--".into(),
            ];
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
        let (Some(repo_name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((_, name)) = repo_name.split_once('/') else {
            continue;
        };
        let installed = if let Some(at) = line.find("[installed: ") {
            line[at + "[installed: ".len()..]
                .split(']')
                .next()
                .map(str::to_owned)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_output_gives_installed_and_sync_versions() {
        let parsed = parse_search(include_str!(
            "../../../tests/data/packages/pacman-ss-atom.txt"
        ));
        assert_eq!(parsed.len(), 11);
        assert_eq!(parsed["boost-libs"].installed.as_deref(), Some("1.72.0-1"));
        assert_eq!(
            parsed["xorg-xlsatoms"].installed.as_deref(),
            Some("1.1.3-1"),
            "after its groups"
        );
        assert_eq!(parsed["atom"].installed, None);
        assert_eq!(parsed["atom"].candidate.as_deref(), Some("1.44.0-1"));
    }

    #[test]
    fn an_older_installed_version_is_named_in_the_marker() {
        // pacman's sync_search prints ` [installed: <local version>]` when they differ.
        let parsed = parse_search(
            "core/openssl 3.2.1-1 [installed: 3.2.0-1]\n    The Open Source toolkit\n",
        );
        assert_eq!(parsed["openssl"].installed.as_deref(), Some("3.2.0-1"));
        assert_eq!(parsed["openssl"].candidate.as_deref(), Some("3.2.1-1"));
    }

    #[test]
    fn the_query_is_one_anchored_expression_with_dots_and_pluses_escaped() {
        let argv = Pacman.query(&["gtk+", "python3.11"]).argv;
        assert_eq!(
            argv.last()
                .map(|a| a.to_string_lossy().into_owned())
                .as_deref(),
            Some("^(gtk\\+|python3\\.11)$")
        );
    }
}
