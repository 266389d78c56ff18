//! One agent per state directory: two agents on one checkout and one run history would fetch,
//! switch commits and converge over each other. The agent holds an exclusive `flock(2)` on
//! `<state dir>/agent.lock` while it runs (the same lock as the run lock's, on another file:
//! the kernel releases it however the process ends, so a killed agent leaves no stale lock).

use std::path::Path;
use std::time::Duration;

use crate::execute::lock::{self, RunLock};

/// The held lock; dropping it releases it.
pub struct InstanceLock {
    _held: RunLock,
}

/// Takes the agent lock of `state_dir`, or says which agent holds it.
pub fn take(state_dir: &Path) -> Result<InstanceLock, String> {
    let path = state_dir.join("agent.lock");
    match lock::acquire(&path, Duration::ZERO)? {
        (Some(held), _) => Ok(InstanceLock { _held: held }),
        (None, record) => {
            let holder = record
                .holder_pid
                .map_or_else(String::new, |pid| format!(" (pid {pid})"));
            Err(format!(
                "another driftless agent{holder} runs on the state directory {}: one agent per \
                 state directory (it holds {})",
                state_dir.display(),
                record.path
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_agent_on_the_state_dir_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = super::take(dir.path()).expect("first");
        let why = super::take(dir.path()).err().expect("second refused");
        assert!(
            why.contains(&format!("pid {}", std::process::id())),
            "{why}"
        );
        drop(first);
        assert!(super::take(dir.path()).is_ok());
    }
}
