//! One cycle of the agent: the config (the current commit's checkout, or the agent's own
//! config dir) compiled, checked and planned, then executed (`mode: apply`) or only sent to
//! the audit sinks (`mode: plan`), through the same workflows as `apply` and `plan`. Its run
//! report goes to the audit sinks as every run's does.

use super::audit::Audit;
use super::git_source::GitSource;
use super::self_metrics::{AgentMetrics, CycleResult};
use crate::model::settings::AgentMode;
use crate::ops::{self, ApplyError, ConfigDir, Inputs, PlanError, RunOptions};

pub struct Cycle<'a> {
    /// The agent's inputs; with a Git source, the config dir is the current checkout.
    pub inputs: &'a Inputs,
    pub source: Option<&'a GitSource>,
    pub mode: AgentMode,
    pub run: &'a RunOptions,
    pub metrics: &'a AgentMetrics,
    pub audit: &'a Audit,
}

impl Cycle<'_> {
    /// The config the cycle runs: read afresh (a new `ConfigDir`: its digest is not the last
    /// cycle's). `None` while a Git source has no good commit yet.
    fn config_dir(&self) -> Option<ConfigDir> {
        match self.source {
            Some(source) => {
                let (commit, dir) = source.current()?;
                let origin = source.origin(&source.branch_ref(), &commit, false);
                Some(ConfigDir::pulled(dir, Some(origin)))
            }
            None => Some(ConfigDir::new(self.inputs.config_dir.path())),
        }
    }

    /// Runs the cycle and records it; `false` when there was nothing to run yet.
    pub fn run(&self) -> bool {
        let Some(config_dir) = self.config_dir() else {
            tracing::info!("no good commit of the source yet; waiting for one");
            return false;
        };
        let inputs = Inputs {
            config_dir: config_dir.clone(),
            ..self.inputs.clone()
        };
        let (result, changed, error) = match self.mode {
            AgentMode::Apply => self.apply(&inputs),
            AgentMode::Plan => self.plan(&inputs),
        };
        let applied = self.mode == AgentMode::Apply;
        let drift =
            self.metrics
                .cycle(result, changed, config_dir.digest(), error.clone(), applied);
        match error {
            Some(error) => tracing::error!(%error, "cycle failed"),
            None => tracing::info!(
                commit = config_dir.git_commit().unwrap_or("-"),
                changed,
                drift,
                mode = ?self.mode,
                "cycle done"
            ),
        }
        // A cycle maps code all over the binary (load, template, check, plan, execute) that
        // the agent does not run again until the next cycle.
        crate::resident::release_startup_pages();
        true
    }

    fn apply(&self, inputs: &Inputs) -> (CycleResult, usize, Option<String>) {
        match ops::apply(inputs, self.run) {
            Ok(executed) => {
                for why in &executed.report_failures {
                    tracing::warn!(%why, "a report sink did not take the run report");
                }
                let recap = &executed.report.recap;
                if recap.failed > 0 || executed.report.interrupted {
                    let why = if executed.report.interrupted {
                        "the run was stopped".to_owned()
                    } else {
                        format!("{} node(s) failed", recap.failed)
                    };
                    (CycleResult::Failed, recap.changed, Some(why))
                } else {
                    (changed_or_not(recap.changed), recap.changed, None)
                }
            }
            Err(ApplyError::Plan(e)) => (CycleResult::Failed, 0, Some(self.plan_error(e))),
            Err(ApplyError::Refused(refusal)) => {
                (CycleResult::Failed, 0, Some(refusal.to_string()))
            }
        }
    }

    fn plan(&self, inputs: &Inputs) -> (CycleResult, usize, Option<String>) {
        match ops::dry_run(inputs) {
            Ok(mut plan) => {
                let changes = plan.summary.changes();
                self.audit.send_plan("plan", &mut plan);
                (changed_or_not(changes), changes, None)
            }
            Err(e) => (CycleResult::Failed, 0, Some(self.plan_error(e))),
        }
    }

    /// A planning failure as one message; config errors are counted as a failed check.
    fn plan_error(&self, error: PlanError) -> String {
        match error {
            PlanError::Config(compiled) => {
                self.metrics.config_check_failed();
                format!(
                    "the config has errors:\n{}",
                    crate::diagnostics::render_human(
                        &compiled.diagnostics,
                        &compiled.sources,
                        false
                    )
                )
            }
            PlanError::Nodes(errors) => errors.join("; "),
        }
    }
}

fn changed_or_not(changed: usize) -> CycleResult {
    if changed > 0 {
        CycleResult::Changed
    } else {
        CycleResult::Unchanged
    }
}
