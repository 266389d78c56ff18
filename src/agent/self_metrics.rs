//! The agent's own metrics, added to `/metrics`, and its readiness (`/readyz`): how its
//! cycles went, how much they changed, the drift they corrected, the config it runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::metrics::exposition::ExtraFamilies;
use crate::metrics::family::{Family, labels};
use crate::metrics::server::Readiness;

/// How a cycle ended, the `result` label of `driftless_apply_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CycleResult {
    /// Converged: nothing needed changing.
    Unchanged,
    /// Converged: something was changed (or, in plan mode, would be).
    Changed,
    /// A node failed, the run was refused, or the config had errors.
    Failed,
}

impl CycleResult {
    fn label(self) -> &'static str {
        match self {
            CycleResult::Unchanged => "unchanged",
            CycleResult::Changed => "changed",
            CycleResult::Failed => "failed",
        }
    }
}

#[derive(Default)]
struct Counts {
    runs: BTreeMap<CycleResult, u64>,
    consecutive_failures: u32,
    last_error: Option<String>,
    /// Resources changed by the last cycle (planned to change, in plan mode).
    last_changed: usize,
    changed_total: u64,
    drift_corrected_total: u64,
    last_success_unix: Option<f64>,
    commit: Option<String>,
    config_check_failures: u64,
    verification_failures: u64,
    fetch_failures: u64,
    /// The config digest the host last converged to without failures: changes made while
    /// the config is still that one are drift.
    converged_digest: Option<String>,
}

/// Shared by the agent's threads and the metrics server.
#[derive(Default)]
pub struct AgentMetrics {
    counts: Mutex<Counts>,
}

impl AgentMetrics {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a cycle over the config of digest `config_digest`; returns the resources it
    /// counted as drift corrected.
    pub fn cycle(
        &self,
        result: CycleResult,
        changed: usize,
        config_digest: &str,
        error: Option<String>,
        applied: bool,
    ) -> usize {
        let mut counts = self.counts();
        *counts.runs.entry(result).or_default() += 1;
        counts.last_changed = changed;
        counts.changed_total += changed as u64;
        let converged_before = counts.converged_digest.as_deref() == Some(config_digest);
        let drift = if applied && converged_before {
            changed
        } else {
            0
        };
        counts.drift_corrected_total += drift as u64;
        if result == CycleResult::Failed {
            counts.consecutive_failures += 1;
            counts.last_error = error;
            counts.converged_digest = None;
        } else {
            counts.consecutive_failures = 0;
            counts.last_error = None;
            counts.last_success_unix = Some(crate::host::procfs::unix_now());
            // In plan mode nothing was changed: the host is converged only when nothing was
            // to be.
            if applied || changed == 0 {
                counts.converged_digest = Some(config_digest.to_owned());
            }
        }
        drift
    }

    /// Cycles failed in a row, for the back-off.
    pub fn consecutive_failures(&self) -> u32 {
        self.counts().consecutive_failures
    }

    /// The commit the agent now converges to.
    pub fn set_commit(&self, commit: &str) {
        self.counts().commit = Some(commit.to_owned());
    }

    /// A config (a new commit, or the agent's own dir on reload) that failed `check`.
    pub fn config_check_failed(&self) {
        self.counts().config_check_failures += 1;
    }

    /// A commit refused because `verify_commits` is on and its signature is missing, bad or
    /// untrusted.
    pub fn verification_failed(&self) {
        self.counts().verification_failures += 1;
    }

    /// A fetch of the Git source that failed.
    pub fn fetch_failed(&self) {
        self.counts().fetch_failures += 1;
    }
}

impl ExtraFamilies for AgentMetrics {
    fn families(&self) -> Vec<Family> {
        let counts = self.counts();
        let mut runs = Family::counter(
            "driftless_apply_runs_total",
            "Agent cycles, by result: unchanged, changed or failed.",
        );
        for result in [
            CycleResult::Unchanged,
            CycleResult::Changed,
            CycleResult::Failed,
        ] {
            let n = counts.runs.get(&result).copied().unwrap_or(0);
            runs.push(labels([("result", result.label())]), n as f64);
        }
        let mut families = vec![
            runs,
            Family::gauge(
                "driftless_apply_resources_changed",
                "Resources the last cycle changed (in plan mode: would change).",
            )
            .with_value(counts.last_changed as f64),
            Family::counter(
                "driftless_apply_resources_changed_total",
                "Resources changed by all cycles (in plan mode: that would have changed).",
            )
            .with_value(counts.changed_total as f64),
            Family::counter(
                "driftless_drift_corrected_total",
                "Resources changed on a host that had converged to the same config before: \
                 changes made outside driftless, undone.",
            )
            .with_value(counts.drift_corrected_total as f64),
            Family::counter(
                "driftless_config_check_failures_total",
                "Configs (new commits, or the agent's own config dir) refused because check \
                 found errors.",
            )
            .with_value(counts.config_check_failures as f64),
            Family::counter(
                "driftless_commit_verification_failures_total",
                "Commits refused because verify_commits is on and git verify-commit did not \
                 find a good signature by a trusted key.",
            )
            .with_value(counts.verification_failures as f64),
            Family::counter(
                "driftless_source_fetch_failures_total",
                "Fetches of the Git source that failed.",
            )
            .with_value(counts.fetch_failures as f64),
            Family::gauge(
                "driftless_apply_consecutive_failures",
                "Cycles failed in a row (0 after a success).",
            )
            .with_value(f64::from(counts.consecutive_failures)),
        ];
        if let Some(at) = counts.last_success_unix {
            families.push(
                Family::gauge(
                    "driftless_last_successful_run_timestamp_seconds",
                    "When the last cycle that did not fail ended, in seconds since the epoch.",
                )
                .with_value(at),
            );
        }
        if let Some(commit) = &counts.commit {
            families.push(
                Family::gauge(
                    "driftless_config_info",
                    "The Git commit of the config the agent converges to (always 1).",
                )
                .with_labels(labels([("commit", commit.as_str())])),
            );
        }
        families
    }
}

impl Readiness for AgentMetrics {
    fn ready(&self) -> Result<(), String> {
        let counts = self.counts();
        if counts.consecutive_failures > 0 {
            return Err(format!(
                "the last {} cycle(s) failed: {}",
                counts.consecutive_failures,
                counts.last_error.as_deref().unwrap_or("see the log")
            ));
        }
        if counts.runs.is_empty() {
            return Err("no cycle has ended yet".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_count_as_drift_only_on_a_host_converged_to_the_same_config() {
        let m = AgentMetrics::default();
        assert!(m.ready().is_err());
        // The first run converges: not drift.
        assert_eq!(m.cycle(CycleResult::Changed, 3, "d1", None, true), 0);
        assert!(m.ready().is_ok());
        // Same config, changes again: someone edited the host.
        assert_eq!(m.cycle(CycleResult::Changed, 1, "d1", None, true), 1);
        // A new config's changes are not drift.
        assert_eq!(m.cycle(CycleResult::Changed, 2, "d2", None, true), 0);
        assert_eq!(
            m.cycle(CycleResult::Failed, 0, "d2", Some("boom".into()), true),
            0
        );
        assert!(m.ready().unwrap_err().contains("boom"));
        assert_eq!(m.consecutive_failures(), 1);
        let text: Vec<String> = m.families().iter().map(|f| f.name.to_string()).collect();
        assert!(text.contains(&"driftless_drift_corrected_total".to_owned()));
        let drift = m
            .families()
            .into_iter()
            .find(|f| f.name == "driftless_drift_corrected_total")
            .and_then(|f| f.sample(&[]));
        assert_eq!(drift, Some(1.0));
    }
}
