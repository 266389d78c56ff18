//! `probe` (feature `test-types`, tests only): a task type that claims what it is told and,
//! when it runs, records its start and end in a file and holds its claims for a while. The
//! tests of the resource contract use it — two tasks claiming one user, an implicit edge to
//! the task claiming a file's owner, exclusive locks never held by two running nodes — and
//! it shows what adding a type takes: this file and one line in the registry.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::Recorded;
use super::contract::{
    CheckContext, Claim, Description, Family, Hold, NodeStates, NodeView, PlanContext, Ran,
    Recompiled, Requirement, Resource, Thing,
};
use super::field_rules::absolute;
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::model::{ApplyTask, RenderedContent, Spanned};

/// Claims things and records when it runs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeTask {
    /// Its name: its id is `probe:<name>`.
    pub name: Spanned<String>,
    /// What it manages, as `user:NAME`, `group:NAME` or `path:/PATH`.
    #[serde(default)]
    pub claims: Vec<Spanned<String>>,
    /// Locks its node holds exclusively while it runs.
    #[serde(default)]
    pub locks: Vec<Spanned<String>>,
    /// A file it appends `<name> start <ns>` and `<name> end <ns>` to when it runs.
    pub record: Spanned<String>,
    /// How long it runs, in milliseconds.
    #[serde(default)]
    pub hold_ms: u64,
}

/// What a probe node does, as plan.json records it in `after`.
#[derive(Debug, Serialize, Deserialize)]
struct ProbeRun {
    name: String,
    record: String,
    hold_ms: u64,
}

impl ProbeRun {
    fn decode(recorded: &Recorded) -> Result<ProbeRun, String> {
        let json = recorded.as_json().ok_or("`after` is not a probe's")?;
        ProbeRun::deserialize(json).map_err(|e| format!("unreadable `after`: {e}"))
    }
}

fn thing(claim: &str) -> Option<Thing> {
    match claim.split_once(':')? {
        ("user", name) => Some(Thing::User(name.to_owned())),
        ("group", name) => Some(Thing::Group(name.to_owned())),
        ("path", path) => Some(Thing::path(path)),
        _ => None,
    }
}

impl Resource for ProbeTask {
    fn claims(&self) -> Vec<Claim> {
        let owned = self.claims.iter().filter_map(|c| {
            let thing = thing(&c.value)?;
            Some(Claim {
                written: thing.name().to_owned(),
                thing,
                hold: Hold::Owns,
                span: c.span,
                sensitive: false,
            })
        });
        let locks = self.locks.iter().map(|l| Claim {
            thing: Thing::Lock(l.value.clone()),
            written: l.value.clone(),
            hold: Hold::Exclusive,
            span: l.span,
            sensitive: false,
        });
        owned.chain(locks).collect()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        format!("probe:{}", self.name.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.record, "record", found);
        for claim in self.claims.iter().filter(|c| thing(&c.value).is_none()) {
            found.push(
                Diagnostic::error(format!("`{}` is not a claim", claim.value))
                    .at(claim.span)
                    .help("write `user:NAME`, `group:NAME` or `path:/PATH`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &PROBES
    }
}

struct Probes;

static PROBES: Probes = Probes;

impl Family for Probes {
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
                let crate::apply::ApplySpec::Probe(probe) = &all[i].spec else {
                    return (i, Err("not a probe".to_owned()));
                };
                let run = ProbeRun {
                    name: probe.name.value.clone(),
                    record: probe.record.value.clone(),
                    hold_ms: probe.hold_ms,
                };
                let states = NodeStates {
                    action: Action::Run,
                    before: Recorded::Json(Value::Null),
                    after: Recorded::Json(json!(run)),
                    before_sensitive: Value::Bool(false),
                    after_sensitive: Value::Bool(false),
                    fingerprint: String::new(),
                    route: String::new(),
                    diff: None,
                    chained: false,
                };
                (i, Ok(states))
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        ProbeRun::decode(node.after)?;
        match node.action {
            Action::Run => Ok(()),
            _ => Err("a probe's action is `run`".to_owned()),
        }
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let name = ProbeRun::decode(node.after).map_or_else(|_| String::new(), |r| r.name);
        Description {
            what: name,
            details: Vec::new(),
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, _: &NodeView<'_>) -> Option<String> {
        None
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        let run = ProbeRun::decode(node.after)?;
        let mut record = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&run.record)
            .map_err(|e| ResourceError::io(format_args!("cannot open {}", run.record), &e))?;
        let mut line = |event: &str| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            // One write per line: appends of concurrent probes do not interleave.
            record
                .write_all(format!("{} {event} {}\n", run.name, now.as_nanos()).as_bytes())
                .map_err(|e| ResourceError::io(format_args!("cannot write {}", run.record), &e))
        };
        line("start")?;
        std::thread::sleep(Duration::from_millis(run.hold_ms));
        line("end")?;
        Ok(Ran::CHANGED)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: SystemTime) {}
}
