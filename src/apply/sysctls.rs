//! The sysctl family: a kernel parameter's line in a sysctl.d file — planned, checked and
//! written by the file family ([`super::files`]), so the write is atomic, links are not
//! followed and the diff is the file's — and its live value in `/proc/sys`, read at plan
//! time and written at execute time, after the file.
//!
//! A node's `before` and `after` are [`SysctlState`]s: the file's [`FsState`] and the live
//! value. Its fingerprint covers both: `execute` refuses the node when the file or the live
//! value changed since the plan.

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded,
};
use super::file_backed::{self, FilePart};
use super::files::{self, FILES};
use super::fs_state::{self, FsState, sha256_hex};
use crate::apply::ApplySpec;
use crate::error::ResourceError;
use crate::host::sysctl;
use crate::model::ApplyTask;
use crate::printable::escape;

/// A sysctl node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlState {
    /// The sysctl.d file: observed in `before`, wanted in `after`.
    pub file: FsState,
    /// The live value (`before`: as read, `null` when the kernel has no such parameter;
    /// `after`: the value set, `null` when the task leaves the live value alone).
    pub live: Option<String>,
    /// The parameter.
    pub name: String,
}

/// The family's one instance.
pub struct Sysctls;

pub static SYSCTLS: Sysctls = Sysctls;

fn decode(recorded: &Recorded, which: &str) -> Result<SysctlState, String> {
    recorded.decode(which, "a sysctl's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(SysctlState, SysctlState), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

/// Whether the live value changes.
fn live_changes(before: &SysctlState, after: &SysctlState) -> bool {
    after.live.is_some() && after.live != before.live
}

/// The node's action: the file's when it changes, else an update of the live value.
fn action(before: &SysctlState, after: &SysctlState) -> Action {
    match files::action(&before.file, &after.file) {
        Action::NoOp if live_changes(before, after) => Action::Update,
        file => file,
    }
}

/// Of the file's fingerprint and, when the task sets it, the live value seen.
fn fingerprint(before: &SysctlState, after: &SysctlState, route: &str) -> String {
    let file = fs_state::fingerprint(&before.file, route, true);
    let live = after.live.as_ref().and(before.live.as_ref());
    sha256_hex(json!([file, live]).to_string().as_bytes())
}

/// The live value now, compared with the one the plan saw.
fn live_stale(before: &SysctlState, after: &SysctlState) -> Result<(), String> {
    if after.live.is_none() {
        return Ok(());
    }
    let now =
        sysctl::read(&before.name).map_err(|e| format!("cannot read {}: {e}", before.name))?;
    if now != before.live {
        let show = |v: &Option<String>| v.as_deref().map_or("(none)".to_owned(), escape_owned);
        return Err(format!(
            "the live value of {} changed since the plan ({} → {})",
            escape(&before.name),
            show(&before.live),
            show(&now)
        ));
    }
    Ok(())
}

fn escape_owned(text: &str) -> String {
    escape(text).into_owned()
}

/// Writes the live value.
fn set_live(name: &str, value: &str) -> Result<(), ResourceError> {
    let path = sysctl::path_of(name)
        .ok_or_else(|| ResourceError::permanent(format!("{name} is no kernel parameter name")))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| ResourceError::io(format_args!("cannot open {path}"), &e))?;
    file.write_all(value.as_bytes())
        .map_err(|e| ResourceError::io(format_args!("cannot set {name} to {value}"), &e))?;
    let now = sysctl::read(name)
        .map_err(|e| ResourceError::io(format_args!("cannot read {name}"), &e))?;
    if now.as_deref() != Some(value) {
        return Err(ResourceError::permanent(format!(
            "{name} is {} after writing {value}: the kernel did not take the value",
            now.as_deref().unwrap_or("(none)")
        )));
    }
    Ok(())
}

/// A planned file node of a sysctl task, with the live value added.
fn combine(task: &ApplyTask, file: NodeStates) -> Result<NodeStates, String> {
    let ApplySpec::Sysctl(sysctl_task) = &task.spec else {
        return Err(format!("`{}` is not a sysctl task", task.spec.type_name()));
    };
    let (Recorded::File(file_before), Recorded::File(file_after)) = (file.before, file.after)
    else {
        return Err("the file family planned no file state".to_owned());
    };
    let name = sysctl_task.name.value.clone();
    let seen = sysctl::read(&name).map_err(|e| format!("cannot read {name}: {e}"))?;
    let live = if sysctl_task.sets_live() {
        if seen.is_none() {
            return Err(format!(
                "the kernel has no parameter {name} here (no {}); load the module that makes \
                 it first, or set `reload: false` to write the file only",
                sysctl::path_of(&name).unwrap_or_default()
            ));
        }
        sysctl_task.wanted_value()
    } else {
        None
    };
    let before = SysctlState {
        file: file_before,
        live: seen,
        name: name.clone(),
    };
    let after = SysctlState {
        file: file_after,
        live,
        name,
    };
    Ok(NodeStates {
        action: action(&before, &after),
        fingerprint: fingerprint(&before, &after, &file.route),
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: file.route,
        diff: file.diff,
        chained: file.chained,
    })
}

fn show_value(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "(none)".to_owned(), escape_owned)
}

impl Family for Sysctls {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let others = super::file_backed::edits_by_other_families(all, tasks, chained_after);
        if !others.is_empty() {
            return others;
        }
        FILES
            .plan(all, tasks, chained_after, link_targets, cx)
            .into_iter()
            .map(|(i, planned)| (i, planned.and_then(|file| combine(&all[i], file))))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        if before.name != after.name || sysctl::path_of(&after.name).is_none() {
            return Err("`before` and `after` are not of one kernel parameter".to_owned());
        }
        file_backed::verify_public_node(
            node,
            (
                action(&before, &after),
                fingerprint(&before, &after, node.route),
            ),
            "a sysctl node",
            (&before.file, &after.file),
        )
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let file = FILES.describe(&FilePart::of(&before.file, &after.file, node.route).view(node));
        let mut details = vec![Detail::plain(match &after.live {
            Some(_) if live_changes(&before, &after) => format!(
                "live value: {} → {}",
                show_value(&before.live),
                show_value(&after.live)
            ),
            Some(_) => format!("live value: {} (unchanged)", show_value(&after.live)),
            None => format!("live value: {} (left as it is)", show_value(&before.live)),
        })];
        details.push(Detail::plain(format!(
            "persisted in {}",
            escape(&after.file.path)
        )));
        details.extend(file.details);
        Description {
            what: format!("sysctl {}", escape(&after.name)),
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
        if let Err(why) = live_stale(&before, &after) {
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
        live_stale(&before, &after).map_err(|why| format!("{}: {why}", node.address))?;
        let part = FilePart::of(&before.file, &after.file, node.route);
        if part.action.changes() {
            FILES.run(&part.view(node), config)?;
        }
        if let Some(value) = after
            .live
            .as_deref()
            .filter(|_| live_changes(&before, &after))
        {
            set_live(&after.name, value)?;
        }
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
        if live_changes(&before, &after) {
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
