//! `sudoers`: one rule in a drop-in file of `/etc/sudoers.d`, with the fields of
//! `community.general.sudoers` and the line it writes, byte for byte (a host converged by
//! Ansible is a no-op). A member of the file family: the file is `0440 root:root`, written
//! atomically, and checked with `visudo -cf %s` before it replaces the old one (the family's
//! `validate`): a rule visudo refuses leaves the old file and fails the node.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, refuse_non_file, refuse_symlink};
use super::fs_state::{FsState, Observed};
use super::one_or_list::OneOrList;
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State, yes};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// Where the drop-in files go when the task names no directory.
pub const DEFAULT_SUDOERS_PATH: &str = "/etc/sudoers.d";

/// The program that checks a sudoers file, and how.
const VISUDO: &str = "visudo";
const VISUDO_CHECK: &str = "visudo -cf %s";

/// One sudoers rule in a drop-in file: `{user|%group} {host}=[(runas)][NOEXEC:][NOPASSWD:]
/// [SETENV:] {commands}`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SudoersTask {
    /// The rule's name: the drop-in file's name in `sudoers_path`. Letters, digits, `_` and
    /// `-` only (sudo skips files whose names hold a `.` or end in `~`).
    pub name: Spanned<String>,
    /// The user the rule is for (this or `group` with `state: present`).
    pub user: Option<Spanned<String>>,
    /// The group the rule is for, without its `%`.
    pub group: Option<Spanned<String>>,
    /// The commands allowed: full paths with their arguments, or `ALL` (required with
    /// `state: present`).
    pub commands: Option<Spanned<OneOrList>>,
    /// `NOPASSWD:`: the commands run without a password (default true).
    #[serde(default = "yes")]
    pub nopassword: bool,
    /// The user (or `user:group`) the commands run as: `(runas)` in the rule.
    pub runas: Option<Spanned<String>>,
    /// The hosts the rule applies to (default `ALL`).
    pub host: Option<Spanned<String>>,
    /// `SETENV:`: the user may set the environment of the commands.
    #[serde(default)]
    pub setenv: bool,
    /// `NOEXEC:`: the commands may not run other programs.
    #[serde(default)]
    pub noexec: bool,
    /// `present` (default) or `absent` (the drop-in file removed).
    #[serde(default)]
    pub state: State,
    /// The directory of drop-in files (default `/etc/sudoers.d`).
    pub sudoers_path: Option<Spanned<String>>,
    /// When `visudo -cf` checks the new file: `detect` (default: when `visudo` is installed),
    /// `required` (the node fails without it) or `absent` (never).
    #[serde(default)]
    pub validation: Validation,
    /// The drop-in's path, made once from `sudoers_path` and `name`.
    #[serde(skip)]
    #[schemars(skip)]
    path: OnceLock<Spanned<String>>,
    /// The `validate` command, decided once when the node is planned.
    #[serde(skip)]
    #[schemars(skip)]
    validate: OnceLock<Option<Spanned<String>>>,
    /// Mode, owner and group, fixed.
    #[serde(skip)]
    #[schemars(skip)]
    attributes: OnceLock<(Spanned<Mode>, Spanned<Principal>)>,
}

/// When the new file is checked with `visudo`, as Ansible's `validation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    #[default]
    Detect,
    Required,
    Absent,
}

impl SudoersTask {
    /// The rule's line, as Ansible's module writes it.
    fn rule(&self) -> Option<String> {
        let owner = match (&self.user, &self.group) {
            (Some(user), _) => user.value.clone(),
            (None, Some(group)) => format!("%{}", group.value),
            (None, None) => return None,
        };
        let commands: Vec<String> = OneOrList::items(self.commands.as_ref()?)
            .into_iter()
            .map(|c| c.value)
            .collect();
        let host = self.host.as_ref().map_or("ALL", |h| h.value.as_str());
        let runas = self
            .runas
            .as_ref()
            .map(|r| format!("({})", r.value))
            .unwrap_or_default();
        let tag = |on: bool, tag: &'static str| if on { tag } else { "" };
        Some(format!(
            "{owner} {host}={runas}{}{}{} {}\n",
            tag(self.noexec, "NOEXEC:"),
            tag(self.nopassword, "NOPASSWD:"),
            tag(self.setenv, "SETENV:"),
            commands.join(", ")
        ))
    }

    /// `validate` for the file family: `visudo -cf %s`, when `validation` asks for it and
    /// (with `detect`) visudo is installed. Decided once, when the node is planned.
    fn validate(&self) -> Option<&Spanned<String>> {
        self.validate
            .get_or_init(|| {
                let check = match self.validation {
                    Validation::Absent => false,
                    Validation::Required => true,
                    Validation::Detect => crate::process::installed(VISUDO),
                };
                check.then(|| Spanned {
                    value: VISUDO_CHECK.to_owned(),
                    span: self.name.span,
                    sensitive: false,
                })
            })
            .as_ref()
    }
}

impl SudoersTask {
    /// Mode `0440`, owner and group `root`: what sudo accepts of a drop-in (placed at `name`).
    fn drop_in_attributes(&self) -> &(Spanned<Mode>, Spanned<Principal>) {
        self.attributes.get_or_init(|| {
            let span = self.name.span;
            (
                Spanned {
                    value: Mode(0o440),
                    span,
                    sensitive: false,
                },
                Spanned {
                    value: Principal::Id(0),
                    span,
                    sensitive: false,
                },
            )
        })
    }
}

impl Attributes for SudoersTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        Some(&self.drop_in_attributes().0)
    }

    fn owner(&self) -> Option<&Spanned<Principal>> {
        Some(&self.drop_in_attributes().1)
    }

    fn group(&self) -> Option<&Spanned<Principal>> {
        Some(&self.drop_in_attributes().1)
    }
}

impl Resource for SudoersTask {
    /// The whole drop-in file.
    fn claims(&self) -> Vec<Claim> {
        files::claims(FileType::path(self), Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&FileType::path(self).value, None)
    }

    /// `sudoers:<name>`.
    fn default_id(&self) -> String {
        format!("sudoers:{}", self.name.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        check_name(&self.name, found);
        if let Some(dir) = &self.sudoers_path {
            absolute(dir, "sudoers_path", found);
        }
        for (field, value) in [
            ("user", &self.user),
            ("group", &self.group),
            ("runas", &self.runas),
            ("host", &self.host),
        ] {
            if let Some(value) = value {
                one_word(field, value, found);
            }
        }
        super::field_rules::exclusive(
            &[("user", self.user.as_ref()), ("group", self.group.as_ref())],
            found,
        );
        let commands = self.commands.as_ref().map(OneOrList::items);
        for command in commands.iter().flatten() {
            if command.value.trim().is_empty() || command.value.chars().any(char::is_control) {
                found.push(
                    Diagnostic::error("a sudoers command must be one line of text, not empty")
                        .at(command.span)
                        .help("give each command as its own item of `commands`"),
                );
            }
        }
        if self.state == State::Present {
            if self.user.is_none() && self.group.is_none() {
                found.push(
                    Diagnostic::error("a sudoers rule needs `user` or `group`")
                        .at(cx.task)
                        .help("add `user: alice` or `group: admins`"),
                );
            }
            if commands.as_ref().is_none_or(Vec::is_empty) {
                found.push(
                    Diagnostic::error("a sudoers rule needs `commands`")
                        .at(self.commands.as_ref().map_or(cx.task, |c| c.span))
                        .help("list the commands with their full paths, e.g. `commands: [/usr/bin/systemctl restart nginx]`, or `ALL`"),
                );
            }
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    files::member!();
}

/// A name sudo reads from its include directory, and nothing that leaves it.
fn check_name(name: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    let text = &name.value;
    let stray = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'));
    let why = match stray {
        _ if text.is_empty() => Some("is empty".to_owned()),
        Some(c) => Some(format!(
            "has `{}` in it (sudo skips drop-in files whose names hold a `.` or end in `~`)",
            c.escape_default()
        )),
        None => None,
    };
    if let Some(why) = why {
        found.push(
            Diagnostic::error(format!("sudoers `name` {why}"))
                .at(name.span)
                .help("name the drop-in file with letters, digits, `_` and `-`, e.g. `10-deploy`"),
        );
    }
}

/// A user, group, host or runas list is one word: a blank or a line break would start
/// another part of the rule (or another rule).
fn one_word(field: &str, value: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    if value.value.is_empty()
        || value
            .value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        found.push(
            Diagnostic::error(format!(
                "sudoers `{field}` must be one word, without blanks or line breaks"
            ))
            .at(value.span)
            .help("list several as sudoers does, separated by commas without blanks: `alice,bob`"),
        );
    }
}

impl FileType for SudoersTask {
    fn path(&self) -> &Spanned<String> {
        self.path.get_or_init(|| {
            let dir = self
                .sudoers_path
                .as_ref()
                .map_or(DEFAULT_SUDOERS_PATH, |d| d.value.as_str());
            Spanned {
                value: format!("{}/{}", dir.trim_end_matches('/'), self.name.value),
                span: self.name.span,
                sensitive: false,
            }
        })
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn write_checks(&self) -> files::write_checks::WriteChecks<'_> {
        files::write_checks::WriteChecks {
            validate: self.validate(),
            backup: false,
        }
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let path = &FileType::path(self).value;
        refuse_symlink(observed, path)?;
        refuse_non_file(observed, path)?;
        let state = match self.state {
            State::Absent => FsState::absent(path),
            State::Present => {
                if self.validation == Validation::Required && !crate::process::installed(VISUDO) {
                    return Err(format!(
                        "`validation: required` but `{VISUDO}` is not installed on this host"
                    ));
                }
                let rule = self
                    .rule()
                    .ok_or_else(|| format!("sudoers {path} has no rule to write"))?;
                let mut state = files::regular_file(path, Some(rule.as_bytes()), observed);
                files::attributes(&mut state, &observed.state, self, 0o440)?;
                state
            }
        };
        Ok(Wanted {
            state,
            sensitive: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(yaml_like: impl FnOnce(&mut SudoersTask)) -> SudoersTask {
        let spanned = |s: &str| Spanned::unplaced(s.to_owned());
        let mut task = SudoersTask {
            name: spanned("deploy"),
            user: Some(spanned("deploy")),
            group: None,
            commands: Some(Spanned::unplaced(OneOrList::One(
                "/usr/bin/systemctl restart app".to_owned(),
            ))),
            nopassword: true,
            runas: None,
            host: None,
            setenv: false,
            noexec: false,
            state: State::Present,
            sudoers_path: None,
            validation: Validation::Absent,
            path: OnceLock::new(),
            validate: OnceLock::new(),
            attributes: OnceLock::new(),
        };
        yaml_like(&mut task);
        task
    }

    #[test]
    fn the_rule_is_written_as_ansible_writes_it() {
        assert_eq!(
            task(|_| {}).rule().unwrap(),
            "deploy ALL=NOPASSWD: /usr/bin/systemctl restart app\n"
        );
        let all = task(|t| {
            t.user = None;
            t.group = Some(Spanned::unplaced("ops".to_owned()));
            t.runas = Some(Spanned::unplaced("postgres".to_owned()));
            t.host = Some(Spanned::unplaced("db1".to_owned()));
            t.noexec = true;
            t.setenv = true;
            t.nopassword = false;
            t.commands = Some(Spanned::unplaced(OneOrList::List(vec![
                Spanned::unplaced("/usr/bin/psql".to_owned()),
                Spanned::unplaced("/usr/bin/pg_dump".to_owned()),
            ])));
        });
        assert_eq!(
            all.rule().unwrap(),
            "%ops db1=(postgres)NOEXEC:SETENV: /usr/bin/psql, /usr/bin/pg_dump\n"
        );
        assert_eq!(FileType::path(&all).value, "/etc/sudoers.d/deploy");
    }

    #[test]
    fn names_sudo_would_skip_or_that_leave_the_directory_are_refused() {
        for bad in ["a.conf", "rule~", "; rm -rf /", "../x", ""] {
            let mut found = Vec::new();
            check_name(&Spanned::unplaced(bad.to_owned()), &mut found);
            assert_eq!(found.len(), 1, "{bad}");
        }
        let mut found = Vec::new();
        check_name(&Spanned::unplaced("10-deploy_x".to_owned()), &mut found);
        assert!(found.is_empty());
    }
}
