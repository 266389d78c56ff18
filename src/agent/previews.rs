//! Plan previews for review: each new commit of a ref in `preview_refs` (a pull request's
//! branch) is checked out, planned on this host — never applied — and its plan and `show`
//! text sent to the audit sinks, so a reviewer sees what the change would do on every host
//! before it merges.

use std::collections::HashMap;

use super::audit::Audit;
use super::git_source::GitSource;
use crate::ops::{self, ConfigDir, Inputs, PlanError};

/// The commit last previewed for each ref: a ref is planned again only when it moves.
#[derive(Default)]
pub struct Previews {
    previewed: HashMap<String, String>,
}

impl Previews {
    /// Fetches every preview ref and previews those that moved.
    pub fn run(&mut self, source: &GitSource, inputs: &Inputs, audit: &Audit) {
        for reference in &source.preview_refs {
            let commit = match source.fetch_preview(reference) {
                Ok(commit) => commit,
                Err(why) => {
                    tracing::warn!(%reference, %why, "cannot fetch a preview ref");
                    continue;
                }
            };
            if self.previewed.get(reference) == Some(&commit) {
                continue;
            }
            preview(source, reference, &commit, inputs, audit);
            self.previewed.insert(reference.clone(), commit);
        }
    }
}

fn preview(source: &GitSource, reference: &str, commit: &str, inputs: &Inputs, audit: &Audit) {
    let origin = source.origin(reference, commit, true);
    if source.verify_commits
        && let Err(why) = source.verify(commit)
    {
        tracing::warn!(%reference, %why, "preview refused");
        audit.send_refused(&origin, &why);
        return;
    }
    let dir = source.preview_dir(commit);
    if let Err(why) = source.check_out(commit, &dir) {
        tracing::warn!(%reference, %why, "cannot check a preview out");
        return;
    }
    let inputs = Inputs {
        config_dir: ConfigDir::pulled(&dir, Some(origin.clone())),
        ..inputs.clone()
    };
    match ops::dry_run(&inputs) {
        Ok(mut plan) => {
            tracing::info!(%reference, %commit, changes = plan.summary.changes(), "previewed");
            audit.send_plan("preview", &mut plan);
        }
        Err(PlanError::Config(compiled)) => {
            let why =
                crate::diagnostics::render_human(&compiled.diagnostics, &compiled.sources, false);
            tracing::warn!(%reference, %commit, "the preview's config has errors");
            audit.send_refused(&origin, &why);
        }
        Err(PlanError::Nodes(errors)) => audit.send_refused(&origin, &errors.join("\n")),
    }
    source.remove_checkout(&dir);
}
