//! `command`: runs a program (no shell) and reads one number, or a JSON object of numbers,
//! from its standard output.
//!
//! `driftless_command_value{collector,key}` (gauge; `key` is empty for the `number` format,
//! the JSON path — nested keys joined with `.` — for `json`), `driftless_command_success`,
//! `driftless_command_exit_code`, `driftless_command_duration_seconds`, all labelled with the
//! task id as `collector`. The program runs under a [`supervisor`]: when it exits, at its
//! timeout (default 10s) and when its output passes [`MAX_OUTPUT`], every process it started is
//! killed with SIGKILL — those that left its process group or session included — and a timeout
//! or too much output fails the collection. A program ended by signal N reports exit code
//! 128 + N.
//!
//! Threshold values: `value` for the number format, each key for JSON.

use std::io::Read;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{CollectError, Collector, Output};
use crate::metrics::family::{Family, labels};
use crate::model::facts::{CommandCollector as CommandConfig, CommandFormat};
use crate::process::supervisor;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// More output than this is an error: a metric command prints a few bytes.
pub const MAX_OUTPUT: u64 = 1 << 20;

pub struct CommandCollector {
    id: String,
    argv: Vec<String>,
    format: CommandFormat,
    timeout: Duration,
}

impl CommandCollector {
    pub fn new(id: &str, config: &CommandConfig) -> Result<Self, String> {
        if config.command.is_empty() || config.command[0].is_empty() {
            return Err(
                "`command` needs the program to run, e.g. [\"/usr/bin/foo\", \"--stats\"]".into(),
            );
        }
        Ok(CommandCollector {
            id: id.to_owned(),
            argv: config.command.clone(),
            format: config.format,
            timeout: config
                .timeout
                .as_ref()
                .map_or(DEFAULT_TIMEOUT, |t| t.value.0),
        })
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum RunResult {
    Exited { code: i32, stdout: Vec<u8> },
    TimedOut,
    Failed(String),
}

/// Runs `argv` under a [`supervisor`] with a timeout. Every process the program starts —
/// in its process group or not, `setsid` or not — is killed when the program exits, at the
/// timeout, or when its output passes [`MAX_OUTPUT`].
pub fn run_with_timeout(argv: &[String], timeout: Duration) -> RunResult {
    let Some(program) = argv.first() else {
        return RunResult::Failed("empty command".into());
    };
    let mut supervisor = match supervisor::command(argv, &supervisor::Options::default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return RunResult::Failed(format!(
                "cannot start the supervisor of {program} (driftless itself, /proc/self/exe): {e}"
            ));
        }
    };
    let (Some(stdout), Some(stderr)) = (supervisor.stdout.take(), supervisor.stderr.take()) else {
        stop(&mut supervisor);
        return RunResult::Failed("no output pipes".into());
    };
    // The output ends when the last process holding the pipe is gone; the supervisor makes
    // sure that is the program's end.
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("command-output".into())
        .spawn(move || {
            let mut output = Vec::new();
            let read = stdout.take(MAX_OUTPUT + 1).read_to_end(&mut output);
            let _ = tx.send(read.map(|_| output));
        });
    if let Err(e) = reader {
        stop(&mut supervisor);
        return RunResult::Failed(format!("cannot start a reader thread: {e}"));
    }
    let deadline = Instant::now() + timeout;
    let output = match rx.recv_timeout(timeout) {
        Ok(Ok(output)) if output.len() as u64 > MAX_OUTPUT => {
            stop(&mut supervisor);
            return RunResult::Failed(format!(
                "{program} wrote more than {} MiB, the limit of a command collector's output",
                MAX_OUTPUT >> 20
            ));
        }
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            stop(&mut supervisor);
            return RunResult::Failed(format!("reading the output failed: {e}"));
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            stop(&mut supervisor);
            return RunResult::TimedOut;
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            stop(&mut supervisor);
            return RunResult::Failed("the output reader stopped".into());
        }
    };
    // The supervisor needs a moment to kill what the program left running.
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let Some(status) = wait_briefly(&mut supervisor, left) else {
        stop(&mut supervisor);
        return RunResult::TimedOut;
    };
    let mut why = String::new();
    let _ = stderr.take(4096).read_to_string(&mut why);
    if status.code() == Some(i32::from(supervisor::CANNOT_START)) && !why.trim().is_empty() {
        return RunResult::Failed(why.trim().to_owned());
    }
    RunResult::Exited {
        code: status.code().unwrap_or(-1),
        stdout: output,
    }
}

/// Asks the supervisor to kill the program's processes and exit; kills it if it does not.
fn stop(supervisor: &mut Child) {
    // SAFETY: kill(2) on our own child, not yet reaped (its pid cannot have been reused).
    unsafe { libc::kill(supervisor.id() as libc::pid_t, libc::SIGTERM) };
    if wait_briefly(
        supervisor,
        supervisor::KILL_PATIENCE + Duration::from_secs(1),
    )
    .is_none()
    {
        let _ = supervisor.kill();
        let _ = supervisor.wait();
    }
}

/// Waits up to `patience` for the child to exit.
fn wait_briefly(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    let give_up = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < give_up => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            _ => return None,
        }
    }
}

/// Flattens a JSON value into (key path, number) pairs; booleans count as 0/1, other values
/// are skipped.
pub fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        serde_json::Value::Number(n) => {
            if let Some(v) = n.as_f64() {
                out.push((prefix.to_owned(), v));
            }
        }
        serde_json::Value::Bool(b) => out.push((prefix.to_owned(), f64::from(u8::from(*b)))),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_json(&key(k), v, out);
            }
        }
        _ => {}
    }
}

/// Reads the command's output in the given format.
pub fn parse_output(format: CommandFormat, stdout: &str) -> Result<Vec<(String, f64)>, String> {
    match format {
        CommandFormat::Number => {
            let text = stdout.trim();
            let value = text
                .parse::<f64>()
                .map_err(|_| format!("expected a number on stdout, found {:?}", truncate(text)))?;
            Ok(vec![(String::new(), value)])
        }
        CommandFormat::Json => {
            let value: serde_json::Value = serde_json::from_str(stdout)
                .map_err(|e| format!("expected a JSON object on stdout: {e}"))?;
            if !value.is_object() {
                return Err("expected a JSON object of name → number on stdout".into());
            }
            let mut pairs = Vec::new();
            flatten_json("", &value, &mut pairs);
            Ok(pairs)
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Collector for CommandCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let started = Instant::now();
        let result = run_with_timeout(&self.argv, self.timeout);
        let elapsed = started.elapsed().as_secs_f64();
        let id = self.id.as_str();
        let mut value = Family::gauge(
            "driftless_command_value",
            "Values read from the output of a command collector.",
        );
        let outcome: Result<(), String> = match result {
            RunResult::Exited { code, stdout } => {
                out.family(
                    Family::gauge(
                        "driftless_command_exit_code",
                        "Exit code of the last run of a command collector.",
                    )
                    .with_labels(labels([("collector", id)]))
                    .scaled(f64::from(code)),
                );
                if code != 0 {
                    Err(format!("{} exited with code {code}", self.argv[0]))
                } else {
                    match parse_output(self.format, &String::from_utf8_lossy(&stdout)) {
                        Ok(pairs) => {
                            for (key, v) in pairs {
                                value.push(labels([("collector", id), ("key", &key)]), v);
                                let name = if key.is_empty() {
                                    "value".to_owned()
                                } else {
                                    key
                                };
                                out.values.push(super::WatchedValue {
                                    name: name.into(),
                                    labels: labels([("collector", id)]),
                                    value: v,
                                });
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
            }
            RunResult::TimedOut => Err(format!(
                "{} timed out after {:?} and was killed",
                self.argv[0], self.timeout
            )),
            RunResult::Failed(e) => Err(e),
        };
        out.family(value);
        out.family(
            Family::gauge(
                "driftless_command_success",
                "Whether the last run of a command collector succeeded.",
            )
            .with_labels(labels([("collector", id)]))
            .scaled(if outcome.is_ok() { 1.0 } else { 0.0 }),
        );
        out.family(
            Family::gauge(
                "driftless_command_duration_seconds",
                "Duration of the last run of a command collector.",
            )
            .with_labels(labels([("collector", id)]))
            .scaled(elapsed),
        );
        outcome.map_err(CollectError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse() {
        assert_eq!(
            parse_output(CommandFormat::Number, " 42.5\n"),
            Ok(vec![(String::new(), 42.5)])
        );
        assert!(parse_output(CommandFormat::Number, "nope").is_err());
        let pairs = parse_output(
            CommandFormat::Json,
            r#"{"a": 1, "b": {"c": 2.5, "d": true}, "e": "x"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            pairs,
            vec![
                ("a".to_owned(), 1.0),
                ("b.c".to_owned(), 2.5),
                ("b.d".to_owned(), 1.0)
            ]
        );
        assert!(parse_output(CommandFormat::Json, "[1]").is_err());
    }
}
