//! `group` nodes: the group observed (its id), planned, shown, checked and changed with
//! `groupadd`, `groupmod` and `groupdel`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{action, decode, fingerprint, is_fingerprint, record, shown, tool};
use crate::apply::Action;
use crate::apply::contract::{Description, NodeStates, NodeView};
use crate::apply::group::GroupTask;
use crate::error::ResourceError;
use crate::host::users as host;
use crate::model::apply::State;

/// The node's `route`: the database the group was read from.
const READ: &str = "group";

/// A group as a node records it: its name, whether it exists, and what the node changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupState {
    /// The group's name.
    pub group: String,
    /// Whether the group exists.
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Created as a system group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<bool>,
}

impl GroupState {
    fn named(group: &str, exists: bool) -> Self {
        GroupState {
            group: group.to_owned(),
            exists,
            ..GroupState::default()
        }
    }
}

fn observe(group: &str) -> Result<Option<u32>, String> {
    host::group_id(group).map_err(|e| format!("cannot look up group `{group}`: {e}"))
}

fn fingerprint_of(group: &str, gid: Option<u32>) -> String {
    match gid {
        Some(gid) => fingerprint(&["group", group, &gid.to_string()]),
        None => fingerprint(&["group", group, "absent"]),
    }
}

pub fn plan(task: &GroupTask) -> Result<NodeStates, String> {
    let name = &task.name.value;
    let seen = observe(name)?;
    let wanted_gid = task.gid.as_ref().and_then(|g| u32::try_from(g.value).ok());
    let (before, after) = match (task.state, seen) {
        (State::Absent, None) => (
            GroupState::named(name, false),
            GroupState::named(name, false),
        ),
        (State::Absent, Some(gid)) => (
            GroupState {
                gid: Some(gid),
                ..GroupState::named(name, true)
            },
            GroupState::named(name, false),
        ),
        (State::Present, None) => (
            GroupState::named(name, false),
            GroupState {
                gid: wanted_gid,
                system: task.system.then_some(true),
                ..GroupState::named(name, true)
            },
        ),
        (State::Present, Some(gid)) => match wanted_gid.filter(|&w| w != gid) {
            Some(wanted) => (
                GroupState {
                    gid: Some(gid),
                    ..GroupState::named(name, true)
                },
                GroupState {
                    gid: Some(wanted),
                    ..GroupState::named(name, true)
                },
            ),
            None => (GroupState::named(name, true), GroupState::named(name, true)),
        },
    };
    Ok(NodeStates {
        action: action(before.exists, after.exists, before != after),
        before: record(&before),
        after: record(&after),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        fingerprint: fingerprint_of(name, seen),
        route: READ.to_owned(),
        diff: None,
        chained: false,
    })
}

pub fn verify(node: &NodeView<'_>) -> Result<(), String> {
    let before: GroupState = decode(node.before, "before")?;
    let after: GroupState = decode(node.after, "after")?;
    if before.group != after.group {
        return Err("`before` and `after` name different groups".to_owned());
    }
    let expected = action(before.exists, after.exists, before != after);
    if node.action != expected {
        return Err(format!(
            "its states make it `{}`, not `{}`",
            expected.as_str(),
            node.action.as_str()
        ));
    }
    if *node.before_sensitive != Value::Bool(false) || *node.after_sensitive != Value::Bool(false) {
        return Err("a group node has nothing sensitive".to_owned());
    }
    if !is_fingerprint(node.fingerprint) || node.route != READ || node.diff.is_some() {
        return Err(format!(
            "a group node has a fingerprint, the route `{READ}` and no diff"
        ));
    }
    Ok(())
}

pub fn describe(node: &NodeView<'_>) -> Result<Description, String> {
    let before: GroupState = decode(node.before, "before")?;
    let after: GroupState = decode(node.after, "after")?;
    let group = shown(&after.group);
    let what = match (node.action, before.gid, after.gid) {
        (Action::Create, _, Some(gid)) => format!("group {group} (gid {gid})"),
        (Action::Create, _, None) => format!("group {group} (gid chosen by groupadd)"),
        (Action::Update, Some(old), Some(new)) => format!("group {group} (gid {old} → {new})"),
        _ => format!("group {group}"),
    };
    let details = if after.system == Some(true) {
        vec![crate::apply::contract::Detail::plain(
            "a system group".to_owned(),
        )]
    } else {
        Vec::new()
    };
    Ok(Description {
        what,
        details,
        diff_lines: Vec::new(),
    })
}

pub fn fingerprint_now(node: &NodeView<'_>) -> Result<String, String> {
    let after: GroupState = decode(node.after, "after")?;
    Ok(fingerprint_of(&after.group, observe(&after.group)?))
}

pub fn run(node: &NodeView<'_>) -> Result<(), ResourceError> {
    let after: GroupState = decode(node.after, "after")?;
    let mut argv = match node.action {
        Action::Create => {
            let mut argv = vec!["groupadd".to_owned()];
            if let Some(gid) = after.gid {
                argv.extend(["--gid".to_owned(), gid.to_string()]);
            }
            if after.system == Some(true) {
                argv.push("--system".to_owned());
            }
            argv
        }
        Action::Update => match after.gid {
            Some(gid) => vec!["groupmod".to_owned(), "--gid".to_owned(), gid.to_string()],
            None => return Ok(()),
        },
        Action::Delete => vec!["groupdel".to_owned()],
        Action::NoOp | Action::Run | Action::Collect | Action::Check | Action::Ship => {
            return Ok(());
        }
    };
    argv.push(after.group);
    tool(argv, None)
}
