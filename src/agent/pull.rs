//! The source thread: fetches the Git source on its own interval, checks each new commit and
//! switches to it only when it passes `check` (and, with `verify_commits`, its signature);
//! a failed fetch or a refused commit leaves the last good commit in place. Runs in its own
//! thread so that a slow remote never holds up a cycle or a stop.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::audit::Audit;
use super::git_source::GitSource;
use super::previews::Previews;
use super::self_metrics::AgentMetrics;
use super::{Event, RunningParts};
use crate::ops::{self, ConfigDir, Inputs};

pub struct Puller {
    pub source: Arc<GitSource>,
    /// The agent's inputs; the config dir is replaced by each commit's checkout.
    pub inputs: Inputs,
    pub interval: Duration,
    pub audit: Audit,
    pub metrics: Arc<AgentMetrics>,
    pub events: Sender<Event>,
    /// Set when the agent reloads with other source settings, or stops.
    pub quit: Arc<AtomicBool>,
}

impl Puller {
    /// Pulls every interval until told to quit.
    pub fn run(self) {
        let mut refused = HashSet::new();
        let mut previews = Previews::default();
        if let Some((commit, dir)) = self.source.current() {
            // Restarted: the commit it converged to stays until a newer one passes.
            self.metrics.set_commit(&commit);
            let compiled = ops::compile(&self.inputs_at(&dir, &commit), &ops::gather_facts());
            if !compiled.diagnostics.has_errors() {
                self.audit.follow(&compiled.config.settings.audit);
                let _ = self.events.send(Event::NewCommit(running_parts(compiled)));
            }
        }
        while !self.quitting() {
            self.pull(&mut refused);
            previews.run(&self.source, &self.inputs, &self.audit);
            let until = Instant::now() + self.interval;
            while !self.quitting() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    fn quitting(&self) -> bool {
        self.quit.load(Ordering::SeqCst) || crate::signals::stop_requested()
    }

    fn inputs_at(&self, dir: &std::path::Path, commit: &str) -> Inputs {
        let origin = self.source.origin(&self.source.branch_ref(), commit, false);
        Inputs {
            config_dir: ConfigDir::pulled(dir, Some(origin)),
            ..self.inputs.clone()
        }
    }

    /// One fetch, and the switch to its commit when that is new and good.
    fn pull(&self, refused: &mut HashSet<String>) {
        let commit = match self.source.fetch() {
            Ok(commit) => commit,
            Err(why) => {
                self.metrics.fetch_failed();
                tracing::warn!(%why, "cannot fetch the source; the last good commit stays");
                return;
            }
        };
        let current = self.source.current().map(|(c, _)| c);
        if current.as_deref() == Some(commit.as_str()) || refused.contains(&commit) {
            return;
        }
        match self.adopt(&commit) {
            Ok(parts) => {
                refused.clear();
                tracing::info!(%commit, "switched to a new commit");
                let _ = self.events.send(Event::NewCommit(parts));
            }
            Err(why) => {
                let origin = self
                    .source
                    .origin(&self.source.branch_ref(), &commit, false);
                tracing::error!(%commit, error = %why, "refused a commit; the last good commit stays");
                self.audit.send_refused(&origin, &why);
                refused.insert(commit);
            }
        }
    }

    /// Verifies, checks out and checks `commit`, then makes it current; its log pipelines
    /// and collectors.
    fn adopt(&self, commit: &str) -> Result<RunningParts, String> {
        if self.source.verify_commits {
            self.source
                .verify(commit)
                .inspect_err(|_| self.metrics.verification_failed())?;
        }
        let dir = self.source.commit_dir(commit);
        self.source.check_out(commit, &dir)?;
        let compiled = ops::compile(&self.inputs_at(&dir, commit), &ops::gather_facts());
        if compiled.diagnostics.has_errors() {
            self.metrics.config_check_failed();
            self.source.remove_checkout(&dir);
            return Err(format!(
                "its config does not pass check:\n{}",
                crate::diagnostics::render_human(&compiled.diagnostics, &compiled.sources, false)
            ));
        }
        self.source.switch(commit)?;
        self.audit.follow(&compiled.config.settings.audit);
        self.metrics.set_commit(commit);
        Ok(running_parts(compiled))
    }
}

fn running_parts(compiled: ops::Compiled) -> RunningParts {
    RunningParts {
        logs: compiled.config.logs,
        facts: compiled.config.facts,
        plugins: compiled.plugins,
    }
}
