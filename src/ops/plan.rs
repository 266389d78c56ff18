//! Planning: the host's facts, the config compiled against them, the plan built from both.

use std::fmt;

use super::compile::{Compiled, Inputs, compile};
use crate::facts::HostFacts;
use crate::plan::{self, Plan, PlanInputs};

/// A plan with what it was made from.
pub struct Planned {
    /// The compiled config: `apply` renders sensitive values and builds collectors from it.
    pub compiled: Compiled,
    /// The host's facts the config was rendered with, for the run report.
    pub facts: HostFacts,
    pub plan: Plan,
}

/// Why there is no plan.
pub enum PlanError {
    /// The config has errors; its diagnostics (warnings too) and their sources are in it.
    Config(Box<Compiled>),
    /// Planning failed for these nodes, one message each (`apply.x: why`).
    Nodes(Vec<String>),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Config(_) => f.write_str("the config has errors"),
            PlanError::Nodes(errors) => f.write_str(&errors.join("; ")),
        }
    }
}

/// Gathers the built-in facts once for a run.
pub fn gather_facts() -> HostFacts {
    let started = std::time::Instant::now();
    let facts = HostFacts::gather();
    tracing::info!(elapsed = ?started.elapsed(), "gathered facts");
    facts
}

/// Gathers the facts, compiles the config and plans it (observing the host, read-only); log
/// pipelines' checkpoints are read from `settings.state_dir` or the default state directory.
pub fn plan(inputs: &Inputs) -> Result<Planned, PlanError> {
    plan_in(inputs, None)
}

/// [`plan()`], with log pipelines' checkpoints read from `state_dir` (`--state-dir`) when given.
pub fn plan_in(inputs: &Inputs, state_dir: Option<&std::path::Path>) -> Result<Planned, PlanError> {
    plan_scoped(inputs, state_dir, LogPipelines::Planned)
}

/// Whether a plan has the config's log pipelines as `logs.<id>` nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPipelines {
    Planned,
    /// They run continuously in this process (the agent's), holding their checkpoints: the
    /// plan leaves them out, so a run never ships them a second time beside themselves.
    RunningHere,
}

/// [`plan_in`], with or without the log pipelines.
pub fn plan_scoped(
    inputs: &Inputs,
    state_dir: Option<&std::path::Path>,
    logs: LogPipelines,
) -> Result<Planned, PlanError> {
    let facts = gather_facts();
    let mut compiled = compile(inputs, &facts);
    if compiled.diagnostics.has_errors() {
        return Err(PlanError::Config(Box::new(compiled)));
    }
    if logs == LogPipelines::RunningHere {
        compiled.config.logs.clear();
    }
    let logs_state = super::logs::plan_state_dir(state_dir, &compiled.config);
    let plan_inputs = PlanInputs {
        config: &compiled.config,
        sources: &compiled.sources,
        config_dir: &inputs.config_dir,
        facts: &facts,
        extra_vars: &inputs.extra_vars,
        secret_files: &inputs.secret_files,
        tags: &inputs.tags,
        observe_logs: &|pipeline| super::logs::observe_logs(pipeline, &logs_state),
    };
    match plan::build(&plan_inputs) {
        Ok(plan) => Ok(Planned {
            compiled,
            facts,
            plan,
        }),
        Err(errors) => Err(PlanError::Nodes(errors)),
    }
}
