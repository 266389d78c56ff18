use std::process::ExitCode;

use super::execute::{RunArgs, run_plan};
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
    let Some(super::plan::Built {
        compiled,
        facts,
        mut plan,
    }) = super::plan::build(globals)
    else {
        return ExitCode::FAILURE;
    };
    // The digest is what the run report names, as for a plan file.
    plan::json::seal(&mut plan);
    if args.dry_run {
        print!("{}", show::render(&plan, globals.stdout_color, true));
        return match (args.run.detailed_exitcode, plan.summary.changes()) {
            (true, 1..) => ExitCode::from(2),
            _ => ExitCode::SUCCESS,
        };
    }
    run_plan(
        globals,
        &args.run,
        &plan,
        Some(&compiled),
        &globals.inputs.config_dir,
        &facts,
    )
}
