//! Stage 6, execute: apply exactly a reviewed plan, or refuse it.
//!
//! Entry points: [`verify`] (before anything changes: the host, and that no observed node's
//! path changed since the plan) and [`run`] (the DAG on rayon workers). A node starts when its
//! dependencies are done; dependents of a failed node are skipped; independent nodes go on.
//! Every node checks its precondition again right before it changes anything. A facts node
//! runs its collector once (`collect.rs`).

mod collect;
pub mod lock;
mod report;
mod scheduler;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

pub use collect::Collected;
pub use report::{RunReport, write_report};

use crate::apply::{self, Action, FsState, fs_state};
use crate::config::ConfigDir;
use crate::model::{ApplyTask, FactsTask};
use crate::plan::{HostIdentity, NodeKind, Plan, PlanNode, Precondition};

/// How a node ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "reason")]
pub enum Status {
    Changed,
    Unchanged,
    Failed(String),
    /// Not run: `noop`, a handler nobody notified, or a dependency that failed.
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeOutcome {
    pub address: String,
    #[serde(flatten)]
    pub status: Status,
    pub duration_ms: u64,
    /// A facts node's samples and threshold events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<Collected>,
    /// Whether this outcome blocks dependents (a failure, or a skip caused by one).
    #[serde(skip)]
    pub blocks: bool,
}

impl NodeOutcome {
    /// Skipped because a dependency did not succeed: blocks its own dependents in turn.
    fn blocked(address: &str, why: String) -> Self {
        NodeOutcome {
            address: address.to_owned(),
            status: Status::Skipped(why),
            duration_ms: 0,
            facts: None,
            blocks: true,
        }
    }
}

/// Every node of a run that was refused before it started: skipped, for `why`.
pub fn refused_outcomes(plan: &Plan, why: &str) -> Vec<NodeOutcome> {
    plan.nodes
        .iter()
        .map(|node| NodeOutcome::blocked(&node.address, format!("not run: {why}")))
        .collect()
}

/// Refuses a plan made for another host.
pub fn verify_host(plan: &Plan, here: &HostIdentity) -> Result<(), String> {
    let same_machine = plan.host.machine_id.is_empty()
        || here.machine_id.is_empty()
        || plan.host.machine_id == here.machine_id;
    if plan.host.hostname != here.hostname || !same_machine {
        return Err(format!(
            "this plan was made on host `{}` (machine id {}), not on this host `{}` (machine id \
             {}); make the plan on the host that executes it",
            plan.host.hostname,
            display_id(&plan.host.machine_id),
            here.hostname,
            display_id(&here.machine_id)
        ));
    }
    Ok(())
}

fn display_id(id: &str) -> &str {
    if id.is_empty() { "unknown" } else { id }
}

/// The state a node's `before` records, as plan.json has it.
fn planned_before(node: &PlanNode) -> Result<FsState, String> {
    serde_json::from_value(node.before.clone())
        .map_err(|e| format!("{}: unreadable `before`: {e}", node.address))
}

fn planned_after(node: &PlanNode) -> Result<FsState, String> {
    serde_json::from_value(node.after.clone())
        .map_err(|e| format!("{}: unreadable `after`: {e}", node.address))
}

/// Every node whose observed state no longer matches its fingerprint, with what changed.
/// Chained nodes are checked when they run (their state is made by an earlier node).
pub fn stale_nodes(plan: &Plan) -> Vec<String> {
    use rayon::prelude::*;
    plan.nodes
        .par_iter()
        // A noop node never runs: what happened to its path cannot make the plan wrong.
        .filter(|n| n.precondition == Precondition::Observed && !n.noop)
        .filter_map(|node| check_precondition(node).err())
        .collect()
}

/// Observes a node's path now and compares it with the plan's fingerprint. The place observed
/// stays open: the change is made there, so what was checked is what is changed.
fn check_precondition(node: &PlanNode) -> Result<(apply::Observed, apply::Place), String> {
    let after = planned_after(node)?;
    let (now, place) = apply::observe_wanted(&after)
        .map_err(|e| format!("{}: cannot read {}: {e}", node.address, after.path))?;
    if let Err(stale) = fs_state::check_fingerprint(&node.fingerprint, &now, !node.is_sensitive()) {
        let change = match stale {
            fs_state::Stale::Changed => {
                fs_state::describe_change(&planned_before(node)?, &now.state)
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

/// The config compiled again at execute time, by address: where sensitive values and
/// collectors come from (the plan holds `(sensitive)`, and a collector is not rebuilt from
/// JSON), each checked against what the plan says.
pub struct Recompiled<'a> {
    pub tasks: HashMap<String, &'a ApplyTask>,
    pub collectors: HashMap<String, &'a FactsTask>,
    pub config_dir: &'a ConfigDir,
}

/// Every apply node whose sensitivity is not the one its task in the config, compiled again,
/// gives: refused before the run. A node marked sensitive is written from the config, not from
/// what `show` printed, so it must be one whose file gets a secret (from its own task or from
/// another edit of the same file); a node whose content is shown must not come from a secret.
/// Anything else is a plan edited to have `execute` write content nobody reviewed (with other
/// `-e` vars, say).
pub fn sensitivity_mismatches(plan: &Plan, tasks: &[ApplyTask]) -> Vec<String> {
    let by_address: HashMap<String, &ApplyTask> =
        tasks.iter().map(|t| (crate::plan::address(t), t)).collect();
    let apply_nodes = || plan.nodes.iter().filter(|n| n.kind == NodeKind::Apply);
    let secret = |node: &PlanNode| {
        by_address
            .get(&node.address)
            .map(|t| apply::carries_secret(t))
    };
    // Every edit of a file one task writes a secret into is sensitive.
    let files_with_secrets: std::collections::HashSet<Option<&serde_json::Value>> = apply_nodes()
        .filter(|n| secret(n) == Some(true))
        .map(|n| n.after.get("path"))
        .collect();
    apply_nodes()
        .filter_map(|node| {
            let Some(own_secret) = secret(node) else {
                return Some(format!(
                    "{}: no longer in the config; make a new plan",
                    node.address
                ));
            };
            if node.is_sensitive() {
                (!files_with_secrets.contains(&node.after.get("path"))).then(|| {
                    format!(
                        "{}: the plan hides its content as sensitive, but its task in the config \
                         writes no secret; make a new plan",
                        node.address
                    )
                })
            } else {
                let shows_content = ["content", "content_base64"]
                    .iter()
                    .any(|field| node.after.get(*field).is_some_and(|v| !v.is_null()));
                (own_secret && shows_content).then(|| {
                    format!(
                        "{}: its task in the config writes a secret, but the plan shows its \
                         content as not sensitive; make a new plan",
                        node.address
                    )
                })
            }
        })
        .collect()
}

/// Runs one node: the precondition, then the change.
fn run_node(node: &PlanNode, notified: bool, config: Option<&Recompiled<'_>>) -> Status {
    if node.noop {
        return Status::Skipped("noop".to_owned());
    }
    if node.handler && !notified {
        return Status::Skipped("not notified: no task it is a handler for changed".to_owned());
    }
    // A node with nothing to do changes nothing, whatever its path looks like now (`execute`
    // checked every observed node before the run).
    if node.action == Action::NoOp {
        return Status::Unchanged;
    }
    let (now, place) = match check_precondition(node) {
        Ok(checked) => checked,
        Err(e) => return Status::Failed(e),
    };
    let want = if node.is_sensitive() {
        match resolve_sensitive(node, &now, config) {
            Ok(want) => want,
            Err(e) => return Status::Failed(e),
        }
    } else {
        match planned_after(node) {
            Ok(want) => want,
            Err(e) => return Status::Failed(e),
        }
    };
    match fs_state::converge(&now.state, &want, &place) {
        Ok(()) => Status::Changed,
        Err(e) => Status::Failed(e),
    }
}

/// A sensitive node's wanted state, re-rendered from the secret sources: the plan holds only
/// `(sensitive)`. The rest of the wanted state must be what the plan says.
fn resolve_sensitive(
    node: &PlanNode,
    now: &apply::Observed,
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
        .get(&node.address)
        .ok_or_else(|| format!("{}: no longer in the config; make a new plan", node.address))?;
    let planned = apply::plan_task(task, source.config_dir, Some(now))
        .map_err(|e| format!("{}: {e}", node.address))?;
    let mut recomputed = serde_json::to_value(&planned.after).unwrap_or_default();
    let mut reviewed = node.after.clone();
    for value in [&mut recomputed, &mut reviewed] {
        if let Some(map) = value.as_object_mut() {
            for field in ["content", "content_base64", "sha256", "size"] {
                map.remove(field);
            }
        }
    }
    if recomputed != reviewed {
        return Err(format!(
            "{}: the config renders differently than when the plan was made; make a new plan",
            node.address
        ));
    }
    Ok(planned.after)
}

/// Runs the plan's nodes on `jobs` workers and returns every node's outcome, in plan order.
pub fn run(
    plan: &Plan,
    jobs: usize,
    config: Option<&Recompiled<'_>>,
) -> Result<Vec<NodeOutcome>, String> {
    let run_started = std::time::SystemTime::now();
    // What an earlier run in this process made is not this run's to trust.
    crate::fsutil::at::forget_made_by_this_run();
    let outcomes = scheduler::run(plan, jobs, |node, notified| {
        let started = Instant::now();
        let (status, facts) = match node.kind {
            NodeKind::Facts => collect::run(node, config),
            _ => (run_node(node, notified, config), None),
        };
        NodeOutcome {
            address: node.address.clone(),
            blocks: matches!(status, Status::Failed(_)),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            facts,
        }
    })?;
    sync_changed_directories(plan, &outcomes);
    remove_leftover_temp_files(plan, run_started);
    Ok(outcomes)
}

/// Temp files of an earlier run that was killed between writing and renaming are hidden
/// (`.name.driftless-…`) but still take space: each directory the plan touches is swept once.
fn remove_leftover_temp_files(plan: &Plan, run_started: std::time::SystemTime) {
    let directories: std::collections::BTreeSet<&Path> = plan
        .nodes
        .iter()
        .filter_map(|n| n.after.get("path")?.as_str())
        .filter_map(|p| Path::new(p).parent())
        .collect();
    for dir in directories {
        crate::fsutil::remove_stale_temp_files(dir, run_started);
    }
}

/// Makes the run's renames and removals durable: each changed path's directory is synced
/// once, after all nodes ran, instead of once per file.
fn sync_changed_directories(plan: &Plan, outcomes: &[NodeOutcome]) {
    use rayon::prelude::*;
    let directories: std::collections::BTreeSet<&Path> = plan
        .nodes
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| o.status == Status::Changed)
        .filter_map(|(n, _)| n.after.get("path")?.as_str())
        .filter_map(|p| Path::new(p).parent())
        .collect();
    directories.par_iter().for_each(|dir| {
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            let dir = dir.to_string_lossy();
            tracing::warn!(
                "cannot sync directory {}: {}",
                crate::printable::escape(&dir),
                crate::printable::escape(&e.to_string())
            );
        }
    });
}
