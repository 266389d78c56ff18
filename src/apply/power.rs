//! The power family: `reboot` and `shutdown`. A node's `after` is the [`PowerOff`] it asks for
//! (the command, exactly as run); its `before` says what makes it run ([`Trigger`]): being
//! notified (a handler: `run` in the plan, skipped when nobody notifies it), or the file
//! `/run/reboot-required` (a `reboot` under `apply:`: `run` when it exists, `no-op` when not;
//! the file is its precondition, so a plan made before it appeared is stale).
//!
//! Nothing is run when planning or in a dry run. A power node ends the run: the lowering makes
//! it wait for every other node ([`super::Reason::EndOfRun`]), so it starts when all of them
//! are done and is skipped when one failed. Its command asks systemd to reboot or power off
//! (`systemctl reboot`, or `shutdown -r +N` with a delay) and returns at once; the run then
//! ends and writes its report, which records that the host is going down
//! ([`Family::host_going_down`]), so that what runs driftless next (the agent, after the
//! boot) knows the last run ended with a reboot. One run asks at most once: a second power
//! node after the first changed something does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
};
use crate::error::ResourceError;
use crate::model::{ApplySpec, ApplyTask};
use crate::printable::escape;
use crate::process::{self, Invocation};

/// Debian's flag for "a package installed needs a reboot".
pub const REBOOT_REQUIRED: &str = "/run/reboot-required";
/// How long the command that asks for the reboot may take (it only schedules it).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Set by the first power node of a run that asked for the host to go down.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// What a power node asks for, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerOff {
    /// `reboot` or `poweroff`.
    pub action: String,
    /// The command run, exactly.
    pub argv: Vec<String>,
}

/// What makes a power node run, as plan.json records it in `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Trigger {
    /// A handler: it runs when a task notifying it changed something.
    Notified,
    /// `/run/reboot-required`, and whether it existed when planning.
    RebootRequired { exists: bool },
}

/// A message `shutdown` would read as an option.
pub fn check_msg(
    msg: Option<&crate::model::Spanned<String>>,
    found: &mut Vec<crate::diagnostics::Diagnostic>,
) {
    if let Some(msg) = msg
        && (msg.value.starts_with('-') || msg.value.contains(['\0', '\n']))
    {
        found.push(
            crate::diagnostics::Diagnostic::error(
                "`msg` cannot start with `-` or hold a line break: `shutdown` would read it as an option",
            )
            .at(msg.span),
        );
    }
}

/// The command asking for the host to go down: `systemctl reboot|poweroff`, or with a delay
/// `shutdown -r|-h +MINUTES` (rounded up), each with the message.
fn command(poweroff: bool, msg: &str, delay: Duration) -> Vec<String> {
    if delay.is_zero() {
        let verb = if poweroff { "poweroff" } else { "reboot" };
        return vec![
            "systemctl".to_owned(),
            verb.to_owned(),
            format!("--message={msg}"),
        ];
    }
    let minutes = delay.as_secs().div_ceil(60).max(1);
    let flag = if poweroff { "-h" } else { "-r" };
    vec![
        "shutdown".to_owned(),
        flag.to_owned(),
        format!("+{minutes}"),
        msg.to_owned(),
    ]
}

fn plan_one(task: &ApplyTask) -> Result<NodeStates, String> {
    let (after, trigger) = match &task.spec {
        ApplySpec::Reboot(reboot) => {
            let msg = reboot
                .msg
                .as_ref()
                .map_or("Reboot initiated by driftless", |m| &m.value);
            let delay = reboot
                .pre_reboot_delay
                .as_ref()
                .map_or(Duration::ZERO, |d| d.value.0);
            let argv = match &reboot.reboot_command {
                Some(line) => super::commands::words::split(&line.value)?,
                None => command(false, msg, delay),
            };
            let trigger = if task.meta.handler {
                Trigger::Notified
            } else {
                Trigger::RebootRequired {
                    exists: reboot_required(),
                }
            };
            (
                PowerOff {
                    action: "reboot".to_owned(),
                    argv,
                },
                trigger,
            )
        }
        ApplySpec::Shutdown(shutdown) => {
            let msg = shutdown
                .msg
                .as_ref()
                .map_or("Shut down initiated by driftless", |m| &m.value);
            let delay = shutdown
                .delay
                .as_ref()
                .map_or(Duration::ZERO, |d| d.value.0);
            let argv = command(true, msg, delay);
            (
                PowerOff {
                    action: "poweroff".to_owned(),
                    argv,
                },
                Trigger::Notified,
            )
        }
        _ => return Err("not a reboot or shutdown task".to_owned()),
    };
    Ok(NodeStates {
        action: action_of(&trigger),
        fingerprint: fingerprint(&trigger),
        before: Recorded::Json(json!(trigger)),
        after: Recorded::Json(json!(after)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: String::new(),
        diff: None,
        chained: false,
    })
}

fn reboot_required() -> bool {
    std::fs::symlink_metadata(REBOOT_REQUIRED).is_ok()
}

fn action_of(trigger: &Trigger) -> Action {
    match trigger {
        Trigger::Notified | Trigger::RebootRequired { exists: true } => Action::Run,
        Trigger::RebootRequired { exists: false } => Action::NoOp,
    }
}

fn fingerprint(trigger: &Trigger) -> String {
    super::fs_state::sha256_hex(&serde_json::to_vec(trigger).unwrap_or_default())
}

struct Decoded {
    power_off: PowerOff,
    trigger: Trigger,
}

fn decode(node: &NodeView<'_>) -> Result<Decoded, String> {
    let address = node.address;
    let power_off: PowerOff =
        (node.after.decode("after", "a reboot's")).map_err(|e| format!("{address}: {e}"))?;
    let trigger: Trigger =
        (node.before.decode("before", "a reboot's")).map_err(|e| format!("{address}: {e}"))?;
    if power_off.argv.is_empty() || !matches!(power_off.action.as_str(), "reboot" | "poweroff") {
        return Err(format!(
            "{address}: no command, or an action neither reboot nor poweroff"
        ));
    }
    Ok(Decoded { power_off, trigger })
}

fn run(node: &NodeView<'_>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let Decoded { power_off, .. } = decode(node)?;
    if REQUESTED.swap(true, Ordering::AcqRel) {
        tracing::info!(
            "{}: not run: an earlier node of this run already asked for the host to go down",
            escape(address)
        );
        return Ok(Ran::UNCHANGED);
    }
    tracing::warn!(
        "{}: asking for a {}: {}",
        escape(address),
        power_off.action,
        escape(&power_off.argv.join(" "))
    );
    let invocation = Invocation::new(&power_off.argv).timeout(COMMAND_TIMEOUT);
    let finished =
        process::run(&invocation).inspect_err(|_| REQUESTED.store(false, Ordering::Release))?;
    if !finished.success() {
        REQUESTED.store(false, Ordering::Release);
        return Err(ResourceError::permanent(format!(
            "{address}: `{}` failed: {}",
            power_off.argv.join(" "),
            finished.complaint()
        ))
        .with_output(finished.output()));
    }
    Ok(Ran {
        output: Some(finished.output()),
        ..Ran::CHANGED
    })
}

pub struct Power;

pub static POWER: Power = Power;

impl Family for Power {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        tasks.iter().map(|&i| (i, plan_one(&all[i]))).collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let Decoded { trigger, .. } = decode(node)?;
        if node.action != action_of(&trigger)
            || node.fingerprint != fingerprint(&trigger)
            || node.is_sensitive()
            || node.diff.is_some()
        {
            return Err("its action or fingerprint is not the one of its `before`".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let Decoded { power_off, trigger } = match decode(node) {
            Ok(decoded) => decoded,
            Err(e) => return Description::unreadable(e),
        };
        let why = match trigger {
            Trigger::Notified => "when notified, after every other node of the run".to_owned(),
            Trigger::RebootRequired { exists: true } => {
                format!("{REBOOT_REQUIRED} exists: after every other node of the run")
            }
            Trigger::RebootRequired { exists: false } => {
                format!("not run: {REBOOT_REQUIRED} does not exist")
            }
        };
        Description {
            what: escape(&format!(
                "{}: {}",
                power_off.action,
                power_off.argv.join(" ")
            ))
            .into_owned(),
            details: vec![Detail::plain(why)],
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn shows_no_op(&self) -> bool {
        true
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        match decode(node) {
            Ok(Decoded {
                trigger: Trigger::RebootRequired { exists },
                ..
            }) if exists != reboot_required() => Some(format!(
                "{}: {REBOOT_REQUIRED} {} when planning, {} now",
                node.address,
                if exists { "existed" } else { "did not exist" },
                if exists { "not" } else { "it does" }
            )),
            Ok(_) => None,
            Err(e) => Some(e),
        }
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        run(node)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {
        // The next run in this process (the agent's, if the host stays up) asks again.
        REQUESTED.store(false, Ordering::Release);
    }

    fn host_going_down(&self, node: &NodeView<'_>) -> Option<&'static str> {
        match decode(node).ok()?.power_off.action.as_str() {
            "reboot" => Some("reboot"),
            _ => Some("poweroff"),
        }
    }

    fn ends_run(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_once_is_systemctl_and_a_delay_is_shutdown_in_whole_minutes() {
        assert_eq!(
            command(false, "hi", Duration::ZERO),
            ["systemctl", "reboot", "--message=hi"]
        );
        assert_eq!(
            command(true, "bye", Duration::from_secs(61)),
            ["shutdown", "-h", "+2", "bye"]
        );
        assert_eq!(
            command(false, "x", Duration::from_millis(500)),
            ["shutdown", "-r", "+1", "x"]
        );
    }
}
