//! The agent's collectors across reloads: started with the agent from its own config, then
//! replaced by each new config's `facts:` (the current commit's with a Git source, the config
//! dir's without) through [`Gatherer::reload`], so that a collector whose configuration did
//! not change keeps its state — its threshold levels, the counters it rates, its interval's
//! last run.

use crate::metrics::Gatherer;
use crate::model::FactsTask;

/// Runs `tasks`' collectors from now on; on errors the running ones stay, and they are
/// logged.
pub fn reload(gatherer: &Gatherer, tasks: &[FactsTask]) {
    match gatherer.reload(tasks) {
        Ok(done) => tracing::info!(
            kept = ?done.kept,
            built = ?done.built,
            removed = ?done.removed,
            "collectors reloaded"
        ),
        Err(errors) => tracing::error!(
            errors = %errors.join("; "),
            "the collectors cannot reload; the running ones stay"
        ),
    }
}
