//! Running log pipelines: `driftless logs` (in the foreground until SIGTERM or SIGINT, or once
//! over what the files hold), and what `plan` and `execute` need of the pipelines (their
//! files observed, their context).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::compile::{Compiled, Inputs, compile};
use super::defaults::resolve_state_dir;
use super::plan::gather_facts;
use crate::config::ConfigDir;
use crate::facts::HostFacts;
use crate::logs::{LogContext, OnceRun, RunningLogs};
use crate::model::Config;
use crate::model::logs::LogPipeline;
use crate::secrets::Secrets;

/// What `driftless logs` is asked to run.
pub struct LogsRequest<'a> {
    pub inputs: &'a Inputs,
    /// `--state-dir`: over `settings.state_dir`.
    pub state_dir: Option<&'a Path>,
    /// `--id`: only these pipelines; empty: all.
    pub ids: &'a [String],
    /// `--once`: read what the files hold, deliver it, checkpoint, end.
    pub once: bool,
}

/// How a `driftless logs` run ended.
pub enum LogsRun {
    /// Every pipeline ran once.
    Once(Vec<OnceRun>),
    /// The pipelines ran until a stop signal, then stopped (checkpointed).
    Stopped { pipelines: Vec<String> },
}

/// Why pipelines did not run.
pub enum LogsError {
    /// The config has errors; its diagnostics are in it.
    Config(Box<Compiled>),
    /// Anything else, in one message.
    Failed(String),
}

impl fmt::Display for LogsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogsError::Config(_) => f.write_str("the config has errors"),
            LogsError::Failed(why) => f.write_str(why),
        }
    }
}

/// What a pipeline needs from the host, for a compiled config: the state directory
/// (`--state-dir` > `settings.state_dir` > the default), the host name, the secrets.
pub fn log_context(
    inputs: &Inputs,
    compiled: &Compiled,
    state_dir: Option<&Path>,
    facts: &HostFacts,
) -> Result<LogContext, String> {
    let secrets = Secrets::standard(&inputs.env_file, &inputs.secret_files, &inputs.config_dir)
        .map_err(|e| e.to_string())?;
    Ok(context_with(secrets, compiled, state_dir, facts))
}

/// [`log_context`] with the secrets already opened.
pub(super) fn context_with(
    secrets: Secrets,
    compiled: &Compiled,
    state_dir: Option<&Path>,
    facts: &HostFacts,
) -> LogContext {
    LogContext {
        state_dir: resolve_state_dir(state_dir, &compiled.config.settings),
        host: facts.hostname.clone(),
        secrets: Arc::new(secrets),
        plugins: compiled.plugins.clone(),
    }
}

/// The files a pipeline's globs match now with their checkpointed positions, for its plan
/// node.
pub fn observe_logs(pipeline: &LogPipeline, state_dir: &Path) -> Vec<crate::plan::ObservedLogFile> {
    crate::logs::observe(pipeline, state_dir)
        .into_iter()
        .map(|w| crate::plan::ObservedLogFile {
            path: w.path.to_string_lossy().into_owned(),
            position: w.position,
            size: w.size,
            behind: w.size.saturating_sub(w.position),
        })
        .collect()
}

/// Runs the config's pipelines (or those `--id` names) once or until a stop signal.
pub fn run_logs(request: &LogsRequest<'_>) -> Result<LogsRun, LogsError> {
    let facts = gather_facts();
    let compiled = compile(request.inputs, &facts);
    if compiled.diagnostics.has_errors() {
        return Err(LogsError::Config(Box::new(compiled)));
    }
    let pipelines = selected(&compiled.config.logs, request.ids)?;
    let cx = log_context(request.inputs, &compiled, request.state_dir, &facts)
        .map_err(LogsError::Failed)?;
    crate::signals::stop_on_signals()
        .map_err(|e| LogsError::Failed(format!("cannot take over SIGTERM and SIGINT: {e}")))?;
    if request.once {
        // Start-up (compile, facts) is over once the pipelines run: its pages are released,
        // as for a run that follows its files.
        let runs = crate::logs::run_once(
            &pipelines,
            &cx,
            None,
            &crate::signals::stop_requested,
            &crate::resident::release_startup_pages,
        );
        return Ok(LogsRun::Once(runs));
    }
    crate::signals::reload_on_sighup()
        .map_err(|e| LogsError::Failed(format!("cannot take over SIGHUP: {e}")))?;
    let mut running =
        RunningLogs::start(&pipelines, &cx).map_err(|e| LogsError::Failed(e.message))?;
    // Start-up (compile, facts) is over; the pipelines run on their own threads from here.
    crate::resident::release_startup_pages();
    while !crate::signals::stop_requested() {
        std::thread::sleep(Duration::from_millis(100));
        if crate::signals::take_hangup() {
            reload(request, &mut running);
        }
    }
    let ids = running.ids().into_iter().map(str::to_owned).collect();
    running.stop();
    Ok(LogsRun::Stopped { pipelines: ids })
}

/// SIGHUP: the config dir is loaded and checked again, and the pipelines it has now run
/// instead (those whose config did not change go on with their tails and positions:
/// [`RunningLogs::reload`]). A config with errors changes nothing: its diagnostics go to
/// stderr. The state directory and the secrets stay those of the start.
fn reload(request: &LogsRequest<'_>, running: &mut RunningLogs) {
    tracing::info!("SIGHUP: reloading the log pipelines");
    let inputs = Inputs {
        config_dir: ConfigDir::new(request.inputs.config_dir.path()),
        ..request.inputs.clone()
    };
    let compiled = compile(&inputs, &gather_facts());
    if compiled.diagnostics.has_errors() {
        tracing::error!(
            "the config has errors; the log pipelines keep running as they were:\n{}",
            crate::diagnostics::render_human(&compiled.diagnostics, &compiled.sources, false)
        );
        return;
    }
    let pipelines = match selected(&compiled.config.logs, request.ids) {
        Ok(pipelines) => pipelines,
        Err(e) => {
            tracing::error!("{e}; the log pipelines keep running as they were");
            return;
        }
    };
    match running.reload(&pipelines, compiled.plugins.clone()) {
        Ok(()) => tracing::info!(pipelines = %running.ids().join(", "), "reloaded"),
        Err(e) => tracing::error!(why = %e.message, "a log pipeline cannot start"),
    }
}

/// The pipelines `ids` names (all when empty), in the config's order; an id that names none
/// is an error listing those there are.
fn selected(all: &[LogPipeline], ids: &[String]) -> Result<Vec<LogPipeline>, LogsError> {
    if all.is_empty() {
        return Err(LogsError::Failed(
            "the config has no log pipelines (`logs:`)".to_owned(),
        ));
    }
    let unknown: Vec<&String> = ids
        .iter()
        .filter(|id| !all.iter().any(|p| &p.id.value == *id))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = all.iter().map(|p| p.id.value.as_str()).collect();
        return Err(LogsError::Failed(format!(
            "no log pipeline `{}`; the config has: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("`, `"),
            known.join(", ")
        )));
    }
    Ok(all
        .iter()
        .filter(|p| ids.is_empty() || ids.contains(&p.id.value))
        .cloned()
        .collect())
}

/// Where `plan` reads pipelines' checkpoints: `--state-dir` > `settings.state_dir` > default.
pub fn plan_state_dir(flag: Option<&Path>, config: &Config) -> PathBuf {
    resolve_state_dir(flag, &config.settings)
}
