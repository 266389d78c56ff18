use std::process::ExitCode;

use clap::ValueEnum;

use super::Globals;
use super::output::{err, errln, outln};
use crate::diagnostics::{render_human, render_json};
use crate::model::meta::SkipReason;
use crate::ops;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Fail on warnings too
    #[arg(long)]
    deny_warnings: bool,

    #[command(flatten)]
    selection: super::selection::SelectionArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// rustc-style snippets on stderr
    Human,
    /// One JSON document on stdout, for editors and CI annotations
    Json,
}

pub fn run(globals: &Globals, args: &CheckArgs) -> ExitCode {
    let mut compiled = ops::compile(&args.selection.inputs(globals), &ops::gather_facts());
    let failed = compiled.diagnostics.has_errors()
        || (args.deny_warnings && compiled.diagnostics.warning_count() > 0);
    if globals.quiet {
        compiled.diagnostics.retain_errors();
    }
    let diagnostics = &compiled.diagnostics;
    match args.format {
        Format::Json => outln!("{}", render_json(diagnostics, &compiled.sources)),
        Format::Human => {
            err!(
                "{}",
                render_human(diagnostics, &compiled.sources, globals.color)
            );
            if !failed && !globals.quiet {
                let config = &compiled.config;
                let held = match config.assertions_held {
                    0 => String::new(),
                    n => format!(", {} held", count(n, "assertion")),
                };
                let by_when = (config.skipped.iter())
                    .filter(|s| s.reason == SkipReason::When)
                    .count();
                let by_tags = config.skipped.len() - by_when;
                let mut skipped = String::new();
                if by_when > 0 {
                    skipped.push_str(&format!(", {by_when} skipped by `when`"));
                }
                if by_tags > 0 {
                    skipped.push_str(&format!(", {by_tags} not selected by tags"));
                }
                errln!(
                    "ok: {}, {}, {} in {}{held}{skipped}",
                    count(config.apply.len(), "apply task"),
                    count(config.facts.len(), "facts collector"),
                    count(config.logs.len(), "log pipeline"),
                    count(compiled.files.len(), "file"),
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
