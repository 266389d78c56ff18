//! dnf and yum (same commands, same output). The query is `dnf -q -C list n1 n2 …`: an
//! "Installed Packages" section (the installed version) and an "Available Packages" section
//! (versions newer than the installed one, or the newest when none is installed: the
//! candidate), from the cached metadata only (`-C`: planning fetches nothing). Versions are
//! `[epoch:]version-release`, pinned as `name-[epoch:]version-release`. dnf's command line
//! cannot install and remove in one transaction: installs are one `install`, removals one
//! `remove`.

use std::collections::BTreeMap;

use super::{Change, Manager, Versions, compare_versions};
use crate::process::{Finished, Invocation};

pub struct Dnf {
    program: &'static str,
}

impl Dnf {
    pub const DNF: Dnf = Dnf { program: "dnf" };
    pub const YUM: Dnf = Dnf { program: "yum" };
}

impl Manager for Dnf {
    fn query(&self, names: &[&str]) -> Invocation {
        let mut argv = vec![self.program, "-q", "-C", "list", "--"];
        argv.extend_from_slice(names);
        Invocation::new(argv)
    }

    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String> {
        // None of the names known: exit 1, "Error: No matching Packages to list".
        let none_matched =
            finished.rc == 1 && finished.stderr_text().contains("No matching Packages");
        if !finished.success() && !none_matched {
            return Err(format!(
                "{} list failed (exit {}): {}",
                self.program,
                finished.rc,
                finished.complaint()
            ));
        }
        Ok(parse_list(&finished.stdout_text()))
    }

    fn transaction(&self, change: &Change) -> Vec<Invocation> {
        let mut out = Vec::new();
        if !change.install.is_empty() {
            let mut argv = vec![
                self.program.to_owned(),
                "-y".into(),
                "install".into(),
                "--".into(),
            ];
            argv.extend(
                change
                    .install
                    .iter()
                    .map(|(name, version)| format!("{name}-{version}")),
            );
            out.push(Invocation::new(argv));
        }
        if !change.remove.is_empty() {
            let mut argv = vec![
                self.program.to_owned(),
                "-y".into(),
                "remove".into(),
                "--".into(),
            ];
            argv.extend(change.remove.iter().cloned());
            out.push(Invocation::new(argv));
        }
        out
    }

    fn refresh(&self) -> Invocation {
        Invocation::new([self.program, "-y", "-q", "makecache"])
    }
}

#[derive(PartialEq)]
enum Section {
    None,
    Installed,
    Available,
}

/// Parses `dnf list` output. An entry is `name.arch version repo`; a name too long for its
/// column is printed alone and the rest of the entry on the next line.
pub fn parse_list(text: &str) -> BTreeMap<String, Versions> {
    let mut out: BTreeMap<String, Versions> = BTreeMap::new();
    let mut section = Section::None;
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        match line.trim() {
            "Installed Packages" => {
                section = Section::Installed;
                pending.clear();
                continue;
            }
            "Available Packages" | "Available Upgrades" => {
                section = Section::Available;
                pending.clear();
                continue;
            }
            _ => {}
        }
        if section == Section::None {
            continue;
        }
        pending.extend(line.split_whitespace());
        if pending.len() < 3 {
            continue;
        }
        let (name_arch, version) = (pending[0], pending[1].to_owned());
        pending.clear();
        // Plugins' chatter is no entry: an entry is `name.arch` and a version from a digit.
        let (Some((name, _arch)), true) = (
            name_arch.rsplit_once('.'),
            version.starts_with(|c: char| c.is_ascii_digit()),
        ) else {
            continue;
        };
        let entry = out.entry(name.to_owned()).or_default();
        let slot = match section {
            Section::Installed => &mut entry.installed,
            _ => &mut entry.candidate,
        };
        // Several architectures or versions: the newest.
        if slot
            .as_deref()
            .is_none_or(|v| compare_versions(&version, v).is_gt())
        {
            *slot = Some(version);
        }
    }
    for versions in out.values_mut() {
        if versions.candidate.is_none() {
            versions.candidate = versions.installed.clone();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_entries_and_epochs_are_read() {
        let parsed = parse_list(include_str!(
            "../../../tests/data/packages/yum-list-wrapped.txt"
        ));
        assert_eq!(parsed.len(), 6);
        let connectivity = &parsed["NetworkManager-config-connectivity-fedora"];
        assert_eq!(connectivity.installed.as_deref(), Some("1:1.10.10-1.fc28"));
        assert_eq!(
            parsed["clucene-core"].installed.as_deref(),
            Some("2.3.3.4-31.20130812.e8e3d20git.fc28")
        );
        // Nothing newer available: the candidate is what is installed.
        assert_eq!(
            parsed["clucene-core"].candidate,
            parsed["clucene-core"].installed
        );
    }

    #[test]
    fn plugin_chatter_is_skipped_and_the_newest_of_two_installed_versions_counts() {
        let parsed = parse_list(include_str!(
            "../../../tests/data/packages/yum-list-junk.txt"
        ));
        assert_eq!(
            parsed["NetworkManager"].installed.as_deref(),
            Some("1:1.8.0-9.el7")
        );
        assert_eq!(
            parsed["NetworkManager-config-server"].installed.as_deref(),
            Some("1:1.8.0-9.el7")
        );
        assert_eq!(parsed.len(), 5, "{parsed:?}");
    }

    #[test]
    fn the_available_section_gives_the_candidate() {
        let parsed = parse_list(include_str!(
            "../../../tests/data/packages/dnf-list-upgrade.txt"
        ));
        assert_eq!(parsed["bash"].installed.as_deref(), Some("5.1.8-6.el9"));
        assert_eq!(parsed["bash"].candidate.as_deref(), Some("5.1.8-9.el9"));
        assert_eq!(
            parsed["python3.11"].candidate.as_deref(),
            Some("3.11.5-1.el9")
        );
        assert_eq!(parsed["curl"].candidate.as_deref(), Some("7.76.1-23.el9"));
    }

    #[test]
    fn installs_pin_name_version_and_removals_are_a_second_command() {
        let change = Change {
            install: vec![("bash".into(), "5.1.8-9.el9".into())],
            remove: vec!["curl".into()],
        };
        let argv: Vec<Vec<String>> = Dnf::DNF
            .transaction(&change)
            .iter()
            .map(|i| {
                i.argv
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            argv,
            [
                vec!["dnf", "-y", "install", "--", "bash-5.1.8-9.el9"],
                vec!["dnf", "-y", "remove", "--", "curl"],
            ]
        );
    }
}
