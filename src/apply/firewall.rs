//! What the firewall families (`iptables`: [`super::netfilter`], `ufw`: [`super::ufw_rules`])
//! share: a node's `before` is what the firewall's own tool reported (read-only queries), its
//! `after` what the task wants, and the change between them is a list of [`Step`]s — each one
//! exact argv of the tool (never a shell), derived from the two states alone, so that `show`
//! prints what `execute` will run ("add rule: iptables -w -t filter -A INPUT …") and a plan
//! read back runs the same commands.
//!
//! The fingerprint is the digest of `before`; a node is stale when observing its thing again
//! gives another `before` (a rule added or removed by hand since the plan).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded, Thing,
};
use super::fs_state::sha256_hex;
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::printable::escape;
use crate::process::{self, Invocation};

/// One lock for every change to the packet filter, iptables' and ufw's alike (ufw drives
/// iptables): two firewall nodes never run at once.
pub fn netfilter_lock() -> Thing {
    Thing::Lock("netfilter".to_owned())
}

/// What one step does to the firewall, for the node's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Add,
    Delete,
    Change,
}

/// One command of a node: what it does, in words, and its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// "add rule", "delete rule", "create chain", "set policy" …
    pub what: &'static str,
    pub argv: Vec<String>,
}

impl Step {
    pub fn new(kind: StepKind, what: &'static str, argv: Vec<String>) -> Step {
        Step { kind, what, argv }
    }

    /// "add rule: iptables -w -t filter -A INPUT -p tcp …", each argument escaped and quoted
    /// when it holds a space.
    pub fn line(&self) -> String {
        format!("{}: {}", self.what, show_argv(&self.argv))
    }
}

/// An argv as one line: arguments with spaces (a comment) quoted.
pub fn show_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let shown = escape(arg);
            if arg.is_empty() || arg.contains(' ') {
                format!("\"{shown}\"")
            } else {
                shown.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A firewall family's node state: `before` observed, `after` wanted.
pub trait FirewallState: Serialize + DeserializeOwned + PartialEq + Sized + 'static {
    /// The state in messages: "an iptables node's".
    const WHOSE: &'static str;

    /// Observes the task's thing (read-only) and computes what it wants: `(before, after)`.
    fn plan_task(task: &ApplyTask, cx: &PlanContext<'_>) -> Result<(Self, Self), String>;

    /// Observes again what `after` manages, as a `before` (to compare with the plan's).
    fn observe(after: &Self) -> Result<Self, String>;

    /// The commands that take `before` to `after`, in order (none: nothing to do).
    fn steps(before: &Self, after: &Self) -> Result<Vec<Step>, String>;

    /// Whether `before` and `after` are of one thing (a plan read back).
    fn same_thing(before: &Self, after: &Self) -> bool;

    /// What `show` names: "iptables rule in ipv4 filter INPUT".
    fn what(after: &Self) -> String;

    /// Lines `show` adds under the steps (the rule's fields).
    fn details(before: &Self, after: &Self) -> Vec<String>;

    /// Whether the thing observed `now` is still what the plan saw (`planned`): by default
    /// the same state.
    fn unchanged(planned: &Self, now: &Self) -> bool {
        planned == now
    }
}

/// The node's action: what its steps do.
pub fn action_of(steps: &[Step]) -> Action {
    let all = |kind| steps.iter().all(|s| s.kind == kind);
    match steps {
        [] => Action::NoOp,
        _ if all(StepKind::Add) => Action::Create,
        _ if all(StepKind::Delete) => Action::Delete,
        _ => Action::Update,
    }
}

fn fingerprint<S: FirewallState>(before: &S) -> Result<String, String> {
    let json = serde_json::to_string(before).map_err(|e| e.to_string())?;
    Ok(sha256_hex(json.as_bytes()))
}

/// A firewall family: one per state type.
pub struct Firewall<S>(PhantomData<fn() -> S>);

impl<S> Firewall<S> {
    pub const fn new() -> Self {
        Firewall(PhantomData)
    }
}

fn decode<S: FirewallState>(node: &NodeView<'_>) -> Result<(S, S), String> {
    Ok((
        node.before.decode("before", S::WHOSE)?,
        node.after.decode("after", S::WHOSE)?,
    ))
}

fn planned<S: FirewallState>(before: S, after: S) -> Result<NodeStates, String> {
    let steps = S::steps(&before, &after)?;
    Ok(NodeStates {
        action: action_of(&steps),
        fingerprint: fingerprint(&before)?,
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: String::new(),
        diff: None,
        chained: false,
    })
}

/// Why the node's thing is no longer what the plan saw.
fn stale_now<S: FirewallState>(node: &NodeView<'_>) -> Result<(), String> {
    let (before, after) = decode::<S>(node)?;
    let now = S::observe(&after)?;
    if S::unchanged(&before, &now) {
        return Ok(());
    }
    let shown = |state: &S| {
        serde_json::to_string(state).map_or_else(|e| e.to_string(), |s| escape(&s).into_owned())
    };
    Err(format!(
        "{} changed since the plan (planned from {}, now {})",
        S::what(&after),
        shown(&before),
        shown(&now)
    ))
}

impl<S: FirewallState> Family for Firewall<S> {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        tasks
            .iter()
            .map(|&i| {
                let states =
                    S::plan_task(&all[i], cx).and_then(|(before, after)| planned(before, after));
                (i, states)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode::<S>(node)?;
        if !S::same_thing(&before, &after) {
            return Err(format!(
                "`before` and `after` are not of one {}",
                S::what(&after)
            ));
        }
        let steps = S::steps(&before, &after)?;
        if node.action != action_of(&steps) {
            return Err("its action does not follow from its states".to_owned());
        }
        if node.fingerprint != fingerprint(&before)? {
            return Err("its fingerprint is not its `before`'s".to_owned());
        }
        if node.is_sensitive()
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
            || !node.route.is_empty()
        {
            return Err("a firewall node has no sensitive values, diff or route".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode::<S>(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let mut details: Vec<Detail> = match S::steps(&before, &after) {
            Ok(steps) => steps.iter().map(|s| Detail::plain(s.line())).collect(),
            Err(why) => vec![Detail {
                text: why,
                warning: true,
            }],
        };
        details.extend(S::details(&before, &after).into_iter().map(Detail::plain));
        Description {
            what: S::what(&after),
            details,
            diff_lines: Vec::new(),
        }
    }

    /// Firewall nodes are not edits of one file: each is observed on its own.
    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        stale_now::<S>(node)
            .err()
            .map(|why| format!("{}: {why}", node.address))
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        stale_now::<S>(node).map_err(|why| format!("{}: {why}", node.address))?;
        let (before, after) = decode::<S>(node)?;
        let steps = S::steps(&before, &after)?;
        for step in &steps {
            process::output(&Invocation::new(&step.argv)).map_err(|e| ResourceError {
                message: format!("{}: {e}", step.what),
                ..e
            })?;
        }
        // What the tool did is what the plan wanted: observed again, the thing is `after`.
        let now = S::observe(&after)?;
        if !S::steps(&now, &after)?.is_empty() {
            return Err(ResourceError::permanent(format!(
                "{} is not as planned after {} command(s)",
                S::what(&after),
                steps.len()
            )));
        }
        Ok(if steps.is_empty() {
            Ran::UNCHANGED
        } else {
            Ran::CHANGED
        })
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let Ok((before, after)) = decode::<S>(node) else {
            return Vec::new();
        };
        let Ok(steps) = S::steps(&before, &after) else {
            return Vec::new();
        };
        steps
            .iter()
            .map(|step| Change {
                field: step.what.to_owned(),
                before: Value::Null,
                after: json!(step.argv),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: StepKind) -> Step {
        Step::new(kind, "x", vec!["iptables".to_owned()])
    }

    #[test]
    fn the_action_follows_from_the_steps() {
        assert_eq!(action_of(&[]), Action::NoOp);
        assert_eq!(action_of(&[step(StepKind::Add)]), Action::Create);
        assert_eq!(
            action_of(&[step(StepKind::Delete), step(StepKind::Delete)]),
            Action::Delete
        );
        assert_eq!(
            action_of(&[step(StepKind::Delete), step(StepKind::Add)]),
            Action::Update
        );
        assert_eq!(action_of(&[step(StepKind::Change)]), Action::Update);
    }

    #[test]
    fn an_argv_is_shown_with_its_spaced_arguments_quoted() {
        let argv = ["iptables", "--comment", "ssh in", "-j", "ACCEPT"].map(str::to_owned);
        assert_eq!(show_argv(&argv), "iptables --comment \"ssh in\" -j ACCEPT");
    }
}
