//! Running a file-family node: its path observed again and compared with the plan's
//! fingerprint, then changed in the place that was observed; after the run, each directory
//! written is synced once.

use std::collections::BTreeSet;
use std::path::Path;

use super::super::contract::{NodeView, Recompiled};
use super::super::fs_state::{self, EntryKind, FsState, Observed, Place};
use super::decode;
use super::plan::{Start, plan_task};
use crate::error::ResourceError;

/// Observes a node's path now and compares it with the plan's fingerprint. The place observed
/// stays open: the change is made there, so what was checked is what is changed.
pub fn check_precondition(node: &NodeView<'_>) -> Result<(Observed, Place), String> {
    let after = decode(node.after, node.address, "after")?;
    let hard_link_to = (after.state == EntryKind::HardLink)
        .then_some(after.target.as_deref())
        .flatten();
    let (now, place) = fs_state::observe_in_place(&after.path, after.follow, hard_link_to)
        .map_err(|e| format!("{}: cannot read {}: {e}", node.address, after.path))?;
    let with_content = !node.is_sensitive();
    if let Err(stale) = fs_state::check_fingerprint(node.fingerprint, &now, with_content) {
        let change = match stale {
            fs_state::Stale::Changed => {
                let before = decode(node.before, node.address, "before")?;
                fs_state::describe_change(&before, &now.state)
            }
            fs_state::Stale::UntrustedDirectory(why) => why,
        };
        return Err(format!(
            "{}: {} changed since the plan ({change})",
            node.address, after.path
        ));
    }
    Ok((now, place))
}

/// The precondition, then the change.
pub fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<(), ResourceError> {
    let (now, place) = check_precondition(node)?;
    let mut want = if node.is_sensitive() {
        resolve_sensitive(node, &now, config)?
    } else {
        decode(node.after, node.address, "after")?.into_owned()
    };
    want.resolve_pending_principals()
        .map_err(|e| format!("{}: {e}", node.address))?;
    fs_state::converge(&now.state, &want, &place).map_err(|mut e| {
        // What a `validate` command printed about content read from a secret may quote it.
        if node.is_sensitive() && e.output.take().is_some() {
            e.message = format!(
                "the validate command rejected the new content of {} (its output is hidden: \
                 the content came from a secret); the file was not changed",
                want.path
            );
        }
        e
    })
}

/// A sensitive node's wanted state, re-rendered from the secret sources: the plan holds only
/// `(sensitive)`. The rest of the wanted state must be what the plan says.
fn resolve_sensitive(
    node: &NodeView<'_>,
    now: &Observed,
    config: Option<&Recompiled<'_>>,
) -> Result<FsState, String> {
    let source = config.ok_or_else(|| {
        format!(
            "{}: has sensitive values, but no config to render them from",
            node.address
        )
    })?;
    let task = source
        .tasks
        .get(node.address)
        .ok_or_else(|| format!("{}: no longer in the config; make a new plan", node.address))?;
    let planned = plan_task(task, source.config_dir, Start::Chained(now))
        .map_err(|e| format!("{}: {e}", node.address))?;
    let reviewed = decode(node.after, node.address, "after")?;
    let mut planned = planned;
    // An owner made by an earlier node of the run has an id now; the plan named it only.
    if reviewed.uid.is_none() {
        planned.after.uid = None;
    }
    if reviewed.gid.is_none() {
        planned.after.gid = None;
    }
    if planned.after.redacted() != reviewed.redacted() {
        return Err(format!(
            "{}: the config renders differently than when the plan was made; make a new plan",
            node.address
        ));
    }
    Ok(planned.after)
}

/// Makes the run's renames and removals durable — each changed path's directory is synced
/// once, after all nodes ran, instead of once per file — and sweeps the temp files an earlier
/// run killed between writing and renaming left (hidden `.name.driftless-…`, still taking
/// space) from each directory the plan touches.
pub fn finish(nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
    use rayon::prelude::*;
    let directory = |node: &NodeView<'_>| -> Option<std::path::PathBuf> {
        let after = decode(node.after, node.address, "after").ok()?;
        Path::new(&after.path).parent().map(Path::to_path_buf)
    };
    let changed: BTreeSet<_> = nodes
        .iter()
        .filter(|(_, changed)| *changed)
        .filter_map(|(node, _)| directory(node))
        .collect();
    changed.par_iter().for_each(|dir| {
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            let dir = dir.to_string_lossy();
            tracing::warn!(
                "cannot sync directory {}: {}",
                crate::printable::escape(&dir),
                crate::printable::escape(&e.to_string())
            );
        }
    });
    let touched: BTreeSet<_> = nodes
        .iter()
        .filter_map(|(node, _)| directory(node))
        .collect();
    for dir in touched {
        crate::fsutil::remove_stale_temp_files(&dir, run_started);
    }
}
