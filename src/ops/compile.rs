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
    /// The config's plugins, as loaded for this compile: what a log pipeline's plugin
    /// filters run on (`plugins::LogFilterPlugin::new(&compiled.plugins, name)`).
    pub plugins: Arc<crate::plugins::Plugins>,
}

/// Loads, renders and checks the config against the host's facts. Never fails as a whole:
/// every problem is a diagnostic (look at `diagnostics` before using `config`).
pub fn compile(inputs: &Inputs, facts: &HostFacts) -> Compiled {
    compile_as(inputs, facts, None)
}

/// [`compile`] as the inventory's host `host` sees the config (by default the host the facts
/// name): `check --host`.
pub fn compile_as(inputs: &Inputs, facts: &HostFacts, host: Option<&str>) -> Compiled {
    compile_loaded(&load(inputs), inputs, facts, host)
}

/// The config dir read and parsed once, to compile for many hosts (`check --all-hosts`).
pub struct Loaded {
    config: config::LoadedConfig,
    sources: SourceMap,
    diagnostics: Diagnostics,
    /// The config's plugins, loaded once for every host compiled from this load.
    plugins: Arc<crate::plugins::Plugins>,
}

/// Reads and parses the config dir.
pub fn load(inputs: &Inputs) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let mut sources = SourceMap::default();
    let started = Instant::now();
    let config = config::load(
        &inputs.config_dir,
        &inputs.extra_vars,
        &mut sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), files = config.documents.len(), "loaded");
    let started = Instant::now();
    let plugins = crate::plugins::Plugins::load(
        &config.documents,
        &inputs.config_dir,
        Some(&plugin_cache_dir(&config)),
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), "plugins loaded");
    Loaded {
        config,
        sources,
        diagnostics,
        plugins: Arc::new(plugins),
    }
}

/// Where compiled plugins are cached: `plugins/` in the state directory — `DRIFTLESS_STATE_DIR`
/// (what `--state-dir` reads too) when set, else the config's `settings.state_dir` when it is
/// written literally (plugins load before anything renders), else the default.
fn plugin_cache_dir(config: &config::LoadedConfig) -> PathBuf {
    let from_env = std::env::var_os("DRIFTLESS_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let configured = from_env.or_else(|| {
        config
            .documents
            .iter()
            .filter_map(|d| d.settings.as_ref()?.get("state_dir"))
            .filter(|node| !node.templated)
            .find_map(|node| {
                node.as_str()
                    .filter(|p| p.starts_with('/'))
                    .map(PathBuf::from)
            })
    });
    configured
        .unwrap_or_else(super::defaults::state_dir)
        .join("plugins")
}

/// Renders and checks a loaded config for one host.
pub fn compile_loaded(
    loaded: &Loaded,
    inputs: &Inputs,
    facts: &HostFacts,
    host: Option<&str>,
) -> Compiled {
    let mut diagnostics = loaded.diagnostics.clone();
    let mut sources = loaded.sources.clone();
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
        &loaded.config,
        &inputs.config_dir,
        facts,
        host,
        template::Providers {
            secrets,
            plugins: loaded.plugins.clone(),
        },
        &mut sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), "rendered");
    let started = Instant::now();
    let instances = rendered.instances.clone();
    let config = check::check(
        rendered,
        &inputs.config_dir,
        &inputs.tags,
        &sources,
        &mut diagnostics,
    );
    tracing::info!(elapsed = ?started.elapsed(), "checked");
    name_role_instances(&instances, &sources, &mut diagnostics);
    Compiled {
        config,
        diagnostics,
        sources,
        files: loaded.config.files.clone(),
        plugins: loaded.plugins.clone(),
    }
}

/// A finding in a role's file says which of the host's instances of the role it is about (the
/// same mistake in two instances is one finding naming both).
fn name_role_instances(
    instances: &[(String, Arc<str>)],
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) {
    if instances.is_empty() {
        return;
    }
    diagnostics.rewrite(|diagnostic| {
        let Some(span) = diagnostic.span else {
            return;
        };
        let path = sources.path(span.file);
        let Some(role) = path
            .strip_prefix("roles/")
            .and_then(|rest| rest.split('/').next())
        else {
            return;
        };
        let names: Vec<String> = instances
            .iter()
            .filter(|(r, _)| r == role)
            .map(|(_, i)| format!("`{i}`"))
            .collect();
        if names.is_empty() {
            return;
        }
        let what = if names.len() == 1 {
            "instance"
        } else {
            "instances"
        };
        let note = format!("in role {what} {}", names.join(", "));
        diagnostic.label = Some(match diagnostic.label.take() {
            Some(label) => format!("{label} ({note})"),
            None => note,
        });
    });
}
