//! `sysctl`: a kernel parameter, persisted as a `name = value` line of a sysctl.d file and set
//! live in `/proc/sys`, with Ansible's fields. The file part is a member of the file family
//! (an edit of the line named by the key); the family of the type ([`super::sysctls`]) adds the
//! live value to it.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, refuse_symlink};
use super::fs_state::{EntryKind, FsState, Observed};
use super::lineinfile::{current_lines, edited_file};
use crate::diagnostics::Diagnostic;
use crate::host::sysctl;
use crate::model::apply::{Attributes, State, yes};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// The file a `sysctl` task writes when it names none.
pub const DEFAULT_SYSCTL_FILE: &str = "/etc/sysctl.d/99-driftless.conf";

/// A kernel parameter: its line in a sysctl.d file, and its live value.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlTask {
    /// The parameter, dotted as `sysctl` writes it: `net.ipv4.ip_forward` (with slashes,
    /// `net/ipv4/conf/eth0.100/forwarding`, when a part has a dot).
    pub name: Spanned<String>,
    /// The value (required with `state: present`): a number, a word, or several separated by
    /// spaces (`32768 60999`).
    pub value: Option<Spanned<SysctlValue>>,
    /// `present` (default): the line is in the file; `absent`: no line for the parameter in
    /// the file (its live value is left as it is).
    #[serde(default)]
    pub state: State,
    /// The file the line is in. Default `/etc/sysctl.d/99-driftless.conf`.
    pub sysctl_file: Option<Spanned<String>>,
    /// Set the live value too when the file changes, as a reload of the file would (default
    /// true). With `reload` and `sysctl_set` both false, only the file is managed.
    #[serde(default = "yes")]
    pub reload: bool,
    /// Set the live value whenever it differs, the file changed or not (default false; with
    /// `reload`, driftless sets a differing live value anyway, so that a second run changes
    /// nothing).
    #[serde(default)]
    pub sysctl_set: bool,
    /// The path the task edits, made once from `sysctl_file`.
    #[serde(skip)]
    #[schemars(skip)]
    path: OnceLock<Spanned<String>>,
}

/// A sysctl value: YAML's `1` and `"1"` are the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct SysctlValue(#[schemars(with = "ValueSchema")] pub String);

/// A string, an integer or a boolean, for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ValueSchema {
    Text(String),
    Number(i64),
    Flag(bool),
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SysctlValue, E> {
                Ok(SysctlValue(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SysctlValue, E> {
                Ok(SysctlValue(v.to_string()))
            }
            // The kernel's booleans are 0 and 1.
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<SysctlValue, E> {
                Ok(SysctlValue(u8::from(v).to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl SysctlTask {
    /// The value as the kernel prints it (words separated by one space).
    pub fn wanted_value(&self) -> Option<String> {
        self.value.as_ref().map(|v| sysctl::normalize(&v.value.0))
    }

    /// Whether the task sets the live value.
    pub fn sets_live(&self) -> bool {
        self.state == State::Present && (self.reload || self.sysctl_set)
    }

    /// The key as the file spells it: dotted (`net/ipv4/ip_forward` is `net.ipv4.ip_forward`
    /// there too, unless a part holds a dot).
    fn key_of(name: &str) -> String {
        let name = name.trim().trim_start_matches('-');
        match name.split('/').any(|part| part.contains('.')) {
            true => name.to_owned(),
            false => name.replace('/', "."),
        }
    }
}

impl Attributes for SysctlTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        None
    }
    fn owner(&self) -> Option<&Spanned<Principal>> {
        None
    }
    fn group(&self) -> Option<&Spanned<Principal>> {
        None
    }
}

impl Resource for SysctlTask {
    /// The parameter itself (one task per key, whatever the file), and its line in the file
    /// (other edits of the file share it, in the order written).
    fn claims(&self) -> Vec<Claim> {
        let key = SysctlTask::key_of(&self.name.value);
        let file = FileType::path(self);
        vec![
            Claim {
                thing: Thing::SysctlKey(key.clone()),
                hold: Hold::Owns,
                span: self.name.span,
                written: self.name.value.clone(),
                sensitive: self.name.sensitive,
            },
            Claim {
                thing: Thing::path(&file.value),
                hold: Hold::Edits(Some(key)),
                span: self.name.span,
                written: file.value.clone(),
                sensitive: file.sensitive,
            },
        ]
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&FileType::path(self).value, None)
    }

    /// `sysctl:<name>`.
    fn default_id(&self) -> String {
        format!("sysctl:{}", self.name.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(file) = &self.sysctl_file {
            absolute(file, "sysctl_file", found);
        }
        check_name(&self.name, found);
        match &self.value {
            None if self.state == State::Present => found.push(
                Diagnostic::error("`value` is required with `state: present`")
                    .at(self.name.span)
                    .help("add `value: …`, or `state: absent` to remove the parameter's line"),
            ),
            Some(value) => check_value(value, found),
            None => {}
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::sysctls::SYSCTLS
    }

    fn file_type(&self) -> Option<&dyn FileType> {
        Some(self)
    }
}

/// A parameter name: words of letters, digits, `_`, `-`, `:` (and `.` in the slashed
/// spelling), separated by dots or slashes, nothing that would leave `/proc/sys`.
fn check_name(name: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    let text = &name.value;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/');
    let why = if text.is_empty() {
        Some("is empty".to_owned())
    } else if let Some(c) = text.chars().find(|c| !allowed(*c)) {
        Some(format!("has `{}` in it", c.escape_default()))
    } else if sysctl::path_of(text).is_none() {
        Some("has an empty part, `.` or `..`".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        found.push(
            Diagnostic::error(format!("sysctl `name` {why}"))
                .at(name.span)
                .help(
                    "name a kernel parameter as `sysctl -a` lists it, e.g. `net.ipv4.ip_forward`",
                ),
        );
    }
}

/// A value is one line of printable text.
fn check_value(value: &Spanned<SysctlValue>, found: &mut Vec<Diagnostic>) {
    let text = &value.value.0;
    if text.trim().is_empty() || text.chars().any(|c| c.is_control() && c != '\t') {
        found.push(
            Diagnostic::error("sysctl `value` must be one line of text, not empty")
                .at(value.span)
                .help("several numbers are separated by spaces: `value: \"32768 60999\"`"),
        );
    }
}

impl FileType for SysctlTask {
    fn path(&self) -> &Spanned<String> {
        self.path.get_or_init(|| match &self.sysctl_file {
            Some(file) => file.clone(),
            None => Spanned {
                value: DEFAULT_SYSCTL_FILE.to_owned(),
                span: self.name.span,
                sensitive: false,
            },
        })
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        want(self, observed)
    }
}

/// The file with the parameter's line: the last line for the key replaced (earlier ones for
/// the same key removed, as they would be overridden), else appended; or every line for the
/// key removed.
fn want(task: &SysctlTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &FileType::path(task).value;
    refuse_symlink(observed, path)?;
    files::refuse_non_file(observed, path)?;
    if task.state == State::Absent && observed.state.state == EntryKind::Absent {
        return Ok(Wanted {
            state: FsState::absent(path),
            sensitive: false,
        });
    }
    let key = SysctlTask::key_of(&task.name.value);
    let mut lines = current_lines(observed, path, true)?;
    let is_key = |line: &str| {
        let line = line.trim_start();
        !line.starts_with('#')
            && !line.starts_with(';')
            && line
                .split_once('=')
                .is_some_and(|(k, _)| SysctlTask::key_of(k) == key)
    };
    match (task.state, task.wanted_value()) {
        (State::Present, Some(value)) => {
            let line = format!("{key} = {value}");
            let last = lines.lines.iter().rposition(|l| is_key(l));
            match last {
                Some(at) => {
                    lines.lines[at] = line;
                    // Earlier lines for the key would be overridden by this one: dropped.
                    let kept: Vec<String> = lines
                        .lines
                        .iter()
                        .enumerate()
                        .filter(|(i, l)| *i >= at || !is_key(l))
                        .map(|(_, l)| l.clone())
                        .collect();
                    lines.lines = kept;
                }
                None => lines.lines.push(line),
            }
        }
        _ => lines.lines.retain(|l| !is_key(l)),
    }
    edited_file(path, &lines, observed, task, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, value: Option<&str>, state: State) -> SysctlTask {
        SysctlTask {
            name: Spanned::unplaced(name.to_owned()),
            value: value.map(|v| Spanned::unplaced(SysctlValue(v.to_owned()))),
            state,
            sysctl_file: None,
            reload: true,
            sysctl_set: false,
            path: OnceLock::new(),
        }
    }

    fn edit(task: &SysctlTask, content: &str) -> String {
        let mut state = FsState::absent(DEFAULT_SYSCTL_FILE);
        state.state = EntryKind::File;
        state.set_mode(0o644);
        let observed = Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        };
        let wanted = want(task, &observed).unwrap_or_else(|e| panic!("{e}"));
        wanted.state.content.unwrap_or_else(|| content.to_owned())
    }

    #[test]
    fn the_last_line_of_the_key_is_replaced_and_earlier_ones_dropped() {
        let t = task("net.ipv4.ip_forward", Some("1"), State::Present);
        assert_eq!(
            edit(
                &t,
                "# net.ipv4.ip_forward = 0\nnet.ipv4.ip_forward=0\nx = 1\n net/ipv4/ip_forward = 0\n"
            ),
            "# net.ipv4.ip_forward = 0\nx = 1\nnet.ipv4.ip_forward = 1\n"
        );
        assert_eq!(edit(&t, "x = 1\n"), "x = 1\nnet.ipv4.ip_forward = 1\n");
    }

    #[test]
    fn absent_removes_every_line_of_the_key() {
        let t = task("net.ipv4.ip_forward", None, State::Absent);
        assert_eq!(
            edit(
                &t,
                "net.ipv4.ip_forward = 1\nx = 1\n-net.ipv4.ip_forward=0\n"
            ),
            "x = 1\n"
        );
    }

    #[test]
    fn values_are_written_as_the_kernel_prints_them() {
        let t = task(
            "net.ipv4.ip_local_port_range",
            Some("1024\t 65000"),
            State::Present,
        );
        assert_eq!(edit(&t, ""), "net.ipv4.ip_local_port_range = 1024 65000\n");
    }
}
