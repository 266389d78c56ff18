//! The workflows, as library functions: compile, plan, verify and execute a reviewed plan,
//! apply, serve metrics. `cli/` parses arguments, calls one of these per command and prints
//! what it returns; the agent calls the same functions in its loop. Nothing here prints, exits
//! or reads the command line: results and refusals are typed values ([`Refusal`],
//! [`PlanError`], [`MetricsError`]) whose variants say what happened.

mod apply;
mod compile;
pub mod defaults;
mod execute;
mod fleet;
mod logs;
mod metrics;
mod output_file;
mod plan;
mod plan_file;
mod plugin;
mod refusal;
mod report;
mod run_lock;

pub use apply::{ApplyError, apply, dry_run, dry_run_in};
pub use compile::{Compiled, Inputs, TagSelection, compile, compile_as};
pub use execute::{ExecuteRequest, Executed, MAX_JOBS, NodeObserver, RunOptions, execute};
pub use fleet::{HostsRequest, Target, VarOrigins, compile_hosts, targets, var_origins};
pub use logs::{LogsError, LogsRequest, LogsRun, log_context, run_logs};
pub use metrics::{Metrics, MetricsError, MetricsServer, load_metrics};
pub use output_file::check_output_file;
pub use plan::{LogPipelines, PlanError, Planned, gather_facts, plan, plan_in, plan_scoped};
pub use plan_file::read_plan;
#[cfg(feature = "plugins")]
pub use plugin::{DryCall, Inspection, Provided, check_plugin};
pub use refusal::Refusal;
pub use report::audit_sinks;

// The types the workflows take and return, for their callers (`cli/`, the agent).
pub use crate::config::ConfigDir;
pub use crate::execute::{Collected, NodeOutcome, Status};
pub use crate::facts::HostFacts;
pub use crate::metrics::exposition::Format as MetricsFormat;

#[cfg(test)]
mod tests {
    /// The agent calls these functions in a loop: none may print, exit or read the command
    /// line (those belong to `cli/`).
    #[test]
    fn no_workflow_prints_exits_or_reads_the_command_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
        let banned = [
            concat!("print", "ln!"),
            concat!("print", "!("),
            concat!("dbg", "!("),
            concat!("process::", "exit"),
            concat!("env::", "args"),
        ];
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/ops") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read source");
            for word in banned.iter().filter(|word| text.contains(*word)) {
                offenders.push(format!("{}: {word}", path.display()));
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
