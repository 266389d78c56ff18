use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{errln, outln};
use super::{Globals, print_config_errors};
use crate::ops::{
    self, Collected, ExecuteRequest, Executed, MAX_JOBS, Refusal, RunOptions, Status,
};
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
    pub fn options(&self) -> RunOptions {
        RunOptions {
            jobs: self.jobs,
            lock_timeout: self.lock_timeout,
            state_dir: self.state_dir.clone(),
        }
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
    let options = args.run.options();
    let request = ExecuteRequest {
        plan_file: &args.plan,
        config_dir: globals.explicit_config.as_deref(),
        env_file: &globals.env_file,
        run: &options,
    };
    match ops::execute(&request) {
        Ok(executed) => print_run(globals, args.run.detailed_exitcode, &executed),
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
            print_report_failures(report_failures);
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

fn print_report_failures(failures: &[String]) {
    for failure in failures {
        errln!("warning: the run report was not saved: {}", escape(failure));
    }
}

/// A run's node lines and recap; its exit code (`--detailed-exitcode`: 2 when something
/// changed). Shared by `execute` and `apply`.
pub fn print_run(globals: &Globals, detailed_exitcode: bool, executed: &Executed) -> ExitCode {
    let report = &executed.report;
    for node in &report.nodes {
        let line = match (&node.outcome.status, &node.outcome.facts) {
            (Status::Unchanged, Some(collected)) => {
                collected_lines(&node.outcome.address, collected)
            }
            (status, _) => status_line(globals, &node.outcome.address, status),
        };
        if !line.is_empty() {
            outln!("{line}");
        }
    }
    print_report_failures(&executed.report_failures);
    let r = &report.recap;
    let collected = match r.collected {
        0 => String::new(),
        n => format!(", {n} collected"),
    };
    outln!(
        "Recap: {} changed, {} unchanged{collected}, {} failed, {} skipped.",
        r.changed,
        r.unchanged,
        r.failed,
        r.skipped
    );
    if report.interrupted {
        errln!("interrupted: the nodes not started were skipped");
    }
    match (r.failed, detailed_exitcode, r.changed) {
        (1.., _, _) => ExitCode::FAILURE,
        _ if report.interrupted => ExitCode::FAILURE,
        (0, true, 1..) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

/// A node's recap line; empty for unchanged nodes under `--quiet`.
fn status_line(globals: &Globals, address: &str, status: &Status) -> String {
    let address = escape(address);
    match status {
        Status::Changed => format!("changed    {address}"),
        Status::Unchanged if globals.quiet => String::new(),
        Status::Unchanged => format!("unchanged  {address}"),
        Status::Failed(why) => format!("failed     {address}: {}", escape(why)),
        Status::Skipped(why) => format!("skipped    {address}: {}", escape(why)),
    }
}

/// A collector's line and one line per threshold event (always shown: an event is news).
fn collected_lines(address: &str, collected: &Collected) -> String {
    let mut text = format!(
        "collected  {}: {} samples",
        escape(address),
        collected.samples
    );
    for event in &collected.events {
        text.push_str(&format!(
            "\n  {}: {}{{{}}} = {}",
            event.to.as_str(),
            escape(&event.value_name),
            escape(&event.labels_text()),
            event.value
        ));
    }
    text
}
