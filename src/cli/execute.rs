use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use super::output::errln;
use super::run_output::{RunFormat, RunPrinter};
use super::{Globals, print_config_errors};
use crate::ops::{self, ExecuteRequest, MAX_JOBS, Refusal, RunOptions};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct ExecuteArgs {
    /// The reviewed plan (plan.json)
    plan: PathBuf,

    #[command(flatten)]
    run: RunArgs,
}

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

    /// How results print: a line per node as it ends, or one JSON object per node (NDJSON)
    /// and then the recap
    #[arg(long, value_enum, default_value = "human")]
    pub format: RunFormat,

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
    /// The run's options, its nodes told to `printer` as they end.
    pub fn options(&self, globals: &Globals, printer: &Arc<RunPrinter>) -> RunOptions {
        let printer = Arc::clone(printer);
        RunOptions {
            env_file: globals.env_file.clone(),
            jobs: self.jobs,
            lock_timeout: self.lock_timeout,
            state_dir: self.state_dir.clone(),
            on_node: Some(Arc::new(move |outcome| printer.node(outcome))),
            logs: ops::LogPipelines::Planned,
        }
    }

    pub fn printer(&self, globals: &Globals) -> Arc<RunPrinter> {
        Arc::new(RunPrinter::new(self.format, globals.quiet, globals.verbose))
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

pub fn run(globals: &Globals, args: &ExecuteArgs) -> ExitCode {
    let printer = args.run.printer(globals);
    let options = args.run.options(globals, &printer);
    let request = ExecuteRequest {
        plan_file: &args.plan,
        config_dir: globals.explicit_config.as_deref(),
        run: &options,
    };
    match ops::execute(&request) {
        Ok(executed) => printer.finish(args.run.detailed_exitcode, &executed),
        Err(refusal) => print_refusal(globals, refusal),
    }
}

/// A refused run: why, and that nothing was changed; exit 1.
pub fn print_refusal(globals: &Globals, mut refusal: Refusal) -> ExitCode {
    match &mut refusal {
        Refusal::LockHeld {
            why,
            report_failures,
        } => {
            for failure in report_failures.iter() {
                errln!("warning: the run report was not saved: {}", escape(failure));
            }
            errln!("error: {why}");
            errln!("nothing was changed");
            errln!(
                "help: let that run finish, or wait for it with --lock-timeout (e.g. \
                 --lock-timeout 5m)"
            );
            return ExitCode::FAILURE;
        }
        Refusal::LockUnusable(why) => {
            errln!("error: {why}");
            errln!("nothing was changed");
            errln!("help: choose a writable state directory with --state-dir");
            return ExitCode::FAILURE;
        }
        Refusal::Stale(lines) => {
            errln!("error: the plan is stale; nothing was changed:");
            for line in lines {
                errln!("  {}", escape(line));
            }
            errln!("help: make a new plan from the host's current state");
            return ExitCode::FAILURE;
        }
        Refusal::ConfigErrors(compiled) => print_config_errors(globals, compiled),
        Refusal::Unreadable(_)
        | Refusal::OtherHost(_)
        | Refusal::ConfigChanged { .. }
        | Refusal::SensitivityMismatch(_)
        | Refusal::NotRun(_) => {}
    }
    errln!("error: {}", escape(&refusal.to_string()));
    errln!("nothing was changed");
    ExitCode::FAILURE
}
