//! The agent's log pipelines — the one place they start, reload and stop. They run
//! continuously beside the cycles: started with the agent from its config (the current
//! commit's with a Git source), reloaded with each new config (a pipeline whose config did not
//! change keeps its tails and positions: [`RunningLogs::reload`]), stopped at shutdown with
//! their checkpoints written. Their metrics (`driftless_log_*`) are on `/metrics`.

use std::path::Path;
use std::sync::Arc;

use crate::logs::RunningLogs;
use crate::metrics::Gatherer;
use crate::model::LogPipeline;
use crate::ops::{self, Compiled, HostFacts, Inputs};
use crate::plugins::Plugins;

pub struct LogPipelines {
    running: Option<RunningLogs>,
}

impl LogPipelines {
    /// Starts `pipelines`, of the config `compiled`; their metrics join `gatherer`'s. A
    /// pipeline that cannot start is logged: the agent converges the host all the same.
    pub fn start(
        inputs: &Inputs,
        compiled: &Compiled,
        pipelines: &[LogPipeline],
        state_dir: &Path,
        facts: &HostFacts,
        gatherer: &Gatherer,
    ) -> LogPipelines {
        let started = ops::log_context(inputs, compiled, Some(state_dir), facts)
            .and_then(|cx| RunningLogs::start(pipelines, &cx).map_err(|e| e.message));
        match started {
            Ok(running) => {
                gatherer.add_source(running.metrics_source());
                LogPipelines {
                    running: Some(running),
                }
            }
            Err(why) => {
                tracing::error!(%why, "the log pipelines cannot start");
                LogPipelines { running: None }
            }
        }
    }

    /// Runs `pipelines` (with their config's `plugins`) from now on: unchanged ones go on
    /// where they are.
    pub fn reload(&mut self, pipelines: &[LogPipeline], plugins: Arc<Plugins>) {
        if let Some(running) = &mut self.running
            && let Err(e) = running.reload(pipelines, plugins)
        {
            tracing::error!(why = %e.message, "the log pipelines cannot reload");
        }
    }

    /// Stops every pipeline, its checkpoint written.
    pub fn stop(self) {
        if let Some(running) = self.running {
            running.stop();
        }
    }
}
