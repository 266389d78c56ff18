//! `driftless agent`: arguments, and how a refused start is told.

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::errln;
use super::{Globals, print_config_errors};
use crate::agent::{self, AgentError, AgentRequest};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// Where the agent keeps its state: the checkout of its Git source, its lock, the run lock
    /// and the default run reports [default: $DRIFTLESS_STATE_DIR, else settings.state_dir,
    /// else /var/lib/driftless as root, else $XDG_STATE_HOME/driftless]
    #[arg(long, value_name = "DIR", env = "DRIFTLESS_STATE_DIR", hide_env = true)]
    state_dir: Option<PathBuf>,
}

pub fn run(globals: &Globals, args: &AgentArgs) -> ExitCode {
    let request = AgentRequest {
        inputs: globals.inputs(),
        state_dir: args.state_dir.clone(),
        show: |plan| super::show::render(plan, false, true),
    };
    match agent::run(&request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(AgentError::Config(mut compiled)) => {
            print_config_errors(globals, &mut compiled);
            errln!("error: the agent's config has errors; it did not start");
            ExitCode::FAILURE
        }
        Err(e) => {
            errln!("error: {}", escape(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
