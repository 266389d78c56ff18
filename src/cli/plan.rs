use std::path::PathBuf;
use std::process::ExitCode;

use super::{Globals, compile_config, gather_facts, show};
use crate::plan::{self, PlanInputs, json};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct PlanArgs {
    /// Write the plan to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Exit 0 when nothing would change, 2 when something would, 1 on errors
    #[arg(long)]
    detailed_exitcode: bool,
}

pub fn run(globals: &Globals, args: &PlanArgs) -> ExitCode {
    let Some(Built { mut plan, .. }) = build(globals) else {
        return ExitCode::FAILURE;
    };
    let text = json::to_json(&mut plan);
    let written = match &args.output {
        Some(path) => super::check_output_file(path).and_then(|()| {
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
        eprintln!("error: {}", escape(&e));
        return ExitCode::FAILURE;
    }
    if !globals.quiet {
        eprint!("{}", show::render(&plan, globals.color, false));
    }
    match (args.detailed_exitcode, plan.summary.changes()) {
        (true, 0) | (false, _) => ExitCode::SUCCESS,
        (true, _) => ExitCode::from(2),
    }
}

/// A plan with what it was made from.
pub struct Built {
    /// For `apply`: sensitive values and collectors come from it.
    pub compiled: crate::pipeline::Compiled,
    /// The host's facts the config was rendered with, for the run report.
    pub facts: crate::facts::HostFacts,
    pub plan: plan::Plan,
}

/// Compiles the config and plans it, printing diagnostics and plan errors; shared by `plan`
/// and `apply`.
pub fn build(globals: &Globals) -> Option<Built> {
    let facts = gather_facts();
    let compiled = compile_config(globals, &facts)?;
    let inputs = PlanInputs {
        config: &compiled.config,
        sources: &compiled.sources,
        config_dir: &globals.inputs.config_dir,
        facts: &facts,
        extra_vars: &globals.inputs.extra_vars,
    };
    match plan::build(&inputs) {
        Ok(plan) => Some(Built {
            compiled,
            facts,
            plan,
        }),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {}", escape(&e));
            }
            None
        }
    }
}
