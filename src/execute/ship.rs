//! Logs nodes: run the node's pipeline once over what its files hold, deliver it to every
//! output, checkpoint, and report what was shipped. The pipeline comes from the config
//! compiled again at execute time, and runs only when that config still gives the pipeline
//! the plan shows.

use std::time::Duration;

use serde::Serialize;

use super::{Recompiled, Status};
use crate::plan::{PlanNode, pipeline_after};

/// How long a logs node waits for its outputs to take what it read: an output that is down
/// fails the node (what was delivered is checkpointed; the rest is shipped by the next run).
const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);

/// What a logs node's run shipped, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct Shipped {
    /// Lines read from the pipeline's files.
    pub lines_read: u64,
    /// Records made from them and sent to every output.
    pub records: u64,
}

pub fn run(node: &PlanNode, config: Option<&Recompiled<'_>>) -> (Status, Option<Shipped>) {
    match ship(node, config) {
        Ok(shipped) => (Status::Unchanged, Some(shipped)),
        Err((why, shipped)) => (Status::Failed(format!("{}: {why}", node.address)), shipped),
    }
}

fn ship(
    node: &PlanNode,
    config: Option<&Recompiled<'_>>,
) -> Result<Shipped, (String, Option<Shipped>)> {
    let config = config.ok_or(("no config to run the pipeline from".to_owned(), None))?;
    let pipeline = config
        .logs
        .get(&node.address)
        .ok_or(("no longer in the config; make a new plan".to_owned(), None))?;
    if node.after.as_json() != Some(&pipeline_after(pipeline)) {
        return Err((
            "the config gives this pipeline other settings than the plan; make a new plan"
                .to_owned(),
            None,
        ));
    }
    let cx = config
        .log_context
        .as_ref()
        .map_err(|why| (why.clone(), None))?;
    let run = crate::logs::run_once(
        std::slice::from_ref(*pipeline),
        cx,
        Some(DELIVERY_DEADLINE),
        &crate::signals::stop_requested,
        &|| {},
    )
    .into_iter()
    .next()
    .ok_or(("the pipeline did not run".to_owned(), None))?;
    let end = run.result.map_err(|e| (e.message, None))?;
    let shipped = Shipped {
        lines_read: end.lines_read,
        records: end.events,
    };
    if !end.failures.is_empty() {
        return Err((end.failures.join("; "), Some(shipped)));
    }
    if !end.delivered_all {
        return Err((
            format!(
                "not every record was delivered within {}s; what was is checkpointed, the \
                 rest is shipped by the next run",
                DELIVERY_DEADLINE.as_secs()
            ),
            Some(shipped),
        ));
    }
    Ok(shipped)
}
