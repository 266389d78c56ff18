//! `hostname`: the host's name, set live (the kernel's, `sethostname(2)`, or through
//! `hostnamectl` on a host booted with systemd) and persisted in `/etc/hostname`, with the
//! fields of Ansible's `hostname` module. The file is a member of the file family (the task
//! owns it: its write is atomic, links are not followed, the diff is the file's); the family
//! of the type, here, adds the live name.
//!
//! A node's `before` and `after` are [`HostnameState`]s: the file's [`FsState`] and the live
//! name. Its fingerprint covers both: `execute` refuses the node when the file or the live
//! name changed since the plan.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, CheckContext, Claim, Description, Detail, Family, Hold, NodeStates, NodeView,
    PlanContext, Ran, Recompiled, Recorded, Requirement, Resource, Thing,
};
use super::file_backed::{self, FilePart};
use super::files::{self, FILES, FileType, WantContext, Wanted};
use super::fs_state::{self, FsState, Observed, sha256_hex};
use crate::apply::ApplySpec;
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::host::identity;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{ApplyTask, RenderedContent, Spanned};
use crate::printable::escape;
use crate::process::{self, Invocation};

/// Where the name is persisted.
pub const HOSTNAME_FILE: &str = "/etc/hostname";

/// The kernel's limit on a hostname (`HOST_NAME_MAX`).
const MAX_HOSTNAME: usize = 64;

/// The host's name: the kernel's and `/etc/hostname`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostnameTask {
    /// The name: letters, digits and `-` in dot-separated labels (`web1` or
    /// `web1.example.com`), at most 64 characters.
    pub name: Spanned<String>,
    /// How the name is set: `auto` (default) is `systemd` on a host booted with systemd and
    /// `file` elsewhere; `systemd` runs `hostnamectl set-hostname` (which writes
    /// `/etc/hostname` and the kernel's name itself); `file` writes `/etc/hostname` and sets
    /// the kernel's name with `sethostname(2)`.
    #[serde(default, rename = "use")]
    pub strategy: Strategy,
    /// `/etc/hostname`, spanned at the name, made once.
    #[serde(skip)]
    #[schemars(skip)]
    path: OnceLock<Spanned<String>>,
}

/// How a hostname is set, as written in the task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    #[default]
    Auto,
    Systemd,
    File,
}

/// How the name is set, as the plan decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `/etc/hostname` written by driftless, the kernel's name set with `sethostname(2)`.
    Sethostname,
    /// `hostnamectl --static --transient set-hostname NAME`.
    Hostnamectl,
}

impl Strategy {
    /// The method on this host: `auto` is `hostnamectl` where systemd is running (its
    /// `/run/systemd/system`, as `sd_booted(3)` checks) and the program is installed;
    /// `systemd` where it is not is a plan error.
    fn method(self) -> Result<Method, String> {
        let booted = std::path::Path::new("/run/systemd/system").is_dir();
        let installed = || process::installed("hostnamectl");
        match self {
            Strategy::File => Ok(Method::Sethostname),
            Strategy::Systemd if booted && installed() => Ok(Method::Hostnamectl),
            Strategy::Systemd => Err(
                "`use: systemd` but this host is not running systemd with hostnamectl \
                 installed; use `auto` or `file`"
                    .to_owned(),
            ),
            Strategy::Auto if booted && installed() => Ok(Method::Hostnamectl),
            Strategy::Auto => Ok(Method::Sethostname),
        }
    }
}

impl Attributes for HostnameTask {
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

impl Resource for HostnameTask {
    /// The host's name (one task per host) and `/etc/hostname`, which it writes whole.
    fn claims(&self) -> Vec<Claim> {
        let claim = |thing| Claim {
            thing,
            hold: Hold::Owns,
            span: self.name.span,
            written: self.name.value.clone(),
            sensitive: self.name.sensitive,
        };
        let mut file = claim(Thing::path(HOSTNAME_FILE));
        file.written = HOSTNAME_FILE.to_owned();
        file.sensitive = false;
        vec![claim(Thing::Hostname), file]
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(HOSTNAME_FILE, None)
    }

    /// `hostname`: there is one per host.
    fn default_id(&self) -> String {
        "hostname".to_owned()
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(why) = bad_hostname(&self.name.value) {
            found.push(
                Diagnostic::error(format!("hostname `name` {why}"))
                    .at(self.name.span)
                    .help(
                        "a hostname is letters, digits and `-` in labels separated by dots, \
                         e.g. `web1` or `web1.example.com`",
                    ),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &HOSTNAMES
    }

    fn file_type(&self) -> Option<&dyn FileType> {
        Some(self)
    }
}

/// Why a name is not a hostname (RFC 1123 labels, the kernel's length limit), if it is not.
fn bad_hostname(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.len() > MAX_HOSTNAME {
        return Some(format!(
            "is {} bytes long, more than the kernel's {MAX_HOSTNAME}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.')))
    {
        return Some(format!("has `{}` in it", c.escape_default()));
    }
    let bad_label = |label: &str| {
        label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-')
    };
    if name.split('.').any(bad_label) {
        return Some(
            "has a label that is empty, longer than 63, or starts or ends with `-`".to_owned(),
        );
    }
    None
}

impl FileType for HostnameTask {
    fn path(&self) -> &Spanned<String> {
        self.path.get_or_init(|| Spanned {
            value: HOSTNAME_FILE.to_owned(),
            span: self.name.span,
            sensitive: false,
        })
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        file_backed::one_name_file(HOSTNAME_FILE, &self.name.value, observed, self)
    }
}

/// A hostname node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostnameState {
    /// `/etc/hostname`: observed in `before`, wanted in `after`.
    pub file: FsState,
    /// The kernel's name: as read in `before`, as set in `after`.
    pub live: String,
    /// How the name is set (`after` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
}

/// The family's one instance.
pub struct Hostnames;

pub static HOSTNAMES: Hostnames = Hostnames;

fn decode(recorded: &Recorded, which: &str) -> Result<HostnameState, String> {
    recorded.decode(which, "a hostname's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(HostnameState, HostnameState), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

/// The node's action: the file's when it changes, else an update of the live name.
fn action(before: &HostnameState, after: &HostnameState) -> Action {
    match files::action(&before.file, &after.file) {
        Action::NoOp if before.live != after.live => Action::Update,
        file => file,
    }
}

/// Of the file's fingerprint and the live name seen.
fn fingerprint(before: &HostnameState, route: &str) -> String {
    let file = fs_state::fingerprint(&before.file, route, true);
    sha256_hex(json!([file, before.live]).to_string().as_bytes())
}

/// The kernel's name now.
fn live_name() -> String {
    identity::hostname().unwrap_or_default()
}

/// The live name now, compared with the one the plan saw.
fn live_stale(before: &HostnameState) -> Result<(), String> {
    let now = live_name();
    if now != before.live {
        return Err(format!(
            "the hostname changed since the plan ({} → {})",
            escape(&before.live),
            escape(&now)
        ));
    }
    Ok(())
}

/// Sets the kernel's name.
fn sethostname(name: &str) -> Result<(), ResourceError> {
    // SAFETY: the pointer and length are of `name`'s bytes, which outlive the call; the
    // kernel copies them.
    let rc = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(ResourceError::io(
            format_args!("cannot set the hostname"),
            &e,
        ));
    }
    Ok(())
}

/// After the change: the kernel's name and the file are what the plan wanted.
fn confirm(after: &HostnameState) -> Result<(), ResourceError> {
    let now = live_name();
    if now != after.live {
        return Err(ResourceError::permanent(format!(
            "the hostname is {} after setting it to {}",
            escape(&now),
            escape(&after.live)
        )));
    }
    let file = crate::fsutil::read_regular_file(std::path::Path::new(HOSTNAME_FILE))
        .map_err(|e| ResourceError::io(format_args!("cannot read {HOSTNAME_FILE}"), &e))?;
    if String::from_utf8_lossy(&file).trim() != after.live {
        return Err(ResourceError::permanent(format!(
            "{HOSTNAME_FILE} does not hold {} after setting it",
            escape(&after.live)
        )));
    }
    Ok(())
}

/// A planned file node of a hostname task, with the live name added.
fn combine(task: &ApplyTask, file: NodeStates) -> Result<NodeStates, String> {
    let ApplySpec::Hostname(hostname) = &task.spec else {
        return Err(format!(
            "`{}` is not a hostname task",
            task.spec.type_name()
        ));
    };
    let (Recorded::File(file_before), Recorded::File(file_after)) = (file.before, file.after)
    else {
        return Err("the file family planned no file state".to_owned());
    };
    let before = HostnameState {
        file: file_before,
        live: live_name(),
        method: None,
    };
    let after = HostnameState {
        file: file_after,
        live: hostname.name.value.clone(),
        method: Some(hostname.strategy.method()?),
    };
    Ok(NodeStates {
        action: action(&before, &after),
        fingerprint: fingerprint(&before, &file.route),
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: file.route,
        diff: file.diff,
        chained: file.chained,
    })
}

impl Family for Hostnames {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        FILES
            .plan(all, tasks, chained_after, link_targets, cx)
            .into_iter()
            .map(|(i, planned)| (i, planned.and_then(|file| combine(&all[i], file))))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        let method = after
            .method
            .filter(|_| before.method.is_none())
            .ok_or("its `after` has no `method`, or its `before` has one")?;
        if bad_hostname(&after.live).is_some() || after.file.path != HOSTNAME_FILE {
            return Err(format!("`after` is not a hostname in {HOSTNAME_FILE}"));
        }
        if method == Method::Sethostname
            && after
                .file
                .content
                .as_deref()
                .is_some_and(|c| c.trim() != after.live)
        {
            return Err(format!(
                "the content of {HOSTNAME_FILE} is not the hostname"
            ));
        }
        file_backed::verify_public_node(
            node,
            (action(&before, &after), fingerprint(&before, node.route)),
            "a hostname node",
            (&before.file, &after.file),
        )
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let file = FILES.describe(&FilePart::of(&before.file, &after.file, node.route).view(node));
        let live = if before.live == after.live {
            format!("live hostname: {} (unchanged)", escape(&after.live))
        } else {
            format!(
                "live hostname: {} → {}",
                escape(&before.live),
                escape(&after.live)
            )
        };
        let persisted = match files::action(&before.file, &after.file) {
            Action::NoOp => format!("persisted in {HOSTNAME_FILE} (unchanged)"),
            _ => format!("persisted in {HOSTNAME_FILE}"),
        };
        let how = match after.method {
            Some(Method::Hostnamectl) => "set with hostnamectl",
            _ => "set with sethostname(2) and a write of the file",
        };
        let mut details = vec![
            Detail::plain(live),
            Detail::plain(persisted),
            Detail::plain(how.to_owned()),
        ];
        details.extend(file.details);
        Description {
            what: format!("hostname {}", escape(&after.live)),
            details,
            diff_lines: file.diff_lines,
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        decode(after, "after").ok().map(|state| state.file.path)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        if let Err(why) = live_stale(&before) {
            return Some(format!("{}: {why}", node.address));
        }
        FILES.stale(&FilePart::of(&before.file, &after.file, node.route).view(node))
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        let (before, after) = decode_node(node)?;
        live_stale(&before).map_err(|why| format!("{}: {why}", node.address))?;
        let part = FilePart::of(&before.file, &after.file, node.route);
        match after.method {
            Some(Method::Hostnamectl) => {
                if let Some(why) = FILES.stale(&part.view(node)) {
                    return Err(ResourceError::permanent(why));
                }
                process::output(&Invocation::new([
                    "hostnamectl",
                    "--static",
                    "--transient",
                    "set-hostname",
                    &after.live,
                ]))?;
            }
            _ => {
                if part.action.changes() {
                    FILES.run(&part.view(node), config)?;
                }
                if before.live != after.live {
                    sethostname(&after.live)?;
                }
            }
        }
        confirm(&after)?;
        Ok(Ran::CHANGED)
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        super::file_backed::finish_file_parts(nodes, run_started, |node| {
            let (before, after) = decode_node(node).ok()?;
            Some((before.file, after.file))
        });
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let Ok((before, after)) = decode_node(node) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        if before.live != after.live {
            changes.push(Change {
                field: "live".to_owned(),
                before: json!(before.live),
                after: json!(after.live),
            });
        }
        let part = FilePart::of(&before.file, &after.file, node.route);
        let file = part.view(node);
        if file.action.changes() {
            changes.push(Change {
                field: "file".to_owned(),
                before: json!(before.file.state),
                after: json!(after.file.state),
            });
            changes.extend(FILES.changes(&file));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_rfc_1123_labels_within_the_kernel_limit() {
        for good in ["web1", "web-1.example.com", "a", "1x"] {
            assert_eq!(bad_hostname(good), None, "{good}");
        }
        for bad in [
            "",
            "-web",
            "web-",
            "web..x",
            "web_1",
            "web 1",
            "a;rm -rf /",
            &"a".repeat(65),
            &format!("{}.x", "a".repeat(64)),
        ] {
            assert!(bad_hostname(bad).is_some(), "{bad}");
        }
    }
}
