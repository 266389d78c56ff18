//! `command`: runs a program (no shell) and reads one number, or a JSON object of numbers,
//! from its standard output.
//!
//! `driftless_command_value{collector,key}` (gauge; `key` is empty for the `number` format,
//! the JSON path — nested keys joined with `.` — for `json`), `driftless_command_success`,
//! `driftless_command_exit_code`, `driftless_command_duration_seconds`, all labelled with the
//! task id as `collector`. The program runs in its own process group; at its timeout (default
//! 10s) the whole group is killed with SIGKILL and the collection fails.
//!
//! Threshold values: `value` for the number format, each key for JSON.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{CollectError, Collector, Output};
use crate::facts::metrics::{Family, labels};
use crate::model::facts::{CommandCollector as CommandConfig, CommandFormat};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// More output than this is an error: a metric command prints a few bytes.
const MAX_OUTPUT: u64 = 1 << 20;

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

/// Runs `argv` with a timeout, killing its whole process group when the time is up.
pub fn run_with_timeout(argv: &[String], timeout: Duration) -> RunResult {
    let Some((program, args)) = argv.split_first() else {
        return RunResult::Failed("empty command".into());
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return RunResult::Failed(format!("cannot run {program}: {e}")),
    };
    let pid = child.id() as libc::pid_t;
    let Some(stdout) = child.stdout.take() else {
        return RunResult::Failed("no stdout pipe".into());
    };
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::Builder::new()
        .name("command".into())
        .spawn(move || {
            let mut output = Vec::new();
            let read = stdout.take(MAX_OUTPUT + 1).read_to_end(&mut output);
            let status = child.wait();
            let _ = tx.send((read, status, output));
        });
    if let Err(e) = waiter {
        // SAFETY: kill(2) on the child's own process group, which we created.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        return RunResult::Failed(format!("cannot start a waiter thread: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok((read, status, output)) => {
            if let Err(e) = read {
                return RunResult::Failed(format!("reading the output failed: {e}"));
            }
            if output.len() as u64 > MAX_OUTPUT {
                return RunResult::Failed(format!("output is larger than {MAX_OUTPUT} bytes"));
            }
            match status {
                Ok(status) => RunResult::Exited {
                    code: status.code().unwrap_or(-1),
                    stdout: output,
                },
                Err(e) => RunResult::Failed(format!("waiting for the command failed: {e}")),
            }
        }
        Err(_) => {
            // SAFETY: kill(2) on the child's own process group (pgid = child pid).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // Reap it so no zombie stays; give up after a second if a grandchild that left
            // the group still holds the pipe open.
            let _ = rx.recv_timeout(Duration::from_secs(1));
            RunResult::TimedOut
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

    #[test]
    fn a_hanging_command_is_killed_at_its_timeout() {
        let started = Instant::now();
        let argv = vec!["sleep".to_owned(), "30".to_owned()];
        let result = run_with_timeout(&argv, Duration::from_millis(300));
        assert!(matches!(result, RunResult::TimedOut), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
