//! `driftless vars NAME`: where a var's value comes from on a host — every layer that sets
//! it, the winning one first, each with its file:line:col.

use std::process::ExitCode;

use super::Globals;
use super::check::HostArgs;
use super::output::{err, errln, outln};
use crate::diagnostics::render_human;
use crate::ops;

#[derive(clap::Args)]
pub struct VarsArgs {
    /// The var to explain
    #[arg(value_name = "NAME")]
    name: String,

    #[command(flatten)]
    hosts: HostArgs,
}

pub fn run(globals: &Globals, args: &VarsArgs) -> ExitCode {
    let inputs = globals.inputs();
    let request = args.hosts.request();
    if request.all {
        errln!("error: `vars` explains one host: give --host NAME");
        return ExitCode::FAILURE;
    }
    let (host, facts) = match ops::targets(&inputs.config_dir, &request) {
        Ok(Some(mut targets)) if !targets.is_empty() => {
            let target = targets.remove(0);
            (Some(target.name), target.facts)
        }
        Ok(_) => (None, ops::gather_facts()),
        Err(why) => {
            errln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let origins = ops::var_origins(&inputs, &facts, host.as_deref(), &args.name);
    if !origins.diagnostics.is_empty() {
        err!(
            "{}",
            render_human(&origins.diagnostics, &origins.sources, globals.color)
        );
    }
    if origins.definitions.is_empty() {
        let hint = origins
            .suggestion
            .map_or(String::new(), |s| format!(" ({s})"));
        errln!(
            "error: no layer sets var `{}` for host {}{hint}",
            origins.name,
            origins.host
        );
        return ExitCode::FAILURE;
    }
    outln!("var `{}` on host {}:", origins.name, origins.host);
    let rows: Vec<[String; 4]> = origins
        .definitions
        .iter()
        .map(|d| {
            [
                format!("{} ({})", d.layer, d.owner),
                d.location.clone(),
                d.value.clone(),
                d.status.clone(),
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for [layer, location, value, status] in rows {
        outln!("  {layer:w0$}  {location:w1$}  {value:w2$}  {status}");
    }
    if origins.diagnostics.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
