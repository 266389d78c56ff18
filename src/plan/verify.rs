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

use serde_json::Value;

use super::{NodeKind, Plan, PlanNode, Precondition, SENSITIVE, Summary};
use crate::apply::{Action, ApplySpec, Reason};
use crate::fsutil::check_plain_absolute;
use crate::model::facts::CollectorSpec;

/// Every way the plan contradicts itself, each naming its node; empty when it holds together.
pub fn contradictions(plan: &Plan) -> Vec<String> {
    let mut found = Vec::new();
    if let Err(why) = check_format_version(&plan.format_version) {
        found.push(why);
    }
    for sink in &plan.audit {
        for (_, path) in sink.local_paths() {
            if let Err(why) = check_plain_absolute(path) {
                found.push(format!("audit: {why}"));
            }
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
                NodeKind::Logs => check_logs_node(node),
                // An apply node is checked by its type's family, through its own state.
                NodeKind::Apply => match node.family() {
                    Some(family) => family.verify(&node.view()),
                    None => Err(format!(
                        "`{}` is not a type of an `apply` node",
                        node.type_name
                    )),
                },
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
        NodeKind::Apply => ("apply", "apply.", ApplySpec::TYPE_NAMES),
        NodeKind::Facts => ("facts", "facts.", CollectorSpec::TYPE_NAMES.as_slice()),
        NodeKind::Logs => ("logs", "logs.", crate::plan::LOG_SOURCE_TYPES),
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
        // A handler nobody notifies (written under `handlers:`) is shown apart and never runs.
        if !notifiers.is_empty() && !node.handler {
            return Err("it is notified, but is not a handler".to_owned());
        }
        Ok(())
    }

    /// `none` exactly for facts nodes; `chained` for an edit of a file an earlier node edits
    /// (and only then may two nodes have one path), or a hard link to a file an earlier node
    /// manages. `execute` checks an `observed` node before the run and a `chained` one only
    /// when it runs.
    fn check_precondition(&self, i: usize, node: &PlanNode) -> Result<(), String> {
        if matches!(node.kind, NodeKind::Facts | NodeKind::Logs) {
            return match node.precondition {
                Precondition::None => Ok(()),
                _ => Err("a facts or logs node's precondition is `none`".to_owned()),
            };
        }
        let previous_edit = self.previous_edits[i].map(|p| &self.all[p]);
        let after_edit = previous_edit.is_some_and(|earlier| {
            node.depends_on
                .iter()
                .any(|d| d.address == earlier.address && d.reason == Reason::SameFile.as_str())
        });
        match (node.precondition, previous_edit) {
            (Precondition::Chained, Some(_)) if after_edit => Ok(()),
            (_, Some(earlier)) => Err(format!(
                "`{}` manages the same path before it: a second edit of a file is `chained` \
                 after the previous one (`same file`)",
                earlier.address
            )),
            (Precondition::Observed, None) => Ok(()),
            // Whether something else made its state (a hard link's target's tasks) is its
            // family's to say.
            (Precondition::Chained, None) => Ok(()),
            (Precondition::None, None) => {
                Err("only a facts or logs node has no precondition".to_owned())
            }
        }
    }
}

/// Per node, the nearest earlier apply node managing the same thing (as its family names it).
fn previous_edits(nodes: &[PlanNode]) -> Vec<Option<usize>> {
    let mut last_by_thing: HashMap<String, usize> = HashMap::new();
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let thing = node.family()?.key(&node.after)?;
            last_by_thing.insert(thing, i)
        })
        .collect()
}

fn describe(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} to delete, {} unchanged, {} to run, {} to collect, {} to check, {} to ship",
        s.create, s.update, s.delete, s.no_op, s.run, s.collect, s.check, s.ship
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
    if node.before.as_json() != Some(&Value::Null) || node.diff.is_some() {
        return Err("a facts node has no `before` and no `diff`".to_owned());
    }
    let sensitive = node.after_sensitive == Value::Bool(true);
    if sensitive != node.after.as_json().is_some_and(|after| after == SENSITIVE) {
        return Err("`after` and `after_sensitive` disagree".to_owned());
    }
    Ok(())
}

/// A logs node ships what its files hold and changes nothing on the host: it waits for no
/// node, its `before` is the files it saw (each `behind` what follows from its position and
/// size), its `after` the pipeline, never sensitive (a log pipeline's settings may not hold a
/// secret; credentials are secrets' names).
fn check_logs_node(node: &PlanNode) -> Result<(), String> {
    if node.action != Action::Ship {
        return Err("a logs node's action is `ship`".to_owned());
    }
    if node.noop || node.handler || !node.depends_on.is_empty() || !node.notifies.is_empty() {
        return Err("a logs node is never `noop` or a handler, and waits for no node".to_owned());
    }
    if node.diff.is_some() || node.after_sensitive != Value::Bool(false) {
        return Err("a logs node has no `diff` and nothing sensitive".to_owned());
    }
    let before: crate::plan::LogsBefore = node
        .before
        .as_json()
        .and_then(|b| serde_json::from_value(b.clone()).ok())
        .ok_or("a logs node's `before` lists the files it matched")?;
    for file in &before.files {
        if file.behind != file.size.saturating_sub(file.position) {
            return Err(format!(
                "`{}`: `behind` is not `size` - `position`",
                file.path
            ));
        }
    }
    if before.bytes_behind != before.files.iter().map(|f| f.behind).sum::<u64>() {
        return Err("`bytes_behind` is not the sum of the files' `behind`".to_owned());
    }
    let after_is_pipeline = node.after.as_json().is_some_and(|after| {
        ["source", "parser", "filters", "outputs"]
            .iter()
            .all(|part| after.get(part).is_some())
    });
    if !after_is_pipeline {
        return Err(
            "a logs node's `after` is its pipeline: source, parser, filters, outputs".to_owned(),
        );
    }
    Ok(())
}
