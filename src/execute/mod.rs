//! Stage 6, execute: apply exactly a reviewed plan, or refuse it.
//!
//! Entry points: [`verify_host`] and [`stale_nodes`] (before anything changes: the host, and
//! that no observed node's path changed since the plan) and [`run`] (the DAG on rayon
//! workers). A node starts when its dependencies are done; dependents of a failed node are
//! skipped; independent nodes go on.
//! Every node checks its precondition again right before it changes anything. A facts node
//! runs its collector once (`collect.rs`).

mod collect;
pub mod lock;
mod report;
mod scheduler;

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

pub use collect::Collected;
pub use report::{RunReport, write_report};

use crate::apply::{self, Action};
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

/// Every node whose observed state no longer matches its fingerprint, with what changed.
/// Chained nodes are checked when they run (their state is made by an earlier node).
pub fn stale_nodes(plan: &Plan) -> Vec<String> {
    use rayon::prelude::*;
    plan.nodes
        .par_iter()
        // A noop node never runs: what happened to its thing cannot make the plan wrong.
        .filter(|n| n.precondition == Precondition::Observed && !n.noop)
        .filter_map(|node| node.family()?.stale(&node.view()))
        .collect()
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
            .map(|t| t.spec.carries_secret(t.rendered.as_ref()))
    };
    let key = |node: &PlanNode| node.family().and_then(|f| f.key(&node.after));
    // Every edit of a thing one task writes a secret into is sensitive.
    let things_with_secrets: std::collections::HashSet<Option<String>> = apply_nodes()
        .filter(|n| secret(n) == Some(true))
        .map(key)
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
                (!things_with_secrets.contains(&key(node))).then(|| {
                    format!(
                        "{}: the plan hides its content as sensitive, but its task in the config \
                         writes no secret; make a new plan",
                        node.address
                    )
                })
            } else {
                let shows_content = node.family().is_some_and(|f| f.shows_content(&node.view()));
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

/// Runs one node: its family checks the precondition, then makes the change.
fn run_node(node: &PlanNode, notified: bool, config: Option<&Recompiled<'_>>) -> Status {
    if node.noop {
        return Status::Skipped("noop".to_owned());
    }
    if node.handler && !notified {
        return Status::Skipped("not notified: no task it is a handler for changed".to_owned());
    }
    // A node with nothing to do changes nothing, whatever its thing looks like now (`execute`
    // checked every observed node before the run).
    if node.action == Action::NoOp {
        return Status::Unchanged;
    }
    let Some(family) = node.family() else {
        return Status::Failed(format!(
            "{}: `{}` is not a type this driftless runs",
            node.address, node.type_name
        ));
    };
    let recompiled = config.map(|c| apply::Recompiled {
        tasks: &c.tasks,
        config_dir: c.config_dir,
    });
    match family.run(&node.view(), recompiled.as_ref()) {
        Ok(()) => Status::Changed,
        Err(e) => Status::Failed(e.message),
    }
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
    finish_families(plan, &outcomes, run_started);
    Ok(outcomes)
}

/// After the run, each family's work for all its nodes at once (the file family syncs the
/// directories written, once each).
fn finish_families(plan: &Plan, outcomes: &[NodeOutcome], run_started: std::time::SystemTime) {
    let families = apply::contract::by_family(plan.nodes.iter().zip(outcomes).filter_map(
        |(node, outcome)| {
            let changed = outcome.status == Status::Changed;
            Some((node.family()?, (node.view(), changed)))
        },
    ));
    for (family, nodes) in families {
        family.finish(&nodes, run_started);
    }
}
