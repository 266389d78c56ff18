use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{err, errln};
use super::{Globals, print_plan_error, show};
use crate::ops;
use crate::plan::json;
use crate::printable::escape;

#[derive(clap::Args)]
pub struct PlanArgs {
    /// Write the plan to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 0 when nothing would change, 2 when something would, 1 on errors
    #[arg(long)]
    detailed_exitcode: bool,

    /// Where log pipelines' checkpoints are read from, for their nodes [default:
    /// $DRIFTLESS_STATE_DIR, else settings.state_dir, else /var/lib/driftless as root, else
    /// $XDG_STATE_HOME/driftless]
    #[arg(long, value_name = "DIR", env = "DRIFTLESS_STATE_DIR", hide_env = true)]
    state_dir: Option<PathBuf>,

    #[command(flatten)]
    selection: super::selection::SelectionArgs,
}

pub fn run(globals: &Globals, args: &PlanArgs) -> ExitCode {
    let mut plan = match ops::plan_in(&args.selection.inputs(globals), args.state_dir.as_deref()) {
        Ok(planned) => planned.plan,
        Err(e) => return print_plan_error(globals, e),
    };
    let text = json::to_json(&mut plan);
    let written = match &args.output {
        Some(path) => ops::check_output_file(path).and_then(|()| {
            crate::fsutil::write_atomic(path, text.as_bytes(), 0o644, (None, None))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot write the plan to stdout: {e}"))
        }
    };
    if let Err(e) = written {
        errln!("error: {}", escape(&e));
        return ExitCode::FAILURE;
    }
    if !globals.quiet {
        err!("{}", show::render(&plan, globals.color, false));
    }
    match (args.detailed_exitcode, plan.summary.changes()) {
        (true, 0) | (false, _) => ExitCode::SUCCESS,
        (true, _) => ExitCode::from(2),
    }
}
