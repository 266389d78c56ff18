//! The workflows, as library functions: compile, plan, verify and execute a reviewed plan,
//! apply, serve metrics. `cli/` parses arguments, calls one of these per command and prints
//! what it returns; the agent calls the same functions in its loop. Nothing here prints, exits
//! or reads the command line: results and refusals are typed values ([`Refusal`],
//! [`PlanError`], [`MetricsError`]) whose variants say what happened.

mod apply;
mod compile;
pub mod defaults;
mod execute;
mod metrics;
mod output_file;
mod plan;
mod plan_file;
mod refusal;
mod report;
mod run_lock;

pub use apply::{ApplyError, apply, dry_run};
pub use compile::{Compiled, Inputs, compile};
pub use execute::{ExecuteRequest, Executed, MAX_JOBS, RunOptions, execute};
pub use metrics::{Metrics, MetricsError, MetricsServer, load_metrics};
pub use output_file::check_output_file;
pub use plan::{PlanError, Planned, gather_facts, plan};
pub use plan_file::read_plan;
pub use refusal::Refusal;
