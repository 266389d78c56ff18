use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Globals, compile_config, default_state_dir, gather_facts, show};
use crate::execute::lock::{self, LockRecord, RunLock};
use crate::execute::{self, Recompiled, RunReport, Status};
use crate::facts::HostFacts;
use crate::pipeline::Compiled;
use crate::plan::{AuditDestination, HostIdentity, NodeKind, Plan, address, facts_address, source};
use crate::printable::escape;
use crate::sinks::{DirectorySink, Sink};

#[derive(clap::Args)]
pub struct ExecuteArgs {
    /// The reviewed plan (plan.json)
    plan: PathBuf,

    #[command(flatten)]
    run: RunArgs,
}

/// The most worker threads `-j` may ask for: file work is bound by the disk, not by threads,
/// and a huge `-j` would only exhaust the host's thread limit.
pub const MAX_JOBS: usize = 256;

/// Options of every command that changes the host.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Worker threads, 1 to 256 [default: 4 per CPU, at most 256]
    #[arg(
        short,
        long,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_JOBS as u64)
    )]
    pub jobs: Option<usize>,

    /// Exit 0 when nothing changed, 2 when something did, 1 on errors
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// How long to wait for another run holding the host's run lock before giving up
    /// (30s, 5m) [default: 0s, refuse at once]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s", hide_default_value = true)]
    pub lock_timeout: std::time::Duration,

    /// Where the run lock and the default run reports live [default: $DRIFTLESS_STATE_DIR, else
    /// /var/lib/driftless as root, else $XDG_STATE_HOME/driftless]
    #[arg(long, value_name = "DIR", env = "DRIFTLESS_STATE_DIR", hide_env = true)]
    pub state_dir: Option<PathBuf>,
}

impl RunArgs {
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }

    /// Tries the host's run lock in the state directory, waiting up to `--lock-timeout`.
    pub fn acquire_lock(&self) -> Result<(Option<RunLock>, LockRecord), String> {
        lock::acquire(&self.state_dir().join("lock"), self.lock_timeout)
    }
}

/// `0`, or a duration with units: `30s`, `5m`, `1m30s`, `500ms`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    crate::model::values::Duration::parse(text)
        .map(|d| d.0)
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. 30s, 5m or 1m30s"))
}

/// The outcome of [`lock::acquire`] for a run of `plan`: the held lock, or the refusal of the
/// run. A refused run writes a report saying so (every node `skipped`) and returns its exit
/// code.
pub fn lock_host(
    args: &RunArgs,
    acquired: Result<(Option<RunLock>, LockRecord), String>,
    plan: &Plan,
    facts: &HostFacts,
) -> Result<(RunLock, LockRecord), ExitCode> {
    let state_dir = args.state_dir();
    match acquired {
        Ok((Some(held), record)) => Ok((held, record)),
        Ok((None, record)) => {
            let why = record.refusal(args.lock_timeout);
            let report = RunReport::new(
                run_id(),
                crate::clock::now(),
                0,
                plan,
                facts,
                execute::refused_outcomes(plan, &why),
                record,
            );
            save_report(&report, plan, &state_dir);
            eprintln!("error: {why}");
            eprintln!("nothing was changed");
            eprintln!(
                "help: let that run finish, or wait for it with --lock-timeout (e.g. \
                 --lock-timeout 5m)"
            );
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("nothing was changed");
            eprintln!("help: choose a writable state directory with --state-dir");
            Err(ExitCode::FAILURE)
        }
    }
}

fn run_id() -> String {
    crate::fsutil::random_hex(8).unwrap_or_else(|_| "run".to_owned())
}

pub fn run(globals: &Globals, args: &ExecuteArgs) -> ExitCode {
    let plan = match show::read_plan(&args.plan) {
        Ok(plan) => plan,
        Err(e) => return refuse(&e),
    };
    let facts = gather_facts();
    if let Err(e) = execute::verify_host(&plan, &HostIdentity::of(&facts)) {
        return refuse(&e);
    }
    // Before anything about the host is checked: a run that waited must see what the run it
    // waited for left.
    let acquired = args.run.acquire_lock();
    let (_held, lock) = match lock_host(&args.run, acquired, &plan, &facts) {
        Ok(taken) => taken,
        Err(code) => return code,
    };
    // The config the plan was made from: for its sensitive values and audit settings.
    let config_dir = globals
        .explicit_config
        .clone()
        .unwrap_or_else(|| PathBuf::from(&plan.config.dir));
    // Sensitive values are rendered again, and collectors built, from the config.
    let needs_config = plan
        .nodes
        .iter()
        .any(|n| n.is_sensitive() || n.kind == NodeKind::Facts);
    let compiled = if needs_config {
        if source::digest_dir(&config_dir) != plan.config.digest {
            return refuse(&format!(
                "the plan has sensitive values or collectors, which come again from the config \
                 at {}, but that config is not the one the plan was made from; make a new plan",
                config_dir.display()
            ));
        }
        let inputs = crate::pipeline::Inputs {
            config_dir: config_dir.clone(),
            env_file: globals.inputs.env_file.clone(),
            extra_vars: plan.config.extra_vars.clone(),
        };
        match compile_config(
            &Globals {
                inputs,
                ..globals.clone()
            },
            &facts,
        ) {
            Some(compiled) => Some(compiled),
            None => return refuse("the config the plan was made from has errors"),
        }
    } else {
        None
    };
    if let Some(compiled) = &compiled {
        let mismatches = execute::sensitivity_mismatches(&plan, &compiled.config.apply);
        if !mismatches.is_empty() {
            return refuse(&format!(
                "the plan's sensitive nodes are not those of the config it names: {}",
                mismatches.join("; ")
            ));
        }
    }
    let stale = execute::stale_nodes(&plan);
    if !stale.is_empty() {
        eprintln!("error: the plan is stale; nothing was changed:");
        for line in &stale {
            eprintln!("  {}", escape(line));
        }
        eprintln!("help: make a new plan from the host's current state");
        return ExitCode::FAILURE;
    }
    run_plan(
        globals,
        &args.run,
        &plan,
        compiled.as_ref(),
        &config_dir,
        &facts,
        lock,
    )
}

/// The plan's `settings.audit` (recorded in it: a plan executes without its config), else
/// `runs/` in the state directory.
fn report_sinks(plan: &Plan, state_dir: &std::path::Path) -> Vec<Box<dyn Sink>> {
    if plan.audit.is_empty() {
        return vec![Box::new(DirectorySink {
            path: state_dir.join("runs"),
        })];
    }
    plan.audit
        .iter()
        .map(|destination| match destination {
            AuditDestination::Directory { path } => Box::new(DirectorySink {
                path: PathBuf::from(path),
            }) as Box<dyn Sink>,
        })
        .collect()
}

fn save_report(report: &RunReport, plan: &Plan, state_dir: &std::path::Path) {
    for failure in execute::write_report(report, &report_sinks(plan, state_dir)) {
        eprintln!(
            "warning: the run report was not saved: {}",
            escape(&failure)
        );
    }
}

fn refuse(why: &str) -> ExitCode {
    eprintln!("error: {}", escape(why));
    eprintln!("nothing was changed");
    ExitCode::FAILURE
}

/// Runs a verified plan, reports and recaps: shared by `execute` and `apply`.
pub fn run_plan(
    globals: &Globals,
    args: &RunArgs,
    plan: &Plan,
    compiled: Option<&Compiled>,
    config_dir: &std::path::Path,
    facts: &HostFacts,
    lock: LockRecord,
) -> ExitCode {
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
        config_dir,
    });
    // File work waits on fsync more than on the CPU: several workers per CPU keep the disk
    // queue full.
    let jobs = args
        .jobs
        .unwrap_or_else(|| 4 * std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(MAX_JOBS);
    let started_at = crate::clock::now();
    let started = Instant::now();
    let outcomes = match execute::run(plan, jobs, recompiled.as_ref()) {
        Ok(outcomes) => outcomes,
        Err(e) => return refuse(&e),
    };
    let report = RunReport::new(
        run_id(),
        started_at,
        started.elapsed().as_millis() as u64,
        plan,
        facts,
        outcomes,
        lock,
    );
    for node in &report.nodes {
        let line = match (&node.outcome.status, &node.outcome.facts) {
            (Status::Unchanged, Some(collected)) => {
                collected_lines(&node.outcome.address, collected)
            }
            (status, _) => status_line(globals, &node.outcome.address, status),
        };
        if !line.is_empty() {
            println!("{line}");
        }
    }
    save_report(&report, plan, &args.state_dir());
    let r = &report.recap;
    let collected = match r.collected {
        0 => String::new(),
        n => format!(", {n} collected"),
    };
    println!(
        "Recap: {} changed, {} unchanged{collected}, {} failed, {} skipped.",
        r.changed, r.unchanged, r.failed, r.skipped
    );
    match (r.failed, args.detailed_exitcode, r.changed) {
        (1.., _, _) => ExitCode::FAILURE,
        (0, true, 1..) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

/// A node's recap line; empty for unchanged nodes under `--quiet`.
fn status_line(globals: &Globals, address: &str, status: &Status) -> String {
    let address = escape(address);
    match status {
        Status::Changed => format!("changed    {address}"),
        Status::Unchanged if globals.quiet => String::new(),
        Status::Unchanged => format!("unchanged  {address}"),
        Status::Failed(why) => format!("failed     {address}: {}", escape(why)),
        Status::Skipped(why) => format!("skipped    {address}: {}", escape(why)),
    }
}

/// A collector's line and one line per threshold event (always shown: an event is news).
fn collected_lines(address: &str, collected: &execute::Collected) -> String {
    let mut text = format!(
        "collected  {}: {} samples",
        escape(address),
        collected.samples
    );
    for event in &collected.events {
        text.push_str(&format!(
            "\n  {}: {}{{{}}} = {}",
            event.to.as_str(),
            escape(&event.value_name),
            escape(&event.labels_text()),
            event.value
        ));
    }
    text
}
