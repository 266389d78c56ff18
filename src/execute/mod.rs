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
mod ship;
mod when;

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

pub use collect::Collected;
pub use report::{RunReport, write_report};
pub use ship::Shipped;

use crate::apply::{self, Action};
use crate::config::ConfigDir;
use crate::model::logs::LogPipeline;
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
    /// The task's `name`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub status: Status,
    pub duration_ms: u64,
    /// A facts node's samples and threshold events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<Collected>,
    /// What a logs node shipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Shipped>,
    /// What the program a node ran (a command) printed and how it exited: each stream to
    /// [`crate::process::REPORT_OUTPUT_LIMIT`], `(sensitive)` when the node is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<crate::process::Output>,
    /// The fields its type adds to a registered result (`uri`'s `status`, `content` …): for
    /// a `when` of this run only, never written to the report (a response may be a secret).
    #[serde(skip)]
    pub registered: Option<serde_json::Map<String, serde_json::Value>>,
    /// What the node said (a `debug` task's message), `(sensitive)` when the node is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<apply::contract::Message>,
    /// Whether this outcome blocks dependents (a failure, or a skip caused by one).
    #[serde(skip)]
    pub blocks: bool,
}

impl NodeOutcome {
    /// Not run because its `when` over registered results is false: like a task whose `when`
    /// is false at plan time, it does not block its dependents.
    fn condition_false(node: &PlanNode, why: String) -> Self {
        NodeOutcome {
            blocks: false,
            ..NodeOutcome::blocked(node, why)
        }
    }

    /// Skipped because a dependency did not succeed: blocks its own dependents in turn.
    fn blocked(node: &PlanNode, why: String) -> Self {
        NodeOutcome {
            address: node.address.clone(),
            name: node.name.clone(),
            status: Status::Skipped(why),
            duration_ms: 0,
            facts: None,
            logs: None,
            output: None,
            registered: None,
            message: None,
            blocks: true,
        }
    }
}

/// Every node of a run that was refused before it started: skipped, for `why`.
pub fn refused_outcomes(plan: &Plan, why: &str) -> Vec<NodeOutcome> {
    plan.nodes
        .iter()
        .map(|node| NodeOutcome::blocked(node, format!("not run: {why}")))
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
    // A noop node never runs: what happened to its thing cannot make the plan wrong.
    let observed = plan
        .nodes
        .iter()
        .filter(|n| n.precondition == Precondition::Observed && !n.noop)
        .filter_map(|node| Some((node.family()?, node)));
    let families = apply::contract::by_family(observed);
    families
        .par_iter()
        .flat_map_iter(|(family, nodes)| {
            if family.batches() {
                // One look for all the family's nodes (one package-manager query).
                let views: Vec<_> = nodes.iter().map(|n| n.view()).collect();
                family.stale_all(&views)
            } else {
                nodes
                    .par_iter()
                    .filter_map(|node| family.stale(&node.view()))
                    .collect()
            }
        })
        .collect()
}

/// The config compiled again at execute time, by address: where sensitive values and
/// collectors come from (the plan holds `(sensitive)`, and a collector is not rebuilt from
/// JSON), each checked against what the plan says.
pub struct Recompiled<'a> {
    pub tasks: HashMap<String, &'a ApplyTask>,
    pub collectors: HashMap<String, &'a FactsTask>,
    /// Log pipelines by their node's address.
    pub logs: HashMap<String, &'a LogPipeline>,
    /// What the pipelines run with, or why they cannot run (a secrets file refused).
    pub log_context: Result<crate::logs::LogContext, String>,
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

/// Why a node does not reach its family: `noop`, a handler nobody notified, or nothing to do
/// (a node with nothing to do changes nothing, whatever its thing looks like now: `execute`
/// checked every observed node before the run).
fn settled_without_running(node: &PlanNode, notified: bool) -> Option<Status> {
    if node.noop {
        return Some(Status::Skipped("noop".to_owned()));
    }
    if node.handler && !notified {
        return Some(Status::Skipped(
            "not notified: no task it is a handler for changed".to_owned(),
        ));
    }
    // Some no-op nodes still do something when they run (a `debug` prints its message).
    let runs = node.family().is_some_and(|f| f.runs_no_op());
    (node.action == Action::NoOp && !runs).then_some(Status::Unchanged)
}

fn unknown_type(node: &PlanNode) -> Status {
    Status::Failed(format!(
        "{}: `{}` is not a type this driftless runs",
        node.address, node.type_name
    ))
}

/// How a node ended, and what it produced: what the program it ran printed (a failed
/// command's too), its type's registered fields, what it said.
fn status_of(
    result: Result<apply::contract::Ran, crate::error::ResourceError>,
) -> (Status, Products) {
    match result {
        Ok(ran) => {
            let products = Products {
                facts: None,
                logs: None,
                output: ran.output,
                registered: ran.registered,
                message: ran.message,
            };
            let status = if ran.changed {
                Status::Changed
            } else {
                Status::Unchanged
            };
            (status, products)
        }
        Err(e) => {
            let products = Products {
                output: e.output.map(|o| *o),
                ..Products::default()
            };
            (Status::Failed(e.message), products)
        }
    }
}

/// Runs the nodes of a plan for the scheduler: each family checks its nodes' preconditions,
/// then makes the changes.
struct Nodes<'c, 'a> {
    config: Option<&'c Recompiled<'a>>,
    on_node: &'c (dyn Fn(&NodeOutcome) + Sync),
}

impl Nodes<'_, '_> {
    fn recompiled(&self) -> Option<apply::Recompiled<'_>> {
        self.config.map(|c| apply::Recompiled {
            tasks: &c.tasks,
            config_dir: c.config_dir,
        })
    }

    fn run_apply(&self, node: &PlanNode, notified: bool) -> (Status, Products) {
        if let Some(status) = settled_without_running(node, notified) {
            return (status, Products::default());
        }
        let Some(family) = node.family() else {
            return (unknown_type(node), Products::default());
        };
        status_of(family.run(&node.view(), self.recompiled().as_ref()))
    }
}

/// What a node produced besides its status: a facts node's samples, a command's output, a
/// message.
#[derive(Default)]
struct Products {
    facts: Option<Collected>,
    logs: Option<Shipped>,
    output: Option<crate::process::Output>,
    registered: Option<serde_json::Map<String, serde_json::Value>>,
    message: Option<apply::contract::Message>,
}

fn outcome(node: &PlanNode, started: Instant, status: Status, products: Products) -> NodeOutcome {
    NodeOutcome {
        address: node.address.clone(),
        name: node.name.clone(),
        blocks: matches!(status, Status::Failed(_)),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        facts: products.facts,
        logs: products.logs,
        output: products.output,
        registered: products.registered,
        message: products.message,
    }
}

impl scheduler::Work for Nodes<'_, '_> {
    fn run(&self, node: &PlanNode, notified: bool) -> NodeOutcome {
        tracing::debug!(node = %crate::printable::escape(&node.address), "starting");
        let started = Instant::now();
        let (status, products) = match node.kind {
            NodeKind::Facts => {
                let (status, facts) = collect::run(node, self.config);
                let products = Products {
                    facts,
                    ..Products::default()
                };
                (status, products)
            }
            NodeKind::Logs => {
                let (status, logs) = ship::run(node, self.config);
                let products = Products {
                    logs,
                    ..Products::default()
                };
                (status, products)
            }
            NodeKind::Apply => self.run_apply(node, notified),
        };
        outcome(node, started, status, products)
    }

    fn batch_group(&self, node: &PlanNode, notified: bool) -> Option<std::any::TypeId> {
        if node.kind != NodeKind::Apply || settled_without_running(node, notified).is_some() {
            return None;
        }
        let family = node.family().filter(|f| f.batches())?;
        Some(family.identity())
    }

    fn finished(&self, _: &PlanNode, outcome: &NodeOutcome) {
        tracing::debug!(
            node = %crate::printable::escape(&outcome.address),
            status = ?outcome.status,
            duration_ms = outcome.duration_ms,
            "ended"
        );
        (self.on_node)(outcome);
    }

    fn run_batch(&self, nodes: &[&PlanNode]) -> Vec<NodeOutcome> {
        let started = Instant::now();
        let Some(family) = nodes.first().and_then(|n| n.family()) else {
            return nodes
                .iter()
                .map(|n| outcome(n, started, unknown_type(n), Products::default()))
                .collect();
        };
        tracing::debug!(nodes = nodes.len(), first = %crate::printable::escape(&nodes[0].address), "starting a batch");
        let views: Vec<apply::NodeView<'_>> = nodes.iter().map(|n| n.view()).collect();
        let results = family.run_batch(&views, self.recompiled().as_ref());
        nodes
            .iter()
            .zip(results)
            .map(|(n, result)| {
                let (status, products) = status_of(result);
                outcome(n, started, status, products)
            })
            .collect()
    }
}

/// Runs the plan's nodes on `jobs` workers and returns every node's outcome, in plan order;
/// `on_node` is told of each as it ends (progress, streamed result lines).
pub fn run(
    plan: &Plan,
    jobs: usize,
    config: Option<&Recompiled<'_>>,
    on_node: &(dyn Fn(&NodeOutcome) + Sync),
) -> Result<Vec<NodeOutcome>, String> {
    let run_started = std::time::SystemTime::now();
    // What an earlier run in this process made is not this run's to trust.
    crate::fsutil::at::forget_made_by_this_run();
    crate::host::users::forget();
    let outcomes = scheduler::run(plan, jobs, Nodes { config, on_node })?;
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
