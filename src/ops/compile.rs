//! The front half of the pipeline in one call: load → template (+ secrets) → check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::ConfigDir;
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap};
use crate::facts::HostFacts;
use crate::model::Config;
pub use crate::model::meta::TagSelection;
use crate::secrets::{EnvVarSource, Secrets};
use crate::{check, config, template};

/// Where the front end reads from.
#[derive(Clone)]
pub struct Inputs {
    pub config_dir: ConfigDir,
    pub env_file: PathBuf,
    /// `-e NAME=VALUE` pairs.
    pub extra_vars: Vec<String>,
    /// `--secret NAME=@PATH`: secrets read from files.
    pub secret_files: Vec<(String, PathBuf)>,
    /// `--tags` / `--skip-tags`: which tasks are planned.
    pub tags: TagSelection,
}

/// What the front end produced: the model (complete only without errors), every diagnostic,
/// and the sources they point into.
pub struct Compiled {
    pub config: Config,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
    /// The config files read, relative to the config dir, in read order.
    pub files: Vec<String>,
}

/// Loads, renders and checks the config against the host's facts. Never fails as a whole:
/// every problem is a diagnostic (look at `diagnostics` before using `config`).
pub fn compile(inputs: &Inputs, facts: &HostFacts) -> Compiled {
    let mut diagnostics = Diagnostics::default();
    let mut sources = SourceMap::default();
    let started = Instant::now();
    let loaded = config::load(
        &inputs.config_dir,
        &inputs.extra_vars,
        &mut sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), files = loaded.documents.len(), "loaded");
    let secrets =
        match Secrets::standard(&inputs.env_file, &inputs.secret_files, &inputs.config_dir) {
            Ok(secrets) => secrets,
            Err(why) => {
                diagnostics.push(
                    Diagnostic::error(why).help(
                        "keep secrets outside the repository, e.g. in ~/.config/driftless/env",
                    ),
                );
                // The environment is still a safe source; only the env file is refused.
                Secrets::new(vec![Box::new(EnvVarSource)])
            }
        };
    let started = Instant::now();
    let secrets = Arc::new(secrets);
    let rendered = template::render(
        &loaded,
        &inputs.config_dir,
        facts,
        secrets,
        &mut sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), "rendered");
    let started = Instant::now();
    let config = check::check(
        rendered,
        &inputs.config_dir,
        &inputs.tags,
        &sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), "checked");
    Compiled {
        config,
        diagnostics,
        sources,
        files: loaded.files,
    }
}
