//! Run reports: their ids and where they go.

use std::path::{Path, PathBuf};

use crate::execute::{self, RunReport};
use crate::plan::{AuditDestination, Plan};
use crate::sinks::{DirectorySink, Retention, Sink};

/// A new run's id: 16 random hex digits.
pub fn run_id() -> String {
    crate::fsutil::random_hex(8).unwrap_or_else(|_| "run".to_owned())
}

/// The plan's `settings.audit` (recorded in it: a plan executes without its config), kept in
/// full — the operator's archive —, else `runs/` in the state directory, bounded
/// ([`Retention::DEFAULT_REPORTS`]) so that frequent runs never fill the disk.
pub fn report_sinks(plan: &Plan, state_dir: &Path) -> Vec<Box<dyn Sink>> {
    if plan.audit.is_empty() {
        return vec![Box::new(DirectorySink {
            path: state_dir.join("runs"),
            retention: Some(Retention::DEFAULT_REPORTS),
        })];
    }
    plan.audit
        .iter()
        .map(|destination| match destination {
            AuditDestination::Directory { path } => Box::new(DirectorySink {
                path: PathBuf::from(path),
                retention: None,
            }) as Box<dyn Sink>,
        })
        .collect()
}

/// Writes the report to every sink of the plan; returns why each sink that failed did.
pub fn save_report(report: &RunReport, plan: &Plan, state_dir: &Path) -> Vec<String> {
    execute::write_report(report, &report_sinks(plan, state_dir))
}
