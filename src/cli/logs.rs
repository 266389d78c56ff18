//! `driftless logs`: run the config's log pipelines in the foreground until SIGTERM or SIGINT
//! (then deliver, checkpoint and exit), or `--once` over what the files hold.
//!
//! Everything it says goes to stderr: a `console` output writes the records to stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::errln;
use super::{Globals, print_config_errors};
use crate::ops::{self, LogsError, LogsRequest, LogsRun};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct LogsArgs {
    /// Read what the files hold now, deliver it to every output, checkpoint and exit (a
    /// backfill, a test); exit 1 when something could not be delivered
    #[arg(long)]
    once: bool,

    /// Run only this pipeline (repeatable) [default: every pipeline of the config]
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<String>,

    /// Where checkpoints live, under logs/<pipeline id>/ [default: $DRIFTLESS_STATE_DIR, else
    /// settings.state_dir, else /var/lib/driftless as root, else $XDG_STATE_HOME/driftless]
    #[arg(long, value_name = "DIR", env = "DRIFTLESS_STATE_DIR", hide_env = true)]
    state_dir: Option<PathBuf>,
}

pub fn run(globals: &Globals, args: &LogsArgs) -> ExitCode {
    let inputs = globals.inputs();
    let request = LogsRequest {
        inputs: &inputs,
        state_dir: args.state_dir.as_deref(),
        ids: &args.ids,
        once: args.once,
    };
    if !args.once && !globals.quiet {
        errln!("running log pipelines until SIGTERM or SIGINT; SIGHUP reloads the config");
    }
    match ops::run_logs(&request) {
        Ok(LogsRun::Once(runs)) => {
            let mut failed = false;
            for run in runs {
                let address = format!("logs.{}", escape(&run.id));
                match run.result {
                    Ok(end) => {
                        if !globals.quiet {
                            errln!(
                                "{address}: {} lines read, {} records sent to every output",
                                end.lines_read,
                                end.events
                            );
                        }
                        for failure in &end.failures {
                            failed = true;
                            errln!("error: {address}: {}", escape(failure));
                        }
                        if !end.delivered_all {
                            failed = true;
                            errln!(
                                "error: {address}: stopped before every record was delivered; \
                                 the next run sends the rest"
                            );
                        }
                    }
                    Err(e) => {
                        failed = true;
                        errln!("error: {address}: {}", escape(&e.message));
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(LogsRun::Stopped { pipelines }) => {
            if !globals.quiet {
                errln!(
                    "stopped log pipelines {}; checkpoints written",
                    escape(&pipelines.join(", "))
                );
            }
            ExitCode::SUCCESS
        }
        Err(LogsError::Config(mut compiled)) => {
            print_config_errors(globals, &mut compiled);
            ExitCode::FAILURE
        }
        Err(e) => {
            errln!("error: {}", escape(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
