//! `pause` (Ansible's): a wait of `seconds` or `minutes` when the plan is executed — never
//! when planning or in a dry run — bounded by [`MAX_PAUSE`]; SIGTERM or SIGINT ends it (the
//! node fails, and the run stops as it does on a signal). Runs are not interactive, so
//! `prompt` is refused when the config is checked. Its node is `no-op`: it changes nothing on
//! the host ([`super::control`]).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Family, Requirement, Resource};
use super::control::{CONTROLS, ControlRun, MAX_PAUSE};
use crate::diagnostics::{Diagnostic, Span};
use crate::model::{RenderedContent, Spanned};

/// A wait.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseTask {
    /// How long to wait, in seconds (fractions allowed: `0.5`).
    pub seconds: Option<Spanned<f64>>,
    /// How long to wait, in minutes. One of `seconds` and `minutes`; in all at most 15
    /// minutes.
    pub minutes: Option<Spanned<f64>>,
    /// Ansible's question to the operator: refused, runs are not interactive.
    pub prompt: Option<Spanned<String>>,
    /// Ansible's echo of the operator's answer: refused with `prompt`.
    pub echo: Option<Spanned<bool>>,
}

/// A wait that cannot be made: why, and what to write instead.
struct WrongWait {
    why: String,
    help: &'static str,
}

impl PauseTask {
    /// The wait, with the field it is written in; `None` when neither field is set.
    fn wait(&self) -> Option<(Result<Duration, WrongWait>, Span)> {
        let (amount, unit) = match (&self.seconds, &self.minutes) {
            (Some(seconds), _) => (seconds, 1.0),
            (None, Some(minutes)) => (minutes, 60.0),
            (None, None) => return None,
        };
        let seconds = amount.value * unit;
        let wait = match Duration::try_from_secs_f64(seconds) {
            Err(_) => Err(WrongWait {
                why: format!("a wait is a number of seconds of 0 or more, found {seconds}"),
                help: "write how long to wait, e.g. `seconds: 10` or `seconds: 0.5`",
            }),
            Ok(wait) if wait > MAX_PAUSE => Err(WrongWait {
                why: format!(
                    "a pause waits at most {} minutes ({} s), found {seconds} s",
                    MAX_PAUSE.as_secs() / 60,
                    MAX_PAUSE.as_secs()
                ),
                help: "a longer wait holds the host's run lock, and an agent's next run waits behind it; split the work into two runs",
            }),
            Ok(wait) => Ok(wait),
        };
        Some((wait, amount.span))
    }

    /// What its node does.
    pub fn run(&self) -> Result<ControlRun, String> {
        match self.wait() {
            Some((Ok(wait), _)) => Ok(ControlRun::Pause {
                milliseconds: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            }),
            Some((Err(wrong), _)) => Err(wrong.why),
            None => Err("a pause needs `seconds` or `minutes`".to_owned()),
        }
    }
}

impl Resource for PauseTask {
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        match self.run() {
            Ok(ControlRun::Pause { milliseconds }) => format!("pause:{milliseconds}ms"),
            _ => "pause".to_owned(),
        }
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(prompt) = &self.prompt {
            found.push(
                Diagnostic::error("`prompt` asks the operator a question, and driftless runs are not interactive")
                    .at(prompt.span)
                    .help("remove `prompt` (and `echo`); to wait, write `seconds:` or `minutes:`; to stop for review, `driftless plan` then `execute` the reviewed plan"),
            );
        }
        if let (Some(echo), None) = (&self.echo, &self.prompt) {
            found.push(
                Diagnostic::error("`echo` has no meaning without `prompt`, which runs do not have")
                    .at(echo.span)
                    .help("remove `echo`"),
            );
        }
        if let (Some(_), Some(minutes)) = (&self.seconds, &self.minutes) {
            found.push(
                Diagnostic::error("`seconds` and `minutes` cannot both be set")
                    .at(minutes.span)
                    .help("keep only one of them: remove `seconds` or `minutes`"),
            );
        }
        match self.wait() {
            Some((Err(wrong), span)) => {
                found.push(Diagnostic::error(wrong.why).at(span).help(wrong.help))
            }
            Some((Ok(_), _)) => {}
            None if self.prompt.is_none() => found.push(
                Diagnostic::error("a pause needs `seconds` or `minutes`")
                    .at(cx.task)
                    .help("write `seconds: 10` or `minutes: 1`; a pause without them would wait for an operator's answer, and runs are not interactive"),
            ),
            None => {}
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &CONTROLS
    }
}
