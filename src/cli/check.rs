use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::Globals;
use super::output::{err, errln, outln};
use crate::diagnostics::{render_human, render_json};
use crate::model::meta::SkipReason;
use crate::ops::{self, Compiled};

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

    #[command(flatten)]
    hosts: HostArgs,
}

/// Which host of the inventory to compile for, and its recorded facts.
#[derive(clap::Args)]
pub struct HostArgs {
    /// Compile the config as host NAME of the inventory sees it, from its recorded facts
    #[arg(long, value_name = "NAME", conflicts_with = "all_hosts")]
    host: Option<String>,

    /// Compile for every host with recorded facts in --facts-dir (and every host the
    /// inventory names)
    #[arg(long, requires = "facts_dir")]
    all_hosts: bool,

    /// The host's facts, as `driftless facts --format json` printed them on it
    #[arg(
        long,
        value_name = "FILE",
        requires = "host",
        conflicts_with = "facts_dir"
    )]
    facts: Option<PathBuf>,

    /// A directory of recorded facts, one DIR/<host>.json per host
    #[arg(long, value_name = "DIR")]
    facts_dir: Option<PathBuf>,
}

impl HostArgs {
    pub fn request(&self) -> ops::HostsRequest {
        ops::HostsRequest {
            host: self.host.clone(),
            all: self.all_hosts,
            facts: self.facts.clone(),
            facts_dir: self.facts_dir.clone(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// rustc-style snippets on stderr
    Human,
    /// One JSON document on stdout, for editors and CI annotations
    Json,
}

pub fn run(globals: &Globals, args: &CheckArgs) -> ExitCode {
    let inputs = args.selection.inputs(globals);
    let targets = match ops::targets(&inputs.config_dir, &args.hosts.request()) {
        Ok(targets) => targets,
        Err(why) => {
            errln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let Some(targets) = targets else {
        let compiled = ops::compile(&inputs, &ops::gather_facts());
        return report(globals, args, vec![(None, compiled)]);
    };
    let compiled = ops::compile_hosts(&inputs, &targets)
        .into_iter()
        .map(|(host, compiled)| (Some(host), compiled))
        .collect();
    report(globals, args, compiled)
}

/// Prints each host's findings (one JSON document for all in `--format json`) and says
/// whether any failed.
fn report(
    globals: &Globals,
    args: &CheckArgs,
    results: Vec<(Option<String>, Compiled)>,
) -> ExitCode {
    let mut any_failed = false;
    let mut documents = serde_json::Map::new();
    for (host, mut compiled) in results {
        let failed = compiled.diagnostics.has_errors()
            || (args.deny_warnings && compiled.diagnostics.warning_count() > 0);
        any_failed |= failed;
        if globals.quiet {
            compiled.diagnostics.retain_errors();
        }
        let diagnostics = &compiled.diagnostics;
        match args.format {
            Format::Json => match &host {
                None => outln!("{}", render_json(diagnostics, &compiled.sources)),
                Some(host) => {
                    let document = render_json(diagnostics, &compiled.sources);
                    let value = serde_json::from_str(&document).unwrap_or(serde_json::Value::Null);
                    documents.insert(host.clone(), value);
                }
            },
            Format::Human => {
                let prefix = host.as_ref().map_or(String::new(), |h| format!("{h}: "));
                if let Some(host) = &host
                    && !diagnostics.is_empty()
                {
                    errln!("host {host}:");
                }
                err!(
                    "{}",
                    render_human(diagnostics, &compiled.sources, globals.color)
                );
                if !failed && !globals.quiet {
                    errln!("{prefix}ok: {}", summary(&compiled));
                }
            }
        }
    }
    if !documents.is_empty() {
        outln!("{}", serde_json::Value::Object(documents));
    }
    if any_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn summary(compiled: &Compiled) -> String {
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
    format!(
        "{}, {}, {} in {}{held}{skipped}",
        count(config.apply.len(), "apply task"),
        count(config.facts.len(), "facts collector"),
        count(config.logs.len(), "log pipeline"),
        count(compiled.files.len(), "file"),
    )
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
