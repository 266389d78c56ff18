use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use super::{Globals, compile_config, default_audit_dir, gather_facts, show};
use crate::execute::{self, Recompiled, RunReport, Status};
use crate::facts::HostFacts;
use crate::pipeline::Compiled;
use crate::plan::{AuditDestination, HostIdentity, NodeKind, Plan, address, facts_address, source};
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
    let stale = execute::stale_nodes(&plan);
    if !stale.is_empty() {
        eprintln!("error: the plan is stale; nothing was changed:");
        for line in &stale {
            eprintln!("  {line}");
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
    )
}

/// The plan's `settings.audit` (recorded in it: a plan executes without its config), else the
/// default directory.
fn report_sinks(plan: &Plan) -> Vec<Box<dyn Sink>> {
    if plan.audit.is_empty() {
        return vec![Box::new(DirectorySink {
            path: default_audit_dir(),
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

fn refuse(why: &str) -> ExitCode {
    eprintln!("error: {why}");
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
    let run_id = crate::fsutil::random_hex(8).unwrap_or_else(|_| "run".to_owned());
    let report = RunReport::new(
        run_id,
        started_at,
        started.elapsed().as_millis() as u64,
        plan,
        facts,
        outcomes,
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
    let sinks = report_sinks(plan);
    for failure in execute::write_report(&report, &sinks) {
        eprintln!("warning: the run report was not saved: {failure}");
    }
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
    match status {
        Status::Changed => format!("changed    {address}"),
        Status::Unchanged if globals.quiet => String::new(),
        Status::Unchanged => format!("unchanged  {address}"),
        Status::Failed(why) => format!("failed     {address}: {why}"),
        Status::Skipped(why) => format!("skipped    {address}: {why}"),
    }
}

/// A collector's line and one line per threshold event (always shown: an event is news).
fn collected_lines(address: &str, collected: &execute::Collected) -> String {
    let mut text = format!("collected  {address}: {} samples", collected.samples);
    for event in &collected.events {
        text.push_str(&format!(
            "\n  {}: {}{{{}}} = {}",
            event.to.as_str(),
            event.value_name,
            event.labels_text(),
            event.value
        ));
    }
    text
}
