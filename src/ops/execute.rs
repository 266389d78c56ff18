//! Verify and execute a reviewed plan: read it, check that it is for this host, take the run
//! lock, check the config it needs again against its digest, render that config again for
//! sensitive values and collectors, refuse a stale plan, run it and write the run report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::compile::{Compiled, Inputs, compile};
use super::plan::gather_facts;
use super::plan_file::read_plan;
use super::refusal::Refusal;
use super::report::{run_id, save_report};
use super::{defaults, run_lock};
use crate::config::ConfigDir;
use crate::execute::lock::LockRecord;
use crate::execute::{self, Recompiled, RunReport};
use crate::facts::HostFacts;
use crate::plan::{HostIdentity, NodeKind, Plan, address, facts_address, logs_address};

/// The most worker threads a run may use: file work is bound by the disk, not by threads, and
/// a huge number would only exhaust the host's thread limit.
pub const MAX_JOBS: usize = 256;

/// Told of every node of a run as it ends (the CLI streams result lines and progress).
pub type NodeObserver = std::sync::Arc<dyn Fn(&execute::NodeOutcome) + Send + Sync>;

/// How a run that changes the host runs.
#[derive(Clone)]
pub struct RunOptions {
    /// The env file secrets are read from again: for sensitive values, and the credentials of
    /// report sinks.
    pub env_file: PathBuf,
    /// Worker threads, at most [`MAX_JOBS`]; `None`: four per CPU.
    pub jobs: Option<usize>,
    /// How long to wait for another run holding the host's run lock; zero refuses at once.
    pub lock_timeout: Duration,
    /// Where the run lock and the default run reports live; `None`: [`defaults::state_dir`].
    pub state_dir: Option<PathBuf>,
    /// Told of each node as it ends, before the run is over.
    pub on_node: Option<NodeObserver>,
    /// Whether `apply` plans the log pipelines, or they run in this process already.
    pub logs: super::plan::LogPipelines,
}

impl RunOptions {
    /// The state directory the run uses.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(defaults::state_dir)
    }

    /// The worker threads the run uses. File work waits on fsync more than on the CPU:
    /// several workers per CPU keep the disk queue full.
    fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(MAX_JOBS)
    }
}

/// What `execute` is asked to run.
pub struct ExecuteRequest<'a> {
    /// The reviewed plan (plan.json).
    pub plan_file: &'a Path,
    /// The config the plan was made from; `None`: the directory the plan names.
    pub config_dir: Option<&'a Path>,
    pub run: &'a RunOptions,
}

/// A run that happened: its report (every node's outcome, the recap), and why a report sink
/// did not take the report, for each that failed.
pub struct Executed {
    pub report: RunReport,
    pub report_failures: Vec<String>,
}

/// Verifies the reviewed plan and runs it, or refuses it before anything changes.
pub fn execute(request: &ExecuteRequest<'_>) -> Result<Executed, Refusal> {
    let plan = read_plan(request.plan_file).map_err(Refusal::Unreadable)?;
    let facts = gather_facts();
    execute::verify_host(&plan, &HostIdentity::of(&facts)).map_err(Refusal::OtherHost)?;
    // Before anything about the host is checked: a run that waited must see what the run it
    // waited for left.
    let acquired = run_lock::acquire(request.run);
    let (_held, lock) = run_lock::hold(request.run, acquired, &plan, &facts)?;
    // The config the plan was made from: for its sensitive values and collectors.
    let config_dir = ConfigDir::new(
        request
            .config_dir
            .map_or_else(|| PathBuf::from(&plan.config.dir), Path::to_path_buf),
    );
    // A plan made with plugins is only as good as the plugins it was expanded with: the
    // config (whose digest covers each plugin's pin and, in the repo, its file) must be
    // the same, and compile with them.
    let needs_config = !plan.config.plugins.is_empty()
        || plan
            .nodes
            .iter()
            .any(|n| n.is_sensitive() || matches!(n.kind, NodeKind::Facts | NodeKind::Logs));
    let compiled = if needs_config {
        Some(recompile(
            &plan,
            &config_dir,
            &request.run.env_file,
            &facts,
        )?)
    } else {
        None
    };
    let stale = execute::stale_nodes(&plan);
    if !stale.is_empty() {
        return Err(Refusal::Stale(stale));
    }
    run_verified(
        request.run,
        &plan,
        compiled.as_ref(),
        &config_dir,
        &facts,
        lock,
    )
}

/// The config the plan was made from, compiled again for its sensitive values and collectors:
/// refused unless it is that config (by digest), compiles, and marks as sensitive exactly the
/// nodes the plan does.
fn recompile(
    plan: &Plan,
    config_dir: &ConfigDir,
    env_file: &Path,
    facts: &HostFacts,
) -> Result<Compiled, Refusal> {
    if config_dir.digest() != plan.config.digest {
        return Err(Refusal::ConfigChanged {
            config_dir: config_dir.path().to_path_buf(),
        });
    }
    let inputs = Inputs {
        config_dir: config_dir.clone(),
        env_file: env_file.to_path_buf(),
        extra_vars: plan.config.extra_vars.clone(),
        secret_files: (plan.config.secret_files.iter())
            .map(|(name, path)| (name.clone(), path.into()))
            .collect(),
        tags: crate::model::meta::TagSelection {
            tags: plan.config.tags.clone(),
            skip_tags: plan.config.skip_tags.clone(),
        },
    };
    let compiled = compile(&inputs, facts);
    if compiled.diagnostics.has_errors() {
        return Err(Refusal::ConfigErrors(Box::new(compiled)));
    }
    let mismatches = execute::sensitivity_mismatches(plan, &compiled.config.apply);
    if !mismatches.is_empty() {
        return Err(Refusal::SensitivityMismatch(mismatches));
    }
    Ok(compiled)
}

/// Runs a verified plan under the held lock and writes its report: shared by `execute` and
/// `apply`. `compiled` is the config sensitive values and collectors come from.
pub(super) fn run_verified(
    options: &RunOptions,
    plan: &Plan,
    compiled: Option<&Compiled>,
    config_dir: &ConfigDir,
    facts: &HostFacts,
    lock: LockRecord,
) -> Result<Executed, Refusal> {
    let recompiled = compiled.map(|c| Recompiled {
        tasks: c
            .config
            .apply
            .iter()
            .map(|t| (address(t), t))
            .collect::<HashMap<_, _>>(),
        collectors: c
            .config
            .facts
            .iter()
            .map(|t| (facts_address(t), t))
            .collect::<HashMap<_, _>>(),
        logs: (c.config.logs.iter())
            .map(|p| (logs_address(p), p))
            .collect::<HashMap<_, _>>(),
        log_context: log_secrets(options, plan, config_dir).map(|secrets| {
            super::logs::context_with(secrets, c, options.state_dir.as_deref(), facts)
        }),
        config_dir,
    });
    // SIGTERM and SIGINT stop the run between nodes, and its report is still written.
    crate::signals::stop_on_signals()
        .map_err(|e| Refusal::NotRun(format!("cannot take over SIGTERM and SIGINT: {e}")))?;
    let started_at = crate::clock::now();
    let started = Instant::now();
    let on_node = |outcome: &execute::NodeOutcome| {
        if let Some(observer) = &options.on_node {
            observer(outcome);
        }
    };
    let outcomes = execute::run(plan, options.jobs(), recompiled.as_ref(), &on_node)
        .map_err(Refusal::NotRun)?;
    let report = RunReport::new(
        run_id(),
        started_at,
        started.elapsed().as_millis() as u64,
        plan,
        facts,
        outcomes,
        lock,
    );
    let report_failures = save_report(&report, plan, options);
    Ok(Executed {
        report,
        report_failures,
    })
}

/// The secrets log outputs read their credentials from: the plan's secret files, the
/// environment, the env file.
fn log_secrets(
    options: &RunOptions,
    plan: &Plan,
    config_dir: &ConfigDir,
) -> Result<crate::secrets::Secrets, String> {
    let files: Vec<(String, PathBuf)> = (plan.config.secret_files.iter())
        .map(|(name, path)| (name.clone(), path.into()))
        .collect();
    crate::secrets::Secrets::standard(&options.env_file, &files, config_dir)
        .map_err(|e| e.to_string())
}
