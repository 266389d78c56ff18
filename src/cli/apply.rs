use std::process::ExitCode;

use super::execute::{RunArgs, print_refusal};
use super::output::out;
use super::{Globals, print_plan_error, show};
use crate::ops::{self, ApplyError};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// Show what would change, with diffs, and change nothing
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    run: RunArgs,

    #[command(flatten)]
    selection: super::selection::SelectionArgs,
}

pub fn run(globals: &Globals, args: &ApplyArgs) -> ExitCode {
    if args.dry_run {
        return dry_run(globals, args);
    }
    let printer = args.run.printer(globals);
    match ops::apply(
        &args.selection.inputs(globals),
        &args.run.options(globals, &printer),
    ) {
        Ok(executed) => printer.finish(args.run.detailed_exitcode, &executed),
        Err(ApplyError::Plan(e)) => print_plan_error(globals, e),
        Err(ApplyError::Refused(refusal)) => print_refusal(globals, refusal),
    }
}

/// `apply --dry-run`: the plan, shown with diffs.
fn dry_run(globals: &Globals, args: &ApplyArgs) -> ExitCode {
    let plan = match ops::dry_run_in(
        &args.selection.inputs(globals),
        args.run.state_dir.as_deref(),
    ) {
        Ok(plan) => plan,
        Err(e) => return print_plan_error(globals, e),
    };
    out!("{}", show::render(&plan, globals.stdout_color, true));
    match (args.run.detailed_exitcode, plan.summary.changes()) {
        (true, 1..) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}
