//! Facts nodes: run the node's collector once, evaluate its thresholds, and report what it
//! collected. The collector comes from the config compiled again at execute time, and runs
//! only when that config still gives the collector the plan shows.

use serde::Serialize;

use super::{Recompiled, Status};
use crate::metrics::{Gatherer, ThresholdEvent};
use crate::plan::{PlanNode, collector_after};

/// What a facts node's run found, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    /// Samples collected (every series of every metric family of the collector).
    pub samples: usize,
    /// Threshold levels reached (warning, critical) by the values watched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ThresholdEvent>,
}

pub fn run(node: &PlanNode, config: Option<&Recompiled<'_>>) -> (Status, Option<Collected>) {
    match collect(node, config) {
        Ok((collected, None)) => (Status::Unchanged, Some(collected)),
        Ok((collected, Some(error))) => (
            Status::Failed(format!("{}: {error}", node.address)),
            Some(collected),
        ),
        Err(e) => (Status::Failed(e), None),
    }
}

fn collect(
    node: &PlanNode,
    config: Option<&Recompiled<'_>>,
) -> Result<(Collected, Option<String>), String> {
    let task = config
        .ok_or_else(|| format!("{}: no config to run the collector from", node.address))?
        .collectors
        .get(&node.address)
        .ok_or_else(|| format!("{}: no longer in the config; make a new plan", node.address))?;
    // The type too: `show` names the collector by the node's `type`, which `after` leaves out.
    if node.after.as_json() != Some(&collector_after(task))
        || task.collector.type_name() != node.type_name
    {
        return Err(format!(
            "{}: the config gives this collector other settings than the plan; make a new plan",
            node.address
        ));
    }
    let gatherer = Gatherer::from_tasks(std::slice::from_ref(*task))
        .map_err(|errors| format!("{}: {}", node.address, errors.join("; ")))?;
    let run = gatherer.collect_once().into_iter().next();
    let (events, _) = gatherer.events_since(0);
    let collected = Collected {
        samples: run.as_ref().map_or(0, |r| r.samples),
        events,
    };
    Ok((collected, run.and_then(|r| r.error)))
}
