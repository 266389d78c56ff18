//! The control family: `debug`, `fail` and `pause` — tasks that change nothing on the host but
//! act when their node runs. Every node is `no-op` (a second apply has nothing to change, and
//! the plan's summary counts no change), which `execute` still runs ([`Family::runs_no_op`]):
//! a `debug` reports its message, a `fail` fails its node, a `pause` waits. Nothing is observed,
//! so nothing can be stale. A `plan` or a dry run never runs a node: no message is printed
//! there but the plan's, no wait is made.
//!
//! What a node does is its `after` ([`ControlRun`]); a message read from a secret is
//! `(sensitive)` there and in every output, with the mask saying so.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::contract::{
    Description, Detail, Family, Message, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded,
};
use super::{Action, ApplySpec, SENSITIVE};
use crate::error::ResourceError;
use crate::model::ApplyTask;

/// The longest wait a `pause` may make: a run holds the host's lock while it waits, and an
/// agent's next run waits behind it.
pub const MAX_PAUSE: Duration = Duration::from_secs(15 * 60);

/// How often a waiting `pause` looks whether SIGTERM or SIGINT asked the run to stop.
const STOP_POLL: Duration = Duration::from_millis(20);

/// What a control node does when it runs, as plan.json records it (`after`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "does", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlRun {
    /// Report the message (printed from `verbosity` `-v` on).
    Debug { msg: String, verbosity: u8 },
    /// Fail the node with the message.
    Fail { msg: String },
    /// Wait this long.
    Pause { milliseconds: u64 },
}

impl ControlRun {
    fn decode(recorded: &Recorded) -> Result<ControlRun, String> {
        recorded.decode("after", "a control task's")
    }

    /// The message, for the types that have one.
    fn message(&self) -> Option<&str> {
        match self {
            ControlRun::Debug { msg, .. } | ControlRun::Fail { msg } => Some(msg),
            ControlRun::Pause { .. } => None,
        }
    }

    /// The mask of the run as shown: `msg` is `(sensitive)` exactly when it was read from a
    /// secret.
    fn mask(&self) -> Value {
        match self.message() {
            Some(SENSITIVE) => json!({ "msg": true }),
            _ => Value::Bool(false),
        }
    }
}

/// A message as plan.json records it: `(sensitive)` when it was read from a secret.
pub fn shown_message(text: &str, sensitive: bool) -> String {
    if sensitive {
        SENSITIVE.to_owned()
    } else {
        text.to_owned()
    }
}

/// What a control task does, from its task.
fn run_of(task: &ApplyTask) -> Result<ControlRun, String> {
    match &task.spec {
        ApplySpec::Debug(debug) => Ok(debug.run()),
        ApplySpec::Fail(fail) => Ok(fail.run()),
        ApplySpec::Pause(pause) => pause.run(),
        other => Err(format!(
            "`{}` is not a type of the control family",
            other.type_name()
        )),
    }
}

pub struct Controls;

pub static CONTROLS: Controls = Controls;

impl Family for Controls {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        tasks
            .iter()
            .map(|&i| {
                let states = run_of(&all[i]).map(|run| NodeStates {
                    action: Action::NoOp,
                    before: Recorded::Json(Value::Null),
                    after_sensitive: run.mask(),
                    after: Recorded::Json(json!(run)),
                    before_sensitive: Value::Bool(false),
                    fingerprint: String::new(),
                    route: String::new(),
                    diff: None,
                    chained: false,
                });
                (i, states)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let run = ControlRun::decode(node.after)?;
        if node.action != Action::NoOp {
            return Err("a control task's action is `no-op`: it changes nothing".to_owned());
        }
        if *node.after_sensitive != run.mask()
            || *node.before_sensitive != Value::Bool(false)
            || *node.before != Recorded::Json(Value::Null)
            || !node.fingerprint.is_empty()
            || node.diff.is_some()
        {
            return Err("its `before`, fingerprint or masks are not a control task's".to_owned());
        }
        if let ControlRun::Pause { milliseconds } = run
            && Duration::from_millis(milliseconds) > MAX_PAUSE
        {
            return Err(format!(
                "it waits longer than the most a pause may, {} s",
                MAX_PAUSE.as_secs()
            ));
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let run = match ControlRun::decode(node.after) {
            Ok(run) => run,
            Err(why) => return Description::unreadable(why),
        };
        let escape = |text: &str| crate::printable::escape(text).into_owned();
        let (what, details) = match &run {
            ControlRun::Debug { msg, verbosity } => (
                format!("debug: {}", escape(msg)),
                match verbosity {
                    0 => Vec::new(),
                    n => vec![Detail::plain(format!(
                        "the run output prints it with -{} or more",
                        "v".repeat(usize::from(*n))
                    ))],
                },
            ),
            ControlRun::Fail { msg } => (
                format!("fail: {}", escape(msg)),
                vec![Detail::plain(
                    "the node fails when it runs (its `when` decides whether it runs)".to_owned(),
                )],
            ),
            ControlRun::Pause { milliseconds } => (
                format!("pause {}", seconds(*milliseconds)),
                vec![Detail::plain(
                    "waits when the plan is executed (never in a dry run); SIGTERM or SIGINT ends the wait".to_owned(),
                )],
            ),
        };
        Description {
            what,
            details,
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, node: &NodeView<'_>) -> bool {
        ControlRun::decode(node.after).is_ok_and(|run| run.message().is_some())
    }

    fn shows_no_op(&self) -> bool {
        true
    }

    fn runs_no_op(&self) -> bool {
        true
    }

    fn stale(&self, _: &NodeView<'_>) -> Option<String> {
        None
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        let run = ControlRun::decode(node.after).map_err(ResourceError::permanent)?;
        match run {
            ControlRun::Debug { msg, verbosity } => Ok(Ran {
                message: Some(Message {
                    text: msg,
                    verbosity,
                }),
                ..Ran::UNCHANGED
            }),
            ControlRun::Fail { msg } => Err(ResourceError::permanent(msg)),
            ControlRun::Pause { milliseconds } => {
                pause(Duration::from_millis(milliseconds).min(MAX_PAUSE))?;
                Ok(Ran::UNCHANGED)
            }
        }
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}

/// Waits `wait`, or until SIGTERM or SIGINT asks the run to stop (then the node fails: what
/// comes after a pause expects the wait to have been made).
fn pause(wait: Duration) -> Result<(), ResourceError> {
    let started = Instant::now();
    loop {
        let waited = started.elapsed();
        if waited >= wait {
            return Ok(());
        }
        if crate::signals::stop_requested() {
            return Err(ResourceError::permanent(format!(
                "interrupted (SIGTERM or SIGINT) after {} of {}",
                seconds(waited.as_millis() as u64),
                seconds(wait.as_millis() as u64)
            )));
        }
        std::thread::sleep(STOP_POLL.min(wait - waited));
    }
}

/// `1.5 s`, `90 s`.
fn seconds(milliseconds: u64) -> String {
    let text = format!("{:.3}", milliseconds as f64 / 1000.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_short() {
        assert_eq!(seconds(1500), "1.5 s");
        assert_eq!(seconds(90_000), "90 s");
        assert_eq!(seconds(250), "0.25 s");
    }

    #[test]
    fn a_secret_message_is_masked() {
        let run = ControlRun::Debug {
            msg: shown_message("hunter2", true),
            verbosity: 0,
        };
        assert_eq!(run.mask(), json!({ "msg": true }));
        assert!(!json!(run).to_string().contains("hunter2"));
    }
}
