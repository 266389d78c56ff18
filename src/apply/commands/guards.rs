//! The guards of a command: `creates` (skip when the path exists), `removes` (skip when it does
//! not), `unless` (skip when the command exits 0) and `onlyif` (skip when it does not).
//!
//! A guard is evaluated when the plan is made: the node is `no-op` when one says skip, `run`
//! otherwise, and `before` records what each saw. `execute` evaluates them again before it
//! changes anything and refuses the plan when one saw something else (stale). `unless` and
//! `onlyif` are commands run at plan time — read-only commands only — as the task's `user`, in
//! its `chdir`, with the minimal environment (not the task's `env`, which may hold secrets a
//! plan cannot hold), for at most [`GUARD_TIMEOUT`].
//!
//! A guard whose subject a task of the same run makes and that does not exist yet — the
//! `creates` path a `file` task writes, the `user` a `user` task creates, the `chdir` a
//! `directory` task makes — cannot be known at plan time: it is recorded as decided when the
//! node runs, the node is planned as `run`, and when it runs the guard is evaluated and may
//! skip it (status `unchanged`). Once the subject exists, the next plan evaluates the guard
//! as any other.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::contract::Thing;
use super::state::CommandRun;
use crate::process::{self, Invocation};

/// How long an `unless`/`onlyif` command may run.
pub const GUARD_TIMEOUT: Duration = Duration::from_secs(60);

/// What a guard records when a task of the same run decides its outcome.
pub const DEFERRED: &str = "made by this run: evaluated when the node runs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Creates,
    Removes,
    Unless,
    Onlyif,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Creates => "creates",
            Kind::Removes => "removes",
            Kind::Unless => "unless",
            Kind::Onlyif => "onlyif",
        }
    }
}

/// A guard as the task writes it.
pub struct Guard {
    pub kind: Kind,
    /// The path, or the command as written.
    pub subject: String,
    /// A command guard's program and arguments.
    pub argv: Vec<String>,
}

/// A guard and what it saw, as `before` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    pub guard: Kind,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// `exists`, `absent`, `exit N`, or [`DEFERRED`].
    pub seen: String,
    /// Whether it skips the command; `null` when decided when the node runs.
    pub skips: Option<bool>,
}

/// `before` of a command node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    pub guards: Vec<Seen>,
}

impl Guards {
    /// The guard that skips the command, if one does.
    pub fn skipping(&self) -> Option<&Seen> {
        self.guards.iter().find(|g| g.skips == Some(true))
    }
}

impl Seen {
    fn guard(&self) -> Guard {
        Guard {
            kind: self.guard,
            subject: self.subject.clone(),
            argv: self.argv.clone(),
        }
    }

    /// Why it skips the command ("/opt/app/.installed exists"), or lets it run.
    pub fn explained(&self) -> String {
        match self.guard {
            Kind::Creates | Kind::Removes => {
                format!("{} {} ({})", self.subject, self.seen, self.guard.as_str())
            }
            Kind::Unless | Kind::Onlyif => format!(
                "`{}` gave {} ({})",
                self.subject,
                self.seen,
                self.guard.as_str()
            ),
        }
    }
}

/// Evaluates the guards at plan time; those a task of the run decides are deferred. `run` is
/// the command whose user and directory `unless`/`onlyif` run with; a task that is no command
/// (`uri`) has path guards only.
pub fn plan(
    guards: Vec<Guard>,
    run: Option<&CommandRun>,
    managed: &HashSet<Thing>,
) -> Result<Guards, String> {
    let made_by_run = |thing: Thing| managed.contains(&thing);
    let command_deferred = run.is_some_and(|run| {
        run.user
            .as_ref()
            .is_some_and(|u| made_by_run(Thing::User(u.clone())) && !user_exists(u))
            || run
                .chdir
                .as_ref()
                .is_some_and(|d| made_by_run(Thing::path(d)) && !std::path::Path::new(d).is_dir())
    });
    let mut seen = Vec::with_capacity(guards.len());
    for guard in guards {
        let deferred = match guard.kind {
            Kind::Creates | Kind::Removes => {
                made_by_run(Thing::path(&guard.subject))
                    && !std::path::Path::new(&guard.subject).exists()
            }
            Kind::Unless | Kind::Onlyif => command_deferred,
        };
        let (outcome, skips) = if deferred {
            (DEFERRED.to_owned(), None)
        } else {
            let (outcome, skips) = observe(&guard, run)?;
            (outcome, Some(skips))
        };
        seen.push(Seen {
            guard: guard.kind,
            subject: guard.subject,
            argv: guard.argv,
            seen: outcome,
            skips,
        });
    }
    Ok(Guards { guards: seen })
}

/// The first guard evaluated at plan time that sees something else now.
pub fn changed(planned: &Guards, run: Option<&CommandRun>) -> Result<Option<String>, String> {
    for seen in planned.guards.iter().filter(|g| g.skips.is_some()) {
        let (now, _) = observe(&seen.guard(), run)?;
        if now != seen.seen {
            return Ok(Some(format!(
                "`{} {}` saw {} at plan time, {now} now",
                seen.guard.as_str(),
                seen.subject,
                seen.seen
            )));
        }
    }
    Ok(None)
}

/// The first deferred guard that skips the command now, as why.
pub fn deferred_skip(planned: &Guards, run: Option<&CommandRun>) -> Result<Option<String>, String> {
    for seen in planned.guards.iter().filter(|g| g.skips.is_none()) {
        let (outcome, skips) = observe(&seen.guard(), run)?;
        if skips {
            let now = Seen {
                seen: outcome,
                skips: Some(true),
                ..seen.clone()
            };
            return Ok(Some(now.explained()));
        }
    }
    Ok(None)
}

/// What a guard sees now, and whether it skips the command.
fn observe(guard: &Guard, run: Option<&CommandRun>) -> Result<(String, bool), String> {
    match guard.kind {
        Kind::Creates | Kind::Removes => {
            let exists = std::path::Path::new(&guard.subject).exists();
            let seen = if exists { "exists" } else { "absent" };
            Ok((seen.to_owned(), exists == (guard.kind == Kind::Creates)))
        }
        Kind::Unless | Kind::Onlyif => {
            let run = run.ok_or("`unless` and `onlyif` are guards of commands only")?;
            let mut invocation = Invocation::new(&guard.argv).timeout(GUARD_TIMEOUT);
            invocation.supervised = true;
            invocation.chdir = run.chdir.as_ref().map(Into::into);
            if let Some(user) = &run.user {
                super::run_as(&mut invocation, user)?;
            }
            let finished = process::run(&invocation).map_err(|e| e.message)?;
            if finished.timed_out {
                return Err(format!(
                    "`{} {}` did not finish within {} s",
                    guard.kind.as_str(),
                    guard.subject,
                    GUARD_TIMEOUT.as_secs()
                ));
            }
            let skips = (finished.rc == 0) == (guard.kind == Kind::Unless);
            Ok((format!("exit {}", finished.rc), skips))
        }
    }
}

fn user_exists(name: &str) -> bool {
    matches!(crate::host::login::of(name), Ok(Some(_)))
}
