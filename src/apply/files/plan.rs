//! Planning the file family: observe each path (read-only), want, diff, fingerprint. Editors
//! of one file form a chain, each starting from the state the one before it leaves; a secret
//! one of them writes makes all of them sensitive; a hard link's state is predicted from the
//! tasks managing its target.

use std::collections::HashSet;

use rayon::prelude::*;
use serde_json::{Value, json};

use super::super::Action;
use super::super::contract::SENSITIVE;
use super::super::contract::{NodeStates, PlanContext, Recorded};
use super::super::fs_state::{self, EntryKind, FsState, Observed};
use super::super::text;
use super::{FileType, WantContext, Wanted, action};
use crate::config::ConfigDir;
use crate::fsutil::walk::{Route, Walked};
use crate::model::ApplyTask;

/// The outcome of observe + want + diff for one task.
pub struct Planned {
    pub action: Action,
    pub before: FsState,
    pub after: FsState,
    /// The wanted content came from a secret: plan.json and diffs must not show it.
    pub sensitive: bool,
    pub diff: Option<String>,
    /// Of `before` and `route`: `execute` refuses the node when the path no longer looks like
    /// this, or is no longer reached the same way.
    pub fingerprint: String,
    /// How the path was reached when observed.
    pub route: Route,
    /// `route`'s digest, taken once (the fingerprint and plan.json both hold it).
    pub route_digest: String,
    /// The state this node leaves, for the next task editing the same file (taken by it).
    pub leaves: Option<Observed>,
    /// `before` was made by earlier nodes, not observed.
    pub chained: bool,
}

impl Planned {
    /// Marks the content sensitive although this task's own values are not: another edit of
    /// the same file writes a secret into it, which this one's content and diff would show.
    fn hide_content(&mut self) {
        self.sensitive = true;
        // As for any sensitive node, the fingerprint holds no hash of the content.
        self.fingerprint = fs_state::fingerprint(&self.before, &self.route_digest, false);
        if self.diff.is_some() {
            self.diff = Some(text::hidden(&self.after.path));
        }
    }

    /// `before`/`after` as plan.json shows them, with sensitive leaves replaced and their
    /// masks.
    fn into_states(self) -> NodeStates {
        let (before, after, before_sensitive, after_sensitive) = if self.sensitive {
            let after = FsState {
                content: Some(SENSITIVE.to_owned()),
                ..self.after.redacted()
            };
            let masks = (json!({ "sha256": true }), json!({ "content": true }));
            (self.before.redacted(), after, masks.0, masks.1)
        } else {
            (
                self.before,
                self.after,
                Value::Bool(false),
                Value::Bool(false),
            )
        };
        NodeStates {
            action: self.action,
            before: Recorded::File(before),
            after: Recorded::File(after),
            before_sensitive,
            after_sensitive,
            fingerprint: self.fingerprint,
            route: self.route_digest,
            diff: self.diff,
            chained: self.chained,
        }
    }
}

/// Where a task's planning starts from.
pub enum Start<'a> {
    /// Its path observed, starting from the directories already walked to.
    Observe(&'a Walked),
    /// The state an earlier task editing the same file leaves (or, at execute time, the state
    /// observed there): nothing is read from disk.
    Chained(&'a Observed),
}

/// Observes the task's path (or takes the chained state) and computes the wanted state.
pub fn plan_task(
    task: &ApplyTask,
    config_dir: &ConfigDir,
    start: Start<'_>,
) -> Result<Planned, String> {
    let member = task
        .spec
        .file_type()
        .ok_or_else(|| format!("`{}` is not of the file family", task.spec.type_name()))?;
    let path = &member.path().value;
    let observed = match start {
        Start::Chained(state) => state.clone(),
        Start::Observe(walked) => {
            observe(member, walked).map_err(|e| format!("cannot read {path}: {e}"))?
        }
    };
    let cx = WantContext {
        config_dir,
        rendered: task.rendered.as_ref(),
    };
    let mut wanted = member.want(&cx, &observed)?;
    super::write_checks::record(&member.write_checks(), &mut wanted.state)?;
    restrict_new_secret_file(&mut wanted, &observed.state, member);
    let before = observed.state.clone();
    let after = wanted.state;
    let action = action(&before, &after);
    let diff = text::diff(&observed, &after, wanted.sensitive, action);
    // A `noop` task never runs, so the next edit of the same file starts from what is there.
    let leaves = if task.meta.noop {
        observed.clone()
    } else {
        Observed {
            content: match after.state {
                EntryKind::File => after.content_bytes()?.or_else(|| observed.content.clone()),
                _ => None,
            },
            state: after.without_content(),
            route: observed.route.clone(),
        }
    };
    let route_digest = observed.route.digest();
    Ok(Planned {
        action,
        fingerprint: fs_state::fingerprint(&before, &route_digest, !wanted.sensitive),
        route: observed.route,
        route_digest,
        before: before.without_content(),
        after,
        sensitive: wanted.sensitive,
        diff,
        leaves: Some(leaves),
        chained: matches!(start, Start::Chained(_)),
    })
}

/// Observes the path the way the task's type looks at it.
fn observe(member: &dyn FileType, walked: &Walked) -> std::io::Result<Observed> {
    let lookup = member.lookup();
    fs_state::observe(
        &member.path().value,
        lookup.follow,
        lookup.hard_link_to,
        walked,
    )
}

/// A regular file created with content from a secret, by a task that gives no `mode`, is
/// created `0600` instead of the `0644` default: the secret stays the owner's. An existing
/// file keeps its mode, as for any task without `mode`.
fn restrict_new_secret_file(wanted: &mut Wanted, observed: &FsState, member: &dyn FileType) {
    let Some(attributes) = member.attributes() else {
        return;
    };
    let created = wanted.state.state == EntryKind::File && observed.state != EntryKind::File;
    if wanted.sensitive && created && attributes.mode().is_none() {
        wanted.state.set_mode(0o600);
    }
}

/// Plans every task of the family: independent paths in parallel, editors of one file in a
/// chain, each starting from the state the previous one leaves.
pub fn plan_all(
    all: &[ApplyTask],
    tasks: &[usize],
    chained_after: &[Option<usize>],
    link_targets: &dyn Fn(usize) -> Vec<usize>,
    cx: &PlanContext<'_>,
) -> Vec<(usize, Result<NodeStates, String>)> {
    let heads: Vec<usize> = tasks
        .iter()
        .copied()
        .filter(|&i| chained_after[i].is_none())
        .collect();
    let mut next: Vec<Option<usize>> = vec![None; all.len()];
    for &i in tasks {
        if let Some(previous) = chained_after[i] {
            next[previous] = Some(i);
        }
    }
    let walked = Walked::default();
    let chains: Vec<Vec<(usize, Result<Planned, String>)>> = heads
        .par_iter()
        .map(|&head| {
            // Most chains are one task long: no room for more until there is more.
            let mut out = Vec::with_capacity(1);
            let mut current = Some(head);
            let mut leaves: Option<Observed> = None;
            while let Some(i) = current {
                let start = match &leaves {
                    Some(leaves) => Start::Chained(leaves),
                    None => Start::Observe(&walked),
                };
                let mut planned = plan_task(&all[i], cx.config_dir, start).and_then(|p| {
                    super::refuse_unmanaged_principals(&p.after, cx.managed)?;
                    Ok(p)
                });
                // Moved on to the next edit, never kept in the planned node.
                leaves = planned.as_mut().ok().and_then(|p| p.leaves.take());
                let failed = planned.is_err();
                out.push((i, planned));
                // A chain stops at its first error: later edits have nothing to start from.
                current = if failed { None } else { next[i] };
            }
            out
        })
        .collect();
    let mut planned: Vec<Option<Planned>> = (0..all.len()).map(|_| None).collect();
    let mut results = Vec::new();
    for (i, result) in chains.into_iter().flatten() {
        match result {
            Ok(p) => planned[i] = Some(p),
            Err(e) => results.push((i, Err(e))),
        }
    }
    if results.is_empty() {
        for &i in tasks {
            if planned[i].is_none() {
                results.push((
                    i,
                    Err("not planned (an earlier edit of its file failed)".to_owned()),
                ));
            }
        }
    }
    if !results.is_empty() {
        return results;
    }
    share_sensitivity(tasks, chained_after, &mut planned);
    predict_hard_links(tasks, link_targets, &mut planned);
    tasks
        .iter()
        .filter_map(|&i| Some((i, Ok(planned[i].take()?.into_states()))))
        .collect()
}

/// Editors of one file (a chain) see each other's lines, in the chain and on disk once
/// written: when one of them writes a secret, all of them are sensitive.
fn share_sensitivity(
    tasks: &[usize],
    chained_after: &[Option<usize>],
    planned: &mut [Option<Planned>],
) {
    let head = |mut i: usize| {
        while let Some(previous) = chained_after[i] {
            i = previous;
        }
        i
    };
    let sensitive_heads: HashSet<usize> = tasks
        .iter()
        .copied()
        .filter(|&i| planned[i].as_ref().is_some_and(|p| p.sensitive))
        .map(head)
        .collect();
    for &i in tasks {
        if let Some(node) = planned[i].as_mut()
            && !node.sensitive
            && sensitive_heads.contains(&head(i))
        {
            node.hide_content();
        }
    }
}

/// A hard link shares its inode with its target, so the tasks managing the target change what
/// the link's node finds when it runs: an attribute change shows through the link, and a
/// content change replaces the target's inode (writes are atomic renames), leaving the link a
/// separate file with the old content. Such a link's `before` is that predicted state, checked
/// when the node runs, and re-linking it is its planned update. A replaced target is a new
/// inode, unknown yet: the link's route leaves the target's entry out (the run checks that
/// it made that inode).
fn predict_hard_links(
    tasks: &[usize],
    link_targets: &dyn Fn(usize) -> Vec<usize>,
    planned: &mut [Option<Planned>],
) {
    for &i in tasks {
        let Some(link) = planned[i].as_ref() else {
            continue;
        };
        if link.after.state != EntryKind::HardLink {
            continue;
        }
        let linked = link.before.state == EntryKind::HardLink;
        // The target's managers, in execution order (editors of one file form a chain).
        let managers: Vec<usize> = link_targets(i);
        let (Some(&first), Some(&last)) = (managers.first(), managers.last()) else {
            continue;
        };
        let replaced = managers.iter().any(|&m| {
            planned[m].as_ref().is_some_and(|p| {
                p.action.changes()
                    && (p.before.state != EntryKind::File
                        || p.after.state != EntryKind::File
                        || p.before.sha256 != p.after.sha256)
            })
        });
        let first_before = planned[first].as_ref().map(|p| p.before.clone());
        let last_change = planned[last]
            .as_ref()
            .filter(|p| p.action.changes())
            .map(|p| p.after.clone());
        let Some(node) = planned[i].as_mut() else {
            continue;
        };
        if replaced {
            // Checked when it runs, after the target's managers made the new inode.
            node.route = std::mem::take(&mut node.route).without_source_entry();
            node.route_digest = node.route.digest();
            node.fingerprint =
                fs_state::fingerprint(&node.before, &node.route_digest, !node.sensitive);
            node.chained = true;
        }
        if !linked {
            continue;
        }
        let mut state = node.before.clone();
        match (replaced, first_before, last_change) {
            (true, Some(old), _) => {
                // The link's inode keeps the target's old content and attributes.
                state.state = EntryKind::File;
                state.target = None;
                state.sha256 = old.sha256;
                state.size = old.size;
            }
            (false, _, Some(new)) => {
                state.mode = new.mode;
                state.owner = new.owner;
                state.uid = new.uid;
                state.group = new.group;
                state.gid = new.gid;
            }
            _ => continue,
        }
        node.action = action(&state, &node.after);
        node.fingerprint = fs_state::fingerprint(&state, &node.route_digest, !node.sensitive);
        node.before = state;
        node.chained = true;
    }
}
