//! What `execute` and `apply` print while they run: a line per node as it ends — `changed
//! apply.x`, or one JSON object with `--format json` — streamed from the workers, a progress
//! line on a terminal once the run has taken more than a second, then the recap.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::output::{err, errln, outln};
use crate::ops::{Collected, Executed, NodeOutcome, Status};
use crate::printable::escape;

/// How a run's results are printed.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunFormat {
    /// A line per node as it ends, then the recap
    Human,
    /// One JSON object per node as it ends (NDJSON), then one with the recap
    Json,
}

/// A progress line shows once a run has taken this long.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Prints the nodes of one run as they end; shared by the workers.
pub struct RunPrinter {
    format: RunFormat,
    quiet: bool,
    /// The number of `-v`: a `debug` message with a higher `verbosity` is not printed.
    verbose: u8,
    started: Instant,
    done: AtomicUsize,
    /// On a terminal (stderr), human format: where the progress line goes. Held while a line
    /// is printed, so a result line and the progress line never interleave.
    progress: Option<Mutex<bool>>,
}

impl RunPrinter {
    pub fn new(format: RunFormat, quiet: bool, verbose: u8) -> Self {
        let progress = (format == RunFormat::Human && !quiet && std::io::stderr().is_terminal())
            .then(|| Mutex::new(false));
        RunPrinter {
            format,
            quiet,
            verbose,
            started: Instant::now(),
            done: AtomicUsize::new(0),
            progress,
        }
    }

    /// One node ended: its line now, and the progress line when the run is a long one.
    pub fn node(&self, outcome: &NodeOutcome) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let line = match self.format {
            RunFormat::Json => serde_json::to_string(outcome).unwrap_or_default(),
            RunFormat::Human => human_line(self.quiet, self.verbose, outcome),
        };
        let Some(progress) = &self.progress else {
            if !line.is_empty() {
                outln!("{line}");
            }
            return;
        };
        let mut shown = progress.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            err!("\r\x1b[K");
        }
        if !line.is_empty() {
            outln!("{line}");
        }
        *shown = self.started.elapsed() >= PROGRESS_AFTER;
        if *shown {
            err!(
                "{done} done, {:.0} s · {}",
                self.started.elapsed().as_secs_f64(),
                escape(&outcome.address)
            );
        }
    }

    /// The run is over: the progress line goes, the recap comes; the exit code
    /// (`--detailed-exitcode`: 2 when something changed).
    pub fn finish(&self, detailed_exitcode: bool, executed: &Executed) -> ExitCode {
        if let Some(progress) = &self.progress
            && *progress.lock().unwrap_or_else(|e| e.into_inner())
        {
            err!("\r\x1b[K");
        }
        for failure in &executed.report_failures {
            errln!("warning: the run report was not saved: {}", escape(failure));
        }
        let report = &executed.report;
        let r = &report.recap;
        match self.format {
            RunFormat::Json => outln!(
                "{}",
                serde_json::json!({
                    "run_id": report.run_id,
                    "recap": r,
                    "interrupted": report.interrupted,
                    "report_failures": executed.report_failures,
                })
            ),
            RunFormat::Human => {
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
            }
        }
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
}

/// A node's line; empty for an unchanged node under `--quiet`. A message (a `debug`'s) is
/// printed whatever `--quiet` says, from its `verbosity` on.
fn human_line(quiet: bool, verbose: u8, outcome: &NodeOutcome) -> String {
    let address = match &outcome.name {
        Some(name) => format!("{} ({})", escape(&outcome.address), escape(name)),
        None => escape(&outcome.address).into_owned(),
    };
    if let Some(message) = outcome.message.as_ref().filter(|m| m.verbosity <= verbose) {
        return format!("message    {address}: {}", escape(&message.text));
    }
    match (&outcome.status, &outcome.facts) {
        (Status::Unchanged, Some(collected)) => collected_lines(&outcome.address, collected),
        (Status::Changed, _) => format!("changed    {address}"),
        (Status::Unchanged, _) if quiet => String::new(),
        (Status::Unchanged, _) => format!("unchanged  {address}"),
        (Status::Failed(why), _) => format!("failed     {address}: {}", escape(why)),
        (Status::Skipped(why), _) => format!("skipped    {address}: {}", escape(why)),
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
