//! The host's run lock for a run: taken in the state directory, or the run refused with a
//! report saying so.

use super::execute::RunOptions;
use super::refusal::Refusal;
use super::report::{run_id, save_report};
use crate::execute::lock::{self, LockRecord, RunLock};
use crate::execute::{self, RunReport};
use crate::facts::HostFacts;
use crate::plan::Plan;

/// What [`acquire`] found: the held lock (`None` when another run kept it past the timeout)
/// with its record, or why the lock cannot be used.
pub type Acquired = Result<(Option<RunLock>, LockRecord), String>;

/// Tries the host's run lock in the state directory, waiting up to the run's lock timeout.
pub fn acquire(options: &RunOptions) -> Acquired {
    lock::acquire(&options.state_dir().join("lock"), options.lock_timeout)
}

/// The held lock for a run of `plan`, or the refusal of the run. A run refused because
/// another holds the lock writes a report saying so (every node `skipped`).
pub fn hold(
    options: &RunOptions,
    acquired: Acquired,
    plan: &Plan,
    facts: &HostFacts,
) -> Result<(RunLock, LockRecord), Refusal> {
    match acquired {
        Ok((Some(held), record)) => Ok((held, record)),
        Ok((None, record)) => {
            let why = record.refusal(options.lock_timeout);
            let report = RunReport::new(
                run_id(),
                crate::clock::now(),
                0,
                plan,
                facts,
                execute::refused_outcomes(plan, &why),
                record,
            );
            let report_failures = save_report(&report, plan, options);
            Err(Refusal::LockHeld {
                why,
                report_failures,
            })
        }
        Err(e) => Err(Refusal::LockUnusable(e)),
    }
}
