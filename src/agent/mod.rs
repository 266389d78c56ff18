//! `driftless agent`: one long-running process that converges the host from its config —
//! its own config dir, or a Git repository it follows — serves its metrics, and reports every
//! cycle to the audit sinks. It calls the same workflows as the commands (`ops`): a cycle is an
//! `apply` (or, in plan mode, a `plan`), the metrics are `facts --serve`'s.
//!
//! Threads: this one runs the loop (cycles, reloads, stop); the source thread fetches and
//! checks commits (`pull`); the metrics server's poller and workers answer `/metrics`,
//! `/healthz` and `/readyz`; the collector scheduler runs collectors on their intervals.
//!
//! The loop waits in steps of `TICK`, so that SIGTERM/SIGINT, SIGHUP, a new commit and a
//! change of the config dir are seen within it; a running cycle stops between nodes on
//! SIGTERM (the running node finishes) and writes its report.

mod audit;
mod collectors;
mod config_watch;
mod cycle;
mod git_source;
mod instance_lock;
mod log_pipelines;
mod previews;
mod pull;
mod resolved;
mod self_metrics;

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Gatherer;
use crate::model::{FactsTask, LogPipeline};
use crate::ops::{self, Compiled, ConfigDir, Inputs, MetricsError, MetricsServer, RunOptions};
use audit::Audit;
use cycle::Cycle;
use git_source::GitSource;
use log_pipelines::LogPipelines;
use pull::Puller;
use resolved::Resolved;
use self_metrics::AgentMetrics;

/// How often the loop looks for a stop, a reload or a new commit.
const TICK: Duration = Duration::from_millis(100);

/// Worker threads of the agent's `/metrics` server: scrapes are rare and cheap, and every
/// thread is memory an agent keeps all day.
const METRICS_WORKERS: usize = 2;

/// What the source thread tells the loop.
pub enum Event {
    /// `current` points to a new good commit (or, at start, the one it pointed to): converge
    /// to it now, and run its log pipelines and collectors.
    NewCommit(RunningParts),
}

/// The parts of a config that run beside the cycles.
pub struct RunningParts {
    pub logs: Vec<LogPipeline>,
    pub facts: Vec<FactsTask>,
    /// The plugins its log pipelines' `plugin` filters call.
    pub plugins: Arc<crate::plugins::Plugins>,
}

/// What `driftless agent` is given.
pub struct AgentRequest {
    /// The agent's own config dir (its `settings`; without a Git source, also the config it
    /// converges to), env file, vars and secrets.
    pub inputs: Inputs,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// A plan as `driftless show` prints it (with diffs, without color): the text previews
    /// and plan-mode cycles send for review.
    pub show: ShowPlan,
}

/// Renders a plan for people.
pub type ShowPlan = fn(&crate::plan::Plan) -> String;

/// Why the agent did not start.
pub enum AgentError {
    /// Its own config has errors; the diagnostics are in it.
    Config(Box<Compiled>),
    /// The metrics server cannot start.
    Metrics(MetricsError),
    /// Anything else, in one message (another agent holds the state dir, …).
    Failed(String),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Config(_) => f.write_str("the agent's config has errors"),
            AgentError::Metrics(e) => e.fmt(f),
            AgentError::Failed(why) => f.write_str(why),
        }
    }
}

/// The running source thread, and how to end it.
struct SourceThread {
    source: Arc<GitSource>,
    quit: Arc<AtomicBool>,
}

/// Runs the agent until SIGTERM or SIGINT.
pub fn run(request: &AgentRequest) -> Result<(), AgentError> {
    // Before the first thread: every thread after this shares the two arenas.
    crate::resident::limit_malloc_arenas();
    crate::signals::stop_on_signals()
        .map_err(|e| AgentError::Failed(format!("cannot take over SIGTERM and SIGINT: {e}")))?;
    crate::signals::reload_on_sighup()
        .map_err(|e| AgentError::Failed(format!("cannot take over SIGHUP: {e}")))?;
    let facts = ops::gather_facts();
    let own = ops::compile(&request.inputs, &facts);
    if own.diagnostics.has_errors() {
        return Err(AgentError::Config(Box::new(own)));
    }
    let mut resolved = Resolved::of(&own.config.settings, request.state_dir.as_deref());
    let state_dir = resolved.state_dir.clone();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state_dir)
        .map_err(|e| {
            AgentError::Failed(format!(
                "cannot make the state directory {}: {e}",
                state_dir.display()
            ))
        })?;
    let _instance = instance_lock::take(&state_dir).map_err(AgentError::Failed)?;
    let metrics = Arc::new(AgentMetrics::default());
    let gatherer = start_metrics(&request.inputs, &facts, &metrics)?;
    let audit = Audit {
        sinks: Arc::new(Mutex::new(Vec::new())),
        host: facts.hostname.clone(),
        state_dir: state_dir.clone(),
        env_file: request.inputs.env_file.clone(),
        config_dir: request.inputs.config_dir.clone(),
        show: request.show,
    };
    audit.follow(&own.config.settings.audit);
    let run_options = RunOptions {
        env_file: request.inputs.env_file.clone(),
        jobs: None,
        // A manual run holding the host's lock makes this cycle fail (and back off), never
        // wait: a waiting cycle would not see SIGTERM.
        lock_timeout: Duration::ZERO,
        state_dir: Some(state_dir.clone()),
        on_node: None,
        // The pipelines run beside the cycles, below.
        logs: crate::ops::LogPipelines::RunningHere,
    };
    // With a Git source the pipelines are the current commit's, sent by the source thread.
    let own_logs: &[LogPipeline] = if resolved.git.is_some() {
        &[]
    } else {
        &own.config.logs
    };
    let mut logs = LogPipelines::start(
        &request.inputs,
        &own,
        own_logs,
        &state_dir,
        &facts,
        &gatherer,
    );
    let (events, received) = mpsc::channel();
    let mut source = start_source(&resolved, &request.inputs, &audit, &metrics, &events);
    tracing::info!(
        state_dir = %state_dir.display(),
        interval = ?resolved.interval,
        mode = ?resolved.mode,
        source = resolved.git.as_ref().map_or("config dir", |g| g.url.value.as_str()),
        "agent started"
    );
    let mut watch = config_watch::ConfigWatch::new(request.inputs.config_dir.path());
    let mut next = Instant::now();
    while !crate::signals::stop_requested() {
        let mut due = Instant::now() >= next;
        if let Some(parts) = new_commit(&received) {
            logs.reload(&parts.logs, parts.plugins);
            collectors::reload(&gatherer, &parts.facts);
            due = true;
        }
        let trigger = if crate::signals::take_hangup() {
            Some("SIGHUP")
        } else {
            watch.changed().map(|by| match by {
                config_watch::SeenBy::Inotify => "the config dir changed (inotify)",
                config_watch::SeenBy::Polling => "the config dir changed (polling)",
            })
        };
        if let Some(trigger) = trigger {
            tracing::info!(%trigger, "reloading the agent's config");
            if let Some((reloaded, own_config)) = reload_settings(request, &resolved, &metrics) {
                if !reloaded.same_source(&resolved) {
                    if let Some(old) = source.take() {
                        old.quit.store(true, Ordering::SeqCst);
                    }
                    source = start_source(&reloaded, &request.inputs, &audit, &metrics, &events);
                }
                if reloaded.git.is_none() {
                    audit.follow(&own_config.config.settings.audit);
                    logs.reload(&own_config.config.logs, own_config.plugins.clone());
                    collectors::reload(&gatherer, &own_config.config.facts);
                }
                resolved = reloaded;
            }
            due = true;
        }
        if due {
            let cycle = Cycle {
                inputs: &request.inputs,
                source: source.as_ref().map(|s| s.source.as_ref()),
                mode: resolved.mode,
                run: &run_options,
                metrics: &metrics,
                audit: &audit,
            };
            next = if cycle.run() {
                Instant::now() + resolved.wait(metrics.consecutive_failures())
            } else {
                // No commit yet: the source thread's event starts the first cycle.
                Instant::now() + resolved.interval
            };
        }
        std::thread::sleep(TICK);
    }
    if let Some(source) = source {
        source.quit.store(true, Ordering::SeqCst);
    }
    logs.stop();
    tracing::info!("agent stopped");
    Ok(())
}

/// The running parts of the newest commit the source thread switched to since the last
/// look, if it switched.
fn new_commit(received: &Receiver<Event>) -> Option<RunningParts> {
    let mut newest = None;
    while let Ok(Event::NewCommit(parts)) = received.try_recv() {
        newest = Some(parts);
    }
    newest
}

/// Serves `/metrics` (with the agent's metrics, `/healthz` and `/readyz`) when the config
/// sets a listen address; runs the collectors on their intervals either way. The collectors,
/// for more metrics to join.
fn start_metrics(
    inputs: &Inputs,
    facts: &ops::HostFacts,
    agent: &Arc<AgentMetrics>,
) -> Result<Arc<Gatherer>, AgentError> {
    let metrics = ops::load_metrics(inputs, false, facts).map_err(AgentError::Metrics)?;
    let gatherer = Arc::clone(&metrics.gatherer);
    if metrics.listen.is_none() {
        metrics.start_background();
        return Ok(gatherer);
    }
    let server =
        MetricsServer::bind(&metrics, None, METRICS_WORKERS, None).map_err(AgentError::Metrics)?;
    let scheme = if server.tls() { "https" } else { "http" };
    tracing::info!(
        "serving metrics on {scheme}://{}/metrics",
        server.local_addr()
    );
    let (extra, readiness) = (Arc::clone(agent), Arc::clone(agent));
    std::thread::Builder::new()
        .name("metrics-server".into())
        .spawn(move || {
            if let Err(e) = server.serve_with(Some(extra), Some(readiness)) {
                tracing::error!(error = %e, "the metrics server stopped");
            }
        })
        .map_err(|e| AgentError::Failed(format!("cannot start the metrics server: {e}")))?;
    Ok(gatherer)
}

/// Starts the source thread when the settings name a Git source.
fn start_source(
    resolved: &Resolved,
    inputs: &Inputs,
    audit: &Audit,
    metrics: &Arc<AgentMetrics>,
    events: &Sender<Event>,
) -> Option<SourceThread> {
    let git = resolved.git.as_ref()?;
    let source = Arc::new(GitSource::new(git, &resolved.state_dir));
    let quit = Arc::new(AtomicBool::new(false));
    let puller = Puller {
        source: Arc::clone(&source),
        inputs: inputs.clone(),
        interval: resolved.fetch_interval,
        audit: audit.clone(),
        metrics: Arc::clone(metrics),
        events: events.clone(),
        quit: Arc::clone(&quit),
    };
    let spawned = std::thread::Builder::new()
        .name("source".into())
        .spawn(move || puller.run());
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the source thread; the last good commit stays");
    }
    Some(SourceThread { source, quit })
}

/// The agent's own config read again, with the config; `None` (the running settings stay)
/// when it has errors, which are logged and counted.
fn reload_settings(
    request: &AgentRequest,
    running: &Resolved,
    metrics: &AgentMetrics,
) -> Option<(Resolved, Compiled)> {
    let inputs = Inputs {
        config_dir: ConfigDir::new(request.inputs.config_dir.path()),
        ..request.inputs.clone()
    };
    let compiled = ops::compile(&inputs, &ops::gather_facts());
    if compiled.diagnostics.has_errors() {
        metrics.config_check_failed();
        tracing::error!(
            "the agent's config has errors; it keeps running with the settings it had:\n{}",
            crate::diagnostics::render_human(&compiled.diagnostics, &compiled.sources, false)
        );
        return None;
    }
    let reloaded = Resolved::of(&compiled.config.settings, request.state_dir.as_deref());
    if reloaded.state_dir != running.state_dir || reloaded.listen != running.listen {
        tracing::warn!(
            "a new state directory or metrics listen address takes effect when the agent \
             restarts"
        );
    }
    let resolved = Resolved {
        state_dir: running.state_dir.clone(),
        listen: running.listen.clone(),
        ..reloaded
    };
    Some((resolved, compiled))
}
