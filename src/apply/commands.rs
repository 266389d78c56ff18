//! The command family: `command` (a program and its arguments, never a shell), `shell` (a
//! command line run by `/bin/sh -c`) and `script` (a file of the config dir). Each type says
//! how its program is made ([`CommandType::program`]); everything else — the fields they share
//! (`command_task!`), the guards, running and judging the result — is here:
//!
//! - [`words`]: `cmd` split into words by a shell's quoting rules, never run through one;
//! - [`state`]: what a node runs, as plan.json records it (`after`);
//! - [`guards`]: `creates`/`removes`/`unless`/`onlyif`, evaluated at plan time (`before`);
//! - [`conditions`]: `changed_when`/`failed_when` over `rc`, `stdout`, `stderr`;
//! - `run`: running a node under the supervisor and reporting its output.
//!
//! A command without a guard is planned as `run` every time; with a guard that says skip, as
//! `no-op`.

pub mod conditions;
pub mod guards;
mod run;
pub mod state;
pub mod words;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Reason, Recompiled,
    Recorded, Requirement, SENSITIVE, Thing,
};
use crate::config::ConfigDir;
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::model::values::Duration;
use crate::model::{ApplySpec, ApplyTask, Spanned};
use conditions::Condition;
use guards::{Guard, Guards, Kind};
use state::{Built, CommandRun, Script};

/// A command task struct: its own fields, then the fields every command type has.
macro_rules! command_task {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Run in this directory (an absolute path).
            pub chdir: Option<$crate::model::Spanned<String>>,
            /// Environment variables, set on top of `PATH` and `LC_ALL=C` (nothing else is
            /// inherited). Values may be secrets.
            #[serde(default)]
            pub env: std::collections::BTreeMap<String, $crate::model::Spanned<String>>,
            /// Run as this user (with its groups, and `HOME`, `USER`, `LOGNAME` set).
            pub user: Option<$crate::model::Spanned<String>>,
            /// Kill the command, and every process it started, after this long (default 1h).
            pub timeout: Option<$crate::model::Spanned<$crate::model::values::Duration>>,
            /// Text given on the command's standard input. May be a secret.
            pub stdin: Option<$crate::model::Spanned<String>>,
            /// Skip the command when this path exists.
            pub creates: Option<$crate::model::Spanned<String>>,
            /// Skip the command when this path does not exist.
            pub removes: Option<$crate::model::Spanned<String>>,
            /// Skip the command when this command exits 0. Run at plan time: read-only
            /// commands only.
            pub unless: Option<$crate::model::Spanned<String>>,
            /// Skip the command when this command does not exit 0. Run at plan time:
            /// read-only commands only.
            pub onlyif: Option<$crate::model::Spanned<String>>,
            /// Whether the command changed something: a boolean or an expression over `rc`,
            /// `stdout` and `stderr` (default true).
            pub changed_when: Option<$crate::model::Spanned<$crate::apply::commands::conditions::Condition>>,
            /// Whether the command failed: a boolean or an expression over `rc`, `stdout` and
            /// `stderr` (default `rc != 0`).
            pub failed_when: Option<$crate::model::Spanned<$crate::apply::commands::conditions::Condition>>,
        }

        impl $crate::apply::commands::Shared for $name {
            fn common(&self) -> $crate::apply::commands::Common<'_> {
                $crate::apply::commands::Common {
                    chdir: self.chdir.as_ref(),
                    env: &self.env,
                    user: self.user.as_ref(),
                    timeout: self.timeout.as_ref(),
                    stdin: self.stdin.as_ref(),
                    creates: self.creates.as_ref(),
                    removes: self.removes.as_ref(),
                    unless: self.unless.as_ref(),
                    onlyif: self.onlyif.as_ref(),
                    changed_when: self.changed_when.as_ref(),
                    failed_when: self.failed_when.as_ref(),
                }
            }
        }
    };
}
pub(crate) use command_task;

/// The fields every command type has.
pub struct Common<'a> {
    pub chdir: Option<&'a Spanned<String>>,
    pub env: &'a BTreeMap<String, Spanned<String>>,
    pub user: Option<&'a Spanned<String>>,
    pub timeout: Option<&'a Spanned<Duration>>,
    pub stdin: Option<&'a Spanned<String>>,
    pub creates: Option<&'a Spanned<String>>,
    pub removes: Option<&'a Spanned<String>>,
    pub unless: Option<&'a Spanned<String>>,
    pub onlyif: Option<&'a Spanned<String>>,
    pub changed_when: Option<&'a Spanned<Condition>>,
    pub failed_when: Option<&'a Spanned<Condition>>,
}

/// The shared fields of a command task (made by `command_task!`).
pub trait Shared {
    fn common(&self) -> Common<'_>;
}

/// A member of the command family: how its program is made.
pub trait CommandType: Shared {
    /// The program and its arguments, each with whether it came from a secret.
    fn program(&self, config_dir: &ConfigDir) -> Result<Program, String>;

    /// How an `unless`/`onlyif` command line runs: split into words, or by the task's shell.
    fn guard_argv(&self, line: &str) -> Result<Vec<String>, String>;
}

/// What a command task runs.
pub struct Program {
    pub argv: Vec<(String, bool)>,
    pub script: Option<Script>,
}

/// The task as a member of the command family.
fn command_type(task: &ApplyTask) -> Option<&dyn CommandType> {
    match &task.spec {
        ApplySpec::Command(t) => Some(t),
        ApplySpec::Shell(t) => Some(t),
        ApplySpec::Script(t) => Some(t),
        _ => None,
    }
}

/// The claims a command needs other tasks to have made good: its user, its directory and the
/// paths its guards name.
pub fn requires(common: &Common<'_>) -> Vec<Requirement> {
    let mut out = Vec::new();
    if let Some(user) = common.user {
        out.push(Requirement::exact(
            Thing::User(user.value.clone()),
            Reason::RunAs,
        ));
    }
    for path in [common.chdir, common.creates, common.removes]
        .into_iter()
        .flatten()
    {
        out.push(Requirement {
            thing: Thing::path(&path.value),
            reason: Reason::CommandPath,
            nearest_ancestor: true,
        });
    }
    out
}

/// Whether a value the command is given came from a secret.
pub fn carries_secret(common: &Common<'_>, own: bool) -> bool {
    own || common.env.values().any(|v| v.sensitive) || common.stdin.is_some_and(|s| s.sensitive)
}

/// The rules of the shared fields.
pub fn check(common: &Common<'_>, found: &mut Vec<Diagnostic>) {
    use super::field_rules::absolute;
    for (field, path) in [
        ("chdir", common.chdir),
        ("creates", common.creates),
        ("removes", common.removes),
    ] {
        if let Some(path) = path {
            absolute(path, field, found);
        }
    }
    for (key, value) in common.env {
        let valid = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            found.push(
                Diagnostic::error(format!("`{key}` is not an environment variable name"))
                    .at(value.span)
                    .help("use letters, digits and `_`, not starting with a digit"),
            );
        }
    }
    if let Some(user) = common.user {
        let name = &user.value;
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && !name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '/' | ','));
        if !valid {
            found.push(
                Diagnostic::error(format!("`{name}` is not a user name"))
                    .at(user.span)
                    .help("name an account, e.g. `user: www-data`"),
            );
        }
    }
    if let Some(t) = common.timeout
        && t.value.0.is_zero()
    {
        found.push(
            Diagnostic::error("`timeout` must be longer than 0s")
                .at(t.span)
                .help("give the command time to run, e.g. `timeout: 5m`"),
        );
    }
    conditions::check(common.changed_when, "changed_when", found);
    conditions::check(common.failed_when, "failed_when", found);
}

/// An `unless`/`onlyif` command line that cannot be split into words, or has none.
pub fn check_guard_line(
    line: Option<&Spanned<String>>,
    field: &str,
    split: fn(&str) -> Result<Vec<String>, String>,
    found: &mut Vec<Diagnostic>,
) {
    let Some(line) = line else { return };
    let why = match split(&line.value) {
        Ok(words) if words.is_empty() => "it is empty".to_owned(),
        Ok(_) => return,
        Err(why) => why,
    };
    found.push(
        Diagnostic::error(format!("`{field}` is not a command: {why}"))
            .at(line.span)
            .help(format!(
                "write a read-only command, e.g. `{field}: \"test -f /opt/app/.installed\"`"
            )),
    );
}

/// The guards a task writes.
fn guards_of(task: &dyn CommandType) -> Result<Vec<Guard>, String> {
    let common = task.common();
    let mut guards = Vec::new();
    for (kind, path) in [
        (Kind::Creates, common.creates),
        (Kind::Removes, common.removes),
    ] {
        if let Some(path) = path {
            guards.push(Guard {
                kind,
                subject: path.value.clone(),
                argv: Vec::new(),
            });
        }
    }
    for (kind, line) in [(Kind::Unless, common.unless), (Kind::Onlyif, common.onlyif)] {
        if let Some(line) = line {
            guards.push(Guard {
                kind,
                subject: line.value.clone(),
                argv: task
                    .guard_argv(&line.value)
                    .map_err(|e| format!("`{}`: {e}", kind.as_str()))?,
            });
        }
    }
    Ok(guards)
}

/// What a task runs, from the config.
fn build(task: &ApplyTask, config_dir: &ConfigDir) -> Result<Built, String> {
    let command = command_type(task).ok_or("not a command")?;
    Ok(Built::new(command.program(config_dir)?, &command.common()))
}

/// The fingerprint of what the guards saw: a changed guard is a stale plan.
fn fingerprint(before: &Guards) -> String {
    let text = serde_json::to_vec(before).unwrap_or_default();
    super::fs_state::sha256_hex(&text)
}

/// Sets the user a program runs as: ids, groups and the variables a login sets.
pub fn run_as(invocation: &mut crate::process::Invocation, user: &str) -> Result<(), String> {
    let login = crate::host::login::of(user)
        .map_err(|e| format!("cannot look up user `{user}`: {e}"))?
        .ok_or_else(|| format!("no user `{user}` on this host"))?;
    invocation.user = Some((login.uid, login.gid));
    invocation.groups = login.groups;
    // The task's own `env` comes after these and wins.
    invocation.env.splice(
        0..0,
        [
            ("HOME".into(), login.home.into()),
            ("USER".into(), user.into()),
            ("LOGNAME".into(), user.into()),
        ],
    );
    Ok(())
}

/// The user and directory the command needs, when no task of the run makes them: there now,
/// or the plan fails (the command would).
fn needs_present(
    run: &CommandRun,
    managed: &std::collections::HashSet<Thing>,
) -> Result<(), String> {
    if let Some(user) = &run.user
        && !managed.contains(&Thing::User(user.clone()))
        && !matches!(crate::host::login::of(user), Ok(Some(_)))
    {
        return Err(format!(
            "no user `{user}` on this host to run the command as, and no task of the config makes it"
        ));
    }
    if let Some(dir) = &run.chdir
        && !managed.contains(&Thing::path(dir))
        && !std::path::Path::new(dir).is_dir()
    {
        return Err(format!(
            "`chdir` {dir} is not a directory, and no task of the config makes it"
        ));
    }
    Ok(())
}

fn plan_one(task: &ApplyTask, cx: &PlanContext<'_>) -> Result<NodeStates, String> {
    let command = command_type(task).ok_or("not a command")?;
    let built = build(task, cx.config_dir)?;
    needs_present(&built.run, cx.managed)?;
    let guards = guards::plan(guards_of(command)?, Some(&built.run), cx.managed)?;
    let action = if guards.skipping().is_some() {
        Action::NoOp
    } else {
        Action::Run
    };
    let (after, after_sensitive) = built.redacted();
    Ok(NodeStates {
        action,
        fingerprint: fingerprint(&guards),
        before: Recorded::Json(json!(guards)),
        after: Recorded::Json(json!(after)),
        before_sensitive: Value::Bool(false),
        after_sensitive,
        route: String::new(),
        diff: None,
        chained: false,
    })
}

fn decode_guards(node: &NodeView<'_>) -> Result<Guards, String> {
    use serde::Deserialize;
    let json = node
        .before
        .as_json()
        .ok_or_else(|| format!("{}: `before` is not a command's", node.address))?;
    Guards::deserialize(json).map_err(|e| format!("{}: unreadable `before`: {e}", node.address))
}

pub struct Commands;

/// What a command's registered result holds besides `changed` and `skipped` (what
/// `execute::when` gives a `when` reading it).
pub const RESULT_FIELDS: &[&str] = &["rc", "stdout", "stderr"];

pub static COMMANDS: Commands = Commands;

impl Family for Commands {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        use rayon::prelude::*;
        tasks
            .par_iter()
            .map(|&i| (i, plan_one(&all[i], cx)))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let run = CommandRun::decode(node.after, node.address)?;
        let guards = decode_guards(node)?;
        run.timeout()?;
        let wanted = if guards.skipping().is_some() {
            Action::NoOp
        } else {
            Action::Run
        };
        if node.action != wanted {
            return Err(format!(
                "its action is `{}`, but its guards make it `{}`",
                node.action.as_str(),
                wanted.as_str()
            ));
        }
        if let Some(script) = &run.script
            && (super::fs_state::sha256_hex(script.content.as_bytes()) != script.sha256
                || script.position >= run.argv.len())
        {
            return Err("its script's hash or place is not the one of its content".to_owned());
        }
        if node.fingerprint != fingerprint(&guards) {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.after_sensitive != state::mask_of(&run)
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("its sensitivity masks do not match its `after`".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (Ok(run), Ok(guards)) = (
            CommandRun::decode(node.after, node.address),
            decode_guards(node),
        ) else {
            return Description {
                what: String::new(),
                details: Vec::new(),
                diff_lines: Vec::new(),
            };
        };
        let mut details = Vec::new();
        match guards.skipping() {
            Some(skip) => details.push(Detail::plain(format!("skipped: {}", skip.explained()))),
            None if guards.guards.is_empty() => details.push(Detail::plain(
                "runs every time: no creates/removes/unless/onlyif".to_owned(),
            )),
            None => {
                for g in &guards.guards {
                    let line = match g.skips {
                        None => format!("{} {}: {}", g.guard.as_str(), g.subject, guards::DEFERRED),
                        Some(_) => format!("runs: {}", g.explained()),
                    };
                    details.push(Detail::plain(line));
                }
            }
        }
        let mut diff_lines = Vec::new();
        if let Some(script) = &run.script {
            details.push(Detail::plain(format!(
                "script {} (sha256 {}, {} lines)",
                script.src,
                script.sha256,
                script.content.lines().count()
            )));
            diff_lines.extend(script.content.lines().map(|l| format!(" {l}")));
        }
        if let Some(user) = &run.user {
            details.push(Detail::plain(format!("as user {user}")));
        }
        if let Some(dir) = &run.chdir {
            details.push(Detail::plain(format!("in {dir}")));
        }
        for (key, value) in &run.env {
            details.push(Detail::plain(format!("env {key}={value}")));
        }
        if let Some(stdin) = &run.stdin {
            let shown = if stdin == SENSITIVE {
                SENSITIVE.to_owned()
            } else {
                format!("{} bytes", stdin.len())
            };
            details.push(Detail::plain(format!("stdin: {shown}")));
        }
        details.push(Detail::plain(format!(
            "timeout {}, changed when {}, failed when {}",
            run.timeout, run.changed_when, run.failed_when
        )));
        // Every value comes from the config or the host: escaped, as `show` prints details
        // as they are.
        for detail in &mut details {
            detail.text = crate::printable::escape(&detail.text).into_owned();
        }
        Description {
            what: crate::printable::escape(&run.command_line()).into_owned(),
            details,
            diff_lines,
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        true
    }

    fn shows_no_op(&self) -> bool {
        true
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let checked = CommandRun::decode(node.after, node.address)
            .and_then(|run| guards::changed(&decode_guards(node)?, Some(&run)));
        match checked {
            Ok(None) => None,
            Ok(Some(change)) => Some(format!("{}: {change}", node.address)),
            Err(e) => Some(format!("{}: {e}", node.address)),
        }
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        run::run(node, config)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}
