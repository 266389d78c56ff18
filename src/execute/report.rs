//! The run report: what an `execute` or `apply` did, written to the audit sinks.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::lock::LockRecord;
use super::{NodeOutcome, Status};
use crate::facts::HostFacts;
use crate::plan::{HostIdentity, Plan};
use crate::sinks::{Batch, Sink};

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub host: HostIdentity,
    /// The built-in facts of the host at the time of the run (OS, kernel, addresses, mounts
    /// …): what an audit needs to know about where the changes were made.
    pub facts: HostFacts,
    pub plan_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_commit: Option<String>,
    /// How the run got the host's run lock: at once, after waiting, or not (refused).
    pub lock: LockRecord,
    pub recap: Recap,
    /// SIGTERM or SIGINT stopped the run: the nodes it did not start are `skipped`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The run ended asking for the host to reboot or power off (a `reboot` node changed):
    /// the host goes down after this report, and whoever runs driftless after the boot (the
    /// agent) reads here that the last run ended so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_going_down: Option<HostGoingDown>,
    pub nodes: Vec<NodeReport>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct HostGoingDown {
    /// The node that asked.
    pub node: String,
    /// `reboot` or `poweroff`.
    pub action: &'static str,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Recap {
    pub changed: usize,
    pub unchanged: usize,
    /// Facts nodes whose collector ran (their status is `unchanged`: they change nothing).
    pub collected: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Debug, Serialize)]
pub struct NodeReport {
    #[serde(flatten)]
    pub outcome: NodeOutcome,
    /// The plan's diff (already redacted), for nodes that changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// For nodes that changed: each field of the thing that changed (mode, owner, a link's
    /// target …), before and after, sensitive ones as `(sensitive)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::apply::contract::Change>,
}

impl RunReport {
    pub fn new(
        run_id: String,
        started_at: String,
        duration_ms: u64,
        plan: &Plan,
        facts: &HostFacts,
        outcomes: Vec<NodeOutcome>,
        lock: LockRecord,
    ) -> Self {
        let mut recap = Recap::default();
        let interrupted = outcomes.iter().any(
            |o| matches!(&o.status, Status::Skipped(why) if why == super::scheduler::INTERRUPTED),
        );
        let host_going_down = (outcomes.iter().zip(&plan.nodes))
            .filter(|(outcome, _)| outcome.status == Status::Changed)
            .find_map(|(outcome, node)| {
                let action = node.family()?.host_going_down(&node.view())?;
                Some(HostGoingDown {
                    node: outcome.address.clone(),
                    action,
                })
            });
        let nodes = outcomes
            .into_iter()
            .zip(&plan.nodes)
            .map(|(outcome, node)| {
                match outcome.status {
                    Status::Changed => recap.changed += 1,
                    Status::Unchanged if outcome.facts.is_some() => recap.collected += 1,
                    Status::Unchanged => recap.unchanged += 1,
                    Status::Failed(_) => recap.failed += 1,
                    Status::Skipped(_) => recap.skipped += 1,
                }
                let changed = outcome.status == Status::Changed;
                let diff = changed.then(|| node.diff.clone()).flatten();
                let changes = match node.family() {
                    Some(family) if changed => family.changes(&node.view()),
                    _ => Vec::new(),
                };
                NodeReport {
                    outcome,
                    diff,
                    changes,
                }
            })
            .collect();
        RunReport {
            run_id,
            started_at,
            finished_at: crate::clock::now(),
            duration_ms,
            host: plan.host.clone(),
            facts: facts.clone(),
            plan_digest: plan.digest.clone(),
            config_commit: plan.config.git_commit.clone(),
            lock,
            recap,
            interrupted,
            host_going_down,
            nodes,
        }
    }
}

/// Sends the report to every sink, at once; returns the failures (a lost report is worth a
/// warning, not a failed run: the changes are made).
pub fn write_report(report: &RunReport, sinks: &[Arc<dyn Sink>]) -> Vec<String> {
    let mut text = serde_json::to_vec_pretty(report).unwrap_or_default();
    text.push(b'\n');
    let time = crate::clock::parse_rfc3339(&report.started_at).unwrap_or_else(SystemTime::now);
    let batch = Batch::document(text, time, report.run_id.clone());
    crate::sinks::send_to_all(sinks, &batch)
}
