//! Plan and execute in one process, or only show what would change (the dry run).

use std::fmt;

use super::compile::Inputs;
use super::execute::{Executed, RunOptions, run_verified};
use super::plan::{PlanError, Planned, plan_in, plan_scoped};
use super::refusal::Refusal;
use super::run_lock;
use crate::plan::{Plan, json};

/// Why `apply` changed nothing.
pub enum ApplyError {
    /// No plan was made.
    Plan(PlanError),
    /// The plan was made, and its run refused.
    Refused(Refusal),
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Plan(e) => e.fmt(f),
            ApplyError::Refused(e) => e.fmt(f),
        }
    }
}

/// Plans the config and runs the plan at once, under the host's run lock.
pub fn apply(inputs: &Inputs, options: &RunOptions) -> Result<Executed, ApplyError> {
    // The lock comes first: the plan is made from what the host looks like once no other run
    // changes it.
    let acquired = run_lock::acquire(options);
    let Planned {
        compiled,
        facts,
        mut plan,
    } = plan_scoped(inputs, options.state_dir.as_deref(), options.logs)
        .map_err(ApplyError::Plan)?;
    // The digest is what the run report names, as for a plan file.
    json::seal(&mut plan);
    let (_held, lock) =
        run_lock::hold(options, acquired, &plan, &facts).map_err(ApplyError::Refused)?;
    run_verified(
        options,
        &plan,
        Some(&compiled),
        &inputs.config_dir,
        &facts,
        lock,
    )
    .map_err(ApplyError::Refused)
}

/// The sealed plan of the config, for showing what would change; no lock (nothing changes).
pub fn dry_run(inputs: &Inputs) -> Result<Plan, PlanError> {
    dry_run_in(inputs, None)
}

/// [`dry_run`], with log pipelines' checkpoints read from `state_dir` when given.
pub fn dry_run_in(inputs: &Inputs, state_dir: Option<&std::path::Path>) -> Result<Plan, PlanError> {
    let mut plan = plan_in(inputs, state_dir)?.plan;
    json::seal(&mut plan);
    Ok(plan)
}
