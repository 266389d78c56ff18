//! A plan read back holds together: what `show` prints of it is what `execute` does with it.
//!
//! The digest only proves that nobody edited the plan without sealing it again, and anyone can
//! recompute it. So everything `show` prints is checked against the fields `execute` acts on:
//! the summary counts the nodes, each node's action is the one its `before` and `after` give,
//! its fingerprint is the one of its `before` (which `execute` compares with the host), the
//! wanted content has the recorded hash, and the diff is the change from `before` to `after`.
//! Fields `execute` acts on and `show` prints only in one spelling (modes) must be spelled
//! that way.

use serde_json::{Value, json};

use super::{NodeKind, Plan, PlanNode, SENSITIVE, Summary};
use crate::apply::fs_state::{fingerprint, sha256_hex};
use crate::apply::{self, Action, EntryKind, FsState};

/// Every way the plan contradicts itself, each naming its node; empty when it holds together.
pub fn contradictions(plan: &Plan) -> Vec<String> {
    let mut found: Vec<String> = plan
        .nodes
        .iter()
        .filter_map(|node| {
            let checked = match node.kind {
                NodeKind::Facts => check_facts_node(node),
                // `execute` converges every other node as a file-family state.
                NodeKind::Apply | NodeKind::Logs => check_apply_node(node),
            };
            checked.err().map(|why| format!("{}: {why}", node.address))
        })
        .collect();
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
