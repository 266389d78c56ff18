use std::process::ExitCode;

use super::execute::{RunArgs, lock_host, run_plan};
use super::plan::Built;
use super::{Globals, show};
use crate::plan;

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// Show what would change, with diffs, and change nothing
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    run: RunArgs,
}

pub fn run(globals: &Globals, args: &ApplyArgs) -> ExitCode {
    if args.dry_run {
        return dry_run(globals, args);
    }
    // The lock comes first: the plan is made from what the host looks like once no other run
    // changes it.
    let acquired = args.run.acquire_lock();
    let Some(Built {
        compiled,
        facts,
        mut plan,
    }) = super::plan::build(globals)
    else {
        return ExitCode::FAILURE;
    };
    // The digest is what the run report names, as for a plan file.
    plan::json::seal(&mut plan);
    let (_held, lock) = match lock_host(&args.run, acquired, &plan, &facts) {
        Ok(taken) => taken,
        Err(code) => return code,
    };
    run_plan(
        globals,
        &args.run,
        &plan,
        Some(&compiled),
        &globals.inputs.config_dir,
        &facts,
        lock,
    )
}

/// `apply --dry-run`: the plan, shown; no lock (nothing changes).
fn dry_run(globals: &Globals, args: &ApplyArgs) -> ExitCode {
    let Some(Built { mut plan, .. }) = super::plan::build(globals) else {
        return ExitCode::FAILURE;
    };
    plan::json::seal(&mut plan);
    print!("{}", show::render(&plan, globals.stdout_color, true));
    match (args.run.detailed_exitcode, plan.summary.changes()) {
        (true, 1..) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}
