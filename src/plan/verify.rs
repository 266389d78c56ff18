//! A plan read back holds together: what `show` prints of it is what `execute` does with it.
//!
//! The digest only proves that nobody edited the plan without sealing it again, and anyone can
//! recompute it. So everything `show` prints is checked against the fields `execute` acts on:
//! the summary counts the nodes, each node's action is the one its `before` and `after` give,
//! its fingerprint is the one of its `before` (which `execute` compares with the host), the
//! wanted content has the recorded hash, and the diff is the change from `before` to `after`.
//! Fields `execute` acts on and `show` prints only in one spelling (modes, paths) must be
//! spelled that way. And the nodes fit together as `plan` makes them: `execute` schedules by
//! their dependencies, notifications, order and preconditions, which `show` does not print
//! one by one.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::lower::Reason;
use super::{NodeKind, Plan, PlanNode, Precondition, SENSITIVE, Summary};
use crate::apply::fs_state::{fingerprint, sha256_hex};
use crate::apply::{self, Action, EntryKind, FsState};
use crate::fsutil::normal_path;
use crate::model::ApplySpec;
use crate::model::facts::CollectorSpec;

/// Every way the plan contradicts itself, each naming its node; empty when it holds together.
pub fn contradictions(plan: &Plan) -> Vec<String> {
    let mut found = Vec::new();
    if let Err(why) = check_format_version(&plan.format_version) {
        found.push(why);
    }
    for super::AuditDestination::Directory { path } in &plan.audit {
        if let Err(why) = check_path(path) {
            found.push(format!("audit: {why}"));
        }
    }
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        if positions.insert(&node.address, i).is_some() {
            found.push(format!("{}: two nodes have this address", node.address));
        }
    }
    let nodes = Nodes {
        all: &plan.nodes,
        positions,
        previous_edits: previous_edits(&plan.nodes),
    };
    found.extend(plan.nodes.iter().enumerate().filter_map(|(i, node)| {
        let checked = check_kind(node)
            .and_then(|()| match node.kind {
                NodeKind::Facts => check_facts_node(node),
                // `execute` converges every other node as a file-family state.
                NodeKind::Apply | NodeKind::Logs => check_apply_node(node),
            })
            .and_then(|()| nodes.check_edges(i, node))
            .and_then(|()| nodes.check_precondition(i, node));
        checked.err().map(|why| format!("{}: {why}", node.address))
    }));
    let counted = Summary::of(&plan.nodes);
    if plan.summary != counted {
        found.push(format!(
            "the summary says {} but the nodes are {}",
            describe(&plan.summary),
            describe(&counted)
        ));
    }
    found
}

/// `MAJOR.MINOR`, both numbers: the reader compares majors, so nothing else may pass for one.
fn check_format_version(version: &str) -> Result<(), String> {
    let number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match version.split_once('.') {
        Some((major, minor)) if number(major) && number(minor) => Ok(()),
        _ => Err(format!(
            "`format_version` `{version}` is not MAJOR.MINOR, two numbers"
        )),
    }
}

/// The address says the section (`apply.`, `facts.`) and the type is one of that section's:
/// `show` prints a node by its address and `execute` runs it by its kind.
fn check_kind(node: &PlanNode) -> Result<(), String> {
    let (kind, prefix, types): (&str, &str, &[&str]) = match node.kind {
        NodeKind::Apply => ("apply", "apply.", &ApplySpec::TYPE_NAMES),
        NodeKind::Facts => ("facts", "facts.", &CollectorSpec::TYPE_NAMES),
        NodeKind::Logs => return Err("`plan` makes no `logs` nodes".to_owned()),
    };
    if !node.address.starts_with(prefix) {
        return Err(format!("a `{kind}` node's address starts with `{prefix}`"));
    }
    if !types.contains(&node.type_name.as_str()) {
        return Err(format!(
            "`{}` is not a type of a `{kind}` node",
            node.type_name
        ));
    }
    Ok(())
}

/// The plan's nodes, with where each address is in the order.
struct Nodes<'p> {
    all: &'p [PlanNode],
    positions: HashMap<&'p str, usize>,
    /// Per node: the nearest earlier apply node with the same path.
    previous_edits: Vec<Option<usize>>,
}

impl Nodes<'_> {
    /// The position of the node an address names.
    fn position(&self, address: &str) -> Result<usize, String> {
        self.positions
            .get(address)
            .copied()
            .ok_or_else(|| format!("`{address}` names no node of the plan"))
    }

    /// Dependencies come before their dependents (so the graph has no cycle), and notifications
    /// are the ones `plan` makes: each from a node to a handler that depends on it, and every
    /// handler notified.
    fn check_edges(&self, i: usize, node: &PlanNode) -> Result<(), String> {
        for dependency in &node.depends_on {
            if self.position(&dependency.address)? >= i {
                return Err(format!(
                    "it depends on `{}`, which is not before it in the plan",
                    dependency.address
                ));
            }
        }
        for handler in &node.notifies {
            let target = &self.all[self.position(handler)?];
            let waits = target
                .depends_on
                .iter()
                .any(|d| d.address == node.address && d.reason == Reason::Notify.as_str());
            if !target.handler || !waits {
                return Err(format!(
                    "it notifies `{handler}`, which is not a handler notified by it"
                ));
            }
        }
        let notifiers: Vec<&str> = node
            .depends_on
            .iter()
            .filter(|d| d.reason == Reason::Notify.as_str())
            .map(|d| d.address.as_str())
            .collect();
        for notifier in &notifiers {
            if !self.all[self.position(notifier)?]
                .notifies
                .contains(&node.address)
            {
                return Err(format!(
                    "it waits for a notification from `{notifier}`, which does not notify it"
                ));
            }
        }
        let notified = !notifiers.is_empty();
        if node.handler != notified {
            return Err(if node.handler {
                "it is a handler, but no node notifies it".to_owned()
            } else {
                "it is notified, but is not a handler".to_owned()
            });
        }
        Ok(())
    }

    /// `none` exactly for facts nodes; `chained` for an edit of a file an earlier node edits
    /// (and only then may two nodes have one path), or a hard link to a file an earlier node
    /// manages. `execute` checks an `observed` node before the run and a `chained` one only
    /// when it runs.
    fn check_precondition(&self, i: usize, node: &PlanNode) -> Result<(), String> {
        if node.kind == NodeKind::Facts {
            return match node.precondition {
                Precondition::None => Ok(()),
                _ => Err("a facts node's precondition is `none`".to_owned()),
            };
        }
        let previous_edit = self.previous_edits[i].map(|p| &self.all[p]);
        let after_edit = previous_edit.is_some_and(|earlier| {
            node.depends_on
                .iter()
                .any(|d| d.address == earlier.address && d.reason == Reason::SameFile.as_str())
        });
        let linked = || {
            node.depends_on
                .iter()
                .any(|d| d.reason == Reason::LinkTarget.as_str())
                && serde_json::from_value::<FsState>(node.after.clone())
                    .is_ok_and(|after| after.state == EntryKind::HardLink)
        };
        match (node.precondition, previous_edit) {
            (Precondition::Chained, Some(_)) if after_edit => Ok(()),
            (_, Some(earlier)) => Err(format!(
                "`{}` manages the same path before it: a second edit of a file is `chained` \
                 after the previous one (`same file`)",
                earlier.address
            )),
            (Precondition::Observed, None) => Ok(()),
            (Precondition::Chained, None) if linked() => Ok(()),
            (Precondition::Chained, None) => Err(
                "it is `chained`, but no earlier node edits its file or its link's target"
                    .to_owned(),
            ),
            (Precondition::None, None) => Err("only a facts node has no precondition".to_owned()),
        }
    }
}

/// Per node, the nearest earlier apply node managing the same path (`after.path`).
fn previous_edits(nodes: &[PlanNode]) -> Vec<Option<usize>> {
    let mut last_by_path: HashMap<&str, usize> = HashMap::new();
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let path = (node.kind != NodeKind::Facts)
                .then(|| node.after.get("path").and_then(Value::as_str))
                .flatten()?;
            last_by_path.insert(path, i)
        })
        .collect()
}

fn describe(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} to delete, {} unchanged, {} to run, {} to collect",
        s.create, s.update, s.delete, s.no_op, s.run, s.collect
    )
}

/// A collector changes nothing and always runs: `show` prints it as such.
fn check_facts_node(node: &PlanNode) -> Result<(), String> {
    if node.action != Action::Collect {
        return Err("a facts node's action is `collect`".to_owned());
    }
    if node.noop || node.handler {
        return Err(
            "a facts node is never `noop` or a handler: its collector always runs".to_owned(),
        );
    }
    if node.before != Value::Null || node.diff.is_some() {
        return Err("a facts node has no `before` and no `diff`".to_owned());
    }
    let sensitive = node.after_sensitive == Value::Bool(true);
    if sensitive != (node.after == SENSITIVE) {
        return Err("`after` and `after_sensitive` disagree".to_owned());
    }
    Ok(())
}

fn check_apply_node(node: &PlanNode) -> Result<(), String> {
    let state = |value: &Value, name: &str| {
        serde_json::from_value::<FsState>(value.clone())
            .map_err(|e| format!("unreadable `{name}`: {e}"))
    };
    let before = state(&node.before, "before")?;
    let after = state(&node.after, "after")?;
    if before.path != after.path {
        return Err("`before` and `after` are of different paths".to_owned());
    }
    check_path(&after.path)?;
    if after.state == EntryKind::HardLink {
        check_path(after.target.as_deref().unwrap_or_default())?;
    }
    for mode in [&before.mode, &after.mode].into_iter().flatten() {
        check_mode(mode)?;
    }
    // Without one, `execute` would pick a mode `show` cannot print.
    if matches!(after.state, EntryKind::File | EntryKind::Directory) && after.mode.is_none() {
        return Err("a wanted file or directory has no `mode`".to_owned());
    }
    let sensitive = node.is_sensitive();
    check_sensitivity(node, &before, &after, sensitive)?;
    if !sensitive {
        check_content(&before, &after)?;
    }
    let action = apply::action(&before, &after);
    // A sensitive node's content hashes are left out: a change of content alone is an update
    // its states cannot show (`execute` renders the content again and converges to it).
    let hidden_content_change = sensitive
        && action == Action::NoOp
        && node.action == Action::Update
        && after.state == EntryKind::File;
    if node.action != action && !hidden_content_change {
        return Err(format!(
            "its action is `{}`, but its `before` and `after` make it `{}`",
            action_name(node.action),
            action_name(action)
        ));
    }
    if node.fingerprint != fingerprint(&before, &node.route, !sensitive) {
        return Err("its fingerprint is not the one of its `before`".to_owned());
    }
    apply::verify_diff(
        node.diff.as_deref(),
        &before,
        &after,
        sensitive,
        node.action,
    )
}

/// Absolute and plainly spelled, as `check` requires: `show` prints the path as written (a
/// node's, a hard link's target, where run reports go), and `.` or `..` after a symbolic link
/// would make the kernel write elsewhere.
fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` is not absolute"));
    }
    normal_path(path).map_err(|not_normal| format!("path `{path}` {}", not_normal.why()))
}

/// Modes are written as `set_mode` writes them: four octal digits, nothing more.
fn check_mode(mode: &str) -> Result<(), String> {
    let bits = u32::from_str_radix(mode, 8).ok().filter(|b| *b <= 0o7777);
    match bits {
        Some(bits) if format!("{bits:04o}") == mode => Ok(()),
        _ => Err(format!(
            "mode `{mode}` is not four octal digits as `driftless plan` writes them"
        )),
    }
}

/// A sensitive node has exactly the redactions `plan` makes, and nothing else hidden.
fn check_sensitivity(
    node: &PlanNode,
    before: &FsState,
    after: &FsState,
    sensitive: bool,
) -> Result<(), String> {
    let consistent = if sensitive {
        node.after_sensitive == json!({ "content": true })
            && node.before_sensitive == json!({ "sha256": true })
            && after.content.as_deref() == Some(SENSITIVE)
            && after.content_base64.is_none()
            && after.sha256.is_none()
            && after.size.is_none()
            && before.sha256.is_none()
            && before.size.is_none()
    } else {
        node.before_sensitive == Value::Bool(false)
    };
    if consistent {
        Ok(())
    } else {
        Err("its sensitivity masks do not match its `before` and `after`".to_owned())
    }
}

/// The wanted content is the one the hash names, and only regular files have one.
fn check_content(before: &FsState, after: &FsState) -> Result<(), String> {
    let has_content = after.content.is_some() || after.content_base64.is_some();
    if after.state != EntryKind::File {
        return if has_content || after.sha256.is_some() || after.size.is_some() {
            Err("only a regular file has content".to_owned())
        } else {
            Ok(())
        };
    }
    if after.content.is_some() && after.content_base64.is_some() {
        return Err("`after` has both `content` and `content_base64`".to_owned());
    }
    match after.content_bytes()? {
        Some(bytes) => {
            if after.sha256.as_deref() != Some(&*sha256_hex(&bytes))
                || after.size != Some(bytes.len() as u64)
            {
                return Err(
                    "`after.sha256` and `after.size` are not those of `after`'s content".to_owned(),
                );
            }
        }
        // Content kept as it is: the hash, if any, is the observed one.
        None => {
            if (after.sha256.is_some() || after.size.is_some())
                && (after.sha256 != before.sha256 || after.size != before.size)
            {
                return Err("`after` keeps the content but names another hash".to_owned());
            }
        }
    }
    Ok(())
}

fn action_name(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
