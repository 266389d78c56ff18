//! The cron family: entries of cron.d files are file-family edits (planned, checked, shown
//! and written by [`super::files`], their nodes file nodes); entries of a user's crontab are
//! planned here from `crontab -l -u USER` and written with `crontab -u USER -` (the new
//! crontab on stdin: no temp file), refused when the crontab changed since the plan.
//!
//! A crontab node's `before` and `after` are [`CrontabState`]s (its `crontab` field, the
//! user, tells them from a file node's). The entries of one crontab chain in the order
//! written, each starting from the crontab the one before it leaves.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded, SENSITIVE, Thing,
};
use super::files::FILES;
use super::fs_state::{EntryKind, FsState, Observed, sha256_hex};
use super::lineinfile::Lines;
use super::text;
use crate::apply::ApplySpec;
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::printable::escape;
use crate::process::{self, Invocation};

/// A crontab node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrontabState {
    /// The wanted crontab (only in `after`; `(sensitive)` when a job comes from a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Whose crontab.
    pub crontab: String,
    /// The user has a crontab.
    pub exists: bool,
    /// Of the content (left out when sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl CrontabState {
    fn of(user: &str, content: Option<&str>) -> CrontabState {
        CrontabState {
            content: None,
            crontab: user.to_owned(),
            exists: content.is_some(),
            sha256: content.map(|c| sha256_hex(c.as_bytes())),
            size: content.map(|c| c.len() as u64),
        }
    }

    /// Without what a sensitive node hides.
    fn redacted(&self) -> CrontabState {
        CrontabState {
            content: self.content.as_ref().map(|_| SENSITIVE.to_owned()),
            sha256: None,
            size: None,
            ..self.clone()
        }
    }

    /// The crontab as a file-like state, for diffs: its path the words "crontab of USER".
    fn as_file(&self) -> FsState {
        let mut state = FsState::absent(&format!("crontab of {}", self.crontab));
        if self.exists {
            state.state = EntryKind::File;
            state.sha256 = self.sha256.clone();
            state.size = self.size;
            state.content = self.content.clone();
        }
        state
    }
}

/// The family's one instance.
pub struct Crons;

pub static CRONS: Crons = Crons;

/// What a node is: a file-family edit of a cron.d file, or an entry of a crontab.
enum Kind {
    File,
    Crontab(CrontabState, CrontabState),
}

fn kind_of(node: &NodeView<'_>) -> Result<Kind, String> {
    let is_crontab = |recorded: &Recorded| {
        recorded
            .as_json()
            .is_some_and(|json| json.get("crontab").is_some())
    };
    if !is_crontab(node.after) {
        return Ok(Kind::File);
    }
    let decode = |recorded: &Recorded, what: &str| {
        let json = recorded.as_json().unwrap_or(&Value::Null);
        CrontabState::deserialize(json).map_err(|e| format!("unreadable `{what}`: {e}"))
    };
    Ok(Kind::Crontab(
        decode(node.before, "before")?,
        decode(node.after, "after")?,
    ))
}

/// The user's crontab: `None` when they have none.
fn read_crontab(user: &str) -> Result<Option<String>, ResourceError> {
    let invocation = Invocation::new(["crontab", "-l", "-u", user]);
    let finished = process::run(&invocation)?;
    if finished.timed_out {
        return Err(ResourceError::transient(format!(
            "`crontab -l -u {user}` did not finish"
        )));
    }
    match finished.rc {
        0 => Ok(Some(finished.stdout_text())),
        _ if finished.stderr_text().contains("no crontab for") => Ok(None),
        rc => Err(ResourceError::permanent(format!(
            "`crontab -l -u {user}` failed (exit {rc}): {}",
            finished.complaint()
        ))),
    }
}

fn write_crontab(user: &str, content: &str) -> Result<(), ResourceError> {
    let mut invocation = Invocation::new(["crontab", "-u", user, "-"]);
    invocation.stdin = Some(content.as_bytes().to_vec());
    process::output(&invocation).map(|_| ())
}

fn action(before: &CrontabState, after: &CrontabState) -> Action {
    match (before.exists, after.exists) {
        (false, true) => Action::Create,
        (true, true) if after.sha256.is_none() || after.sha256 != before.sha256 => {
            // A sensitive node has no hashes: its plan says it changes, re-checked at run.
            Action::Update
        }
        _ => Action::NoOp,
    }
}

fn fingerprint(before: &CrontabState, sensitive: bool) -> String {
    let hash = before.sha256.as_ref().filter(|_| !sensitive);
    sha256_hex(
        json!(["crontab", before.crontab, before.exists, hash])
            .to_string()
            .as_bytes(),
    )
}

/// The cron task of an apply task, in crontab mode.
fn crontab_task(task: &ApplyTask) -> Result<&super::cron::CronTask, String> {
    match &task.spec {
        ApplySpec::Cron(cron) if cron.cron_path().is_none() => Ok(cron),
        _ => Err(format!(
            "`{}` is not a crontab entry",
            task.spec.type_name()
        )),
    }
}

/// The crontab after the task's edit.
fn edited(task: &super::cron::CronTask, content: Option<&str>) -> Result<String, String> {
    let mut lines = Lines::parse(content.unwrap_or("").as_bytes(), "the crontab")?;
    task.edit(&mut lines);
    String::from_utf8(lines.render()).map_err(|e| e.to_string())
}

/// Plans the crontab entries (in execution order), each crontab read once.
fn plan_crontabs(
    all: &[ApplyTask],
    tasks: &[usize],
    cx: &PlanContext<'_>,
) -> Vec<(usize, Result<NodeStates, String>)> {
    let mut crontabs: HashMap<String, Option<String>> = HashMap::new();
    // A crontab one of whose entries comes from a secret is sensitive in all its nodes.
    let mut sensitive_users: Vec<String> = Vec::new();
    for &i in tasks {
        if let Ok(task) = crontab_task(&all[i])
            && task.job.as_ref().is_some_and(|j| j.sensitive)
        {
            sensitive_users.push(task.user().to_owned());
        }
    }
    let mut out = Vec::new();
    for &i in tasks {
        let planned = crontab_task(&all[i]).and_then(|task| {
            let user = task.user().to_owned();
            let chained = crontabs.contains_key(&user);
            if !chained {
                let found = match read_crontab(&user) {
                    Ok(found) => found,
                    // A user a task of the plan makes has no crontab yet.
                    Err(_)
                        if cx.managed.contains(&Thing::User(user.clone()))
                            && crate::host::users::resolve(crate::host::users::Db::User, &user)
                                .is_err() =>
                    {
                        None
                    }
                    Err(e) => return Err(e.message),
                };
                crontabs.insert(user.clone(), found);
            }
            let current = crontabs.get(&user).cloned().flatten();
            let new = match (task.state, &current) {
                (crate::model::apply::State::Absent, None) => None,
                _ => Some(edited(task, current.as_deref())?),
            };
            let sensitive = sensitive_users.contains(&user);
            let states = states(
                &user,
                current.as_deref(),
                new.as_deref(),
                sensitive,
                chained,
            );
            // A `noop` task never runs: the next entry starts from what is there.
            if !all[i].meta.noop {
                crontabs.insert(user, new.or(current));
            }
            Ok(states)
        });
        out.push((i, planned));
    }
    out
}

/// A crontab node from the crontab before and after.
fn states(
    user: &str,
    before: Option<&str>,
    after: Option<&str>,
    sensitive: bool,
    chained: bool,
) -> NodeStates {
    let was = CrontabState::of(user, before);
    let mut will = CrontabState::of(user, after.or(before));
    will.content = after.map(str::to_owned);
    let action = action(&was, &will);
    let observed = Observed {
        state: was.as_file(),
        content: before.map(|c| c.as_bytes().to_vec()),
        route: Default::default(),
    };
    let diff = text::diff(&observed, &will.as_file(), sensitive, action);
    let fingerprint = fingerprint(&was, sensitive);
    let (was, will, masks) = if sensitive {
        let masks = (json!({ "sha256": true }), json!({ "content": true }));
        (was.redacted(), will.redacted(), masks)
    } else {
        (was, will, (Value::Bool(false), Value::Bool(false)))
    };
    NodeStates {
        action,
        before: Recorded::Json(serde_json::to_value(&was).unwrap_or(Value::Null)),
        after: Recorded::Json(serde_json::to_value(&will).unwrap_or(Value::Null)),
        before_sensitive: masks.0,
        after_sensitive: masks.1,
        fingerprint,
        route: String::new(),
        diff,
        chained,
    }
}

/// The crontab now, compared with the node's `before`.
fn crontab_stale(
    node: &NodeView<'_>,
    before: &CrontabState,
) -> Result<Option<String>, ResourceError> {
    let now = read_crontab(&before.crontab)?;
    let seen = CrontabState::of(&before.crontab, now.as_deref());
    let sensitive = node.is_sensitive();
    if fingerprint(&seen, sensitive) == node.fingerprint {
        return Ok(now);
    }
    Err(ResourceError::permanent(format!(
        "{}: the crontab of {} changed since the plan{}",
        node.address,
        escape(&before.crontab),
        match (before.exists, seen.exists) {
            (false, true) => " (it was made)",
            (true, false) => " (it was removed)",
            _ => " (its content changed)",
        }
    )))
}

fn describe_crontab(
    node: &NodeView<'_>,
    before: &CrontabState,
    after: &CrontabState,
) -> Description {
    let verb = match node.action {
        Action::Create => "create",
        Action::NoOp => "leave",
        _ => "update",
    };
    Description {
        what: format!("{verb} the crontab of {}", escape(&after.crontab)),
        details: vec![Detail::plain(format!(
            "through `crontab -u {}`; {}",
            escape(&after.crontab),
            if before.exists {
                "the user has a crontab"
            } else {
                "the user has no crontab yet"
            }
        ))],
        diff_lines: node
            .diff
            .map(|diff| {
                text::lines(diff)
                    .into_iter()
                    .map(|line| line.strip_suffix('\n').unwrap_or(line).to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn verify_crontab(
    node: &NodeView<'_>,
    before: &CrontabState,
    after: &CrontabState,
) -> Result<(), String> {
    if before.crontab != after.crontab || before.content.is_some() {
        return Err("`before` and `after` are not of one crontab".to_owned());
    }
    let sensitive = node.is_sensitive();
    let masks = if sensitive {
        (json!({ "sha256": true }), json!({ "content": true }))
    } else {
        (Value::Bool(false), Value::Bool(false))
    };
    if *node.before_sensitive != masks.0 || *node.after_sensitive != masks.1 {
        return Err("its sensitivity masks are not the ones `plan` writes".to_owned());
    }
    if sensitive {
        let hidden = |s: &CrontabState| s.sha256.is_none() && s.size.is_none();
        let content_hidden = after.content.as_deref().is_none_or(|c| c == SENSITIVE);
        if !hidden(before) || !hidden(after) || !content_hidden {
            return Err("a sensitive crontab node shows its content".to_owned());
        }
    } else if let Some(content) = &after.content
        && (after.sha256.as_deref() != Some(&sha256_hex(content.as_bytes()))
            || after.size != Some(content.len() as u64))
    {
        return Err("its `after` hash is not that of its content".to_owned());
    }
    // A sensitive node has no hashes: whether its content changes is not in its states.
    let hidden_change = sensitive
        && before.exists
        && after.exists
        && matches!(node.action, Action::NoOp | Action::Update);
    if node.action != action(before, after) && !hidden_change {
        return Err(format!(
            "its action `{}` does not follow from its states",
            node.action.as_str()
        ));
    }
    if node.fingerprint != fingerprint(before, sensitive) {
        return Err("its fingerprint is not that of its `before`".to_owned());
    }
    if node.action.changes() && after.content.is_none() {
        return Err("a crontab node that changes the crontab has no content".to_owned());
    }
    text::verify_diff(
        node.diff,
        &before.as_file(),
        &after.as_file(),
        sensitive,
        node.action,
    )
}

fn run_crontab(
    node: &NodeView<'_>,
    before: &CrontabState,
    after: &CrontabState,
    config: Option<&Recompiled<'_>>,
) -> Result<Ran, ResourceError> {
    let now = crontab_stale(node, before)?;
    let content = if node.is_sensitive() {
        let source = config.ok_or_else(|| {
            format!(
                "{}: has sensitive values, but no config to render them from",
                node.address
            )
        })?;
        let task = source
            .tasks
            .get(node.address)
            .ok_or_else(|| format!("{}: no longer in the config; make a new plan", node.address))?;
        edited(crontab_task(task)?, now.as_deref())?
    } else {
        after
            .content
            .clone()
            .ok_or_else(|| format!("{}: no content to write", node.address))?
    };
    write_crontab(&after.crontab, &content)?;
    let written = read_crontab(&after.crontab)?;
    if written.as_deref() != Some(content.as_str()) {
        return Err(ResourceError::permanent(format!(
            "{}: `crontab -l -u {}` does not show what was written",
            node.address,
            escape(&after.crontab)
        )));
    }
    Ok(Ran::CHANGED)
}

impl Family for Crons {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let others = super::file_backed::edits_by_other_families(all, tasks, chained_after);
        if !others.is_empty() {
            return others;
        }
        let (in_files, in_crontabs): (Vec<usize>, Vec<usize>) = tasks
            .iter()
            .copied()
            .partition(|&i| all[i].spec.file_type().is_some());
        let mut planned = Vec::new();
        if !in_files.is_empty() {
            planned.extend(FILES.plan(all, &in_files, chained_after, link_targets, cx));
        }
        planned.extend(plan_crontabs(all, &in_crontabs, cx));
        planned
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        match kind_of(node)? {
            Kind::File => FILES.verify(node),
            Kind::Crontab(before, after) => verify_crontab(node, &before, &after),
        }
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        match kind_of(node) {
            Ok(Kind::File) => FILES.describe(node),
            Ok(Kind::Crontab(before, after)) => describe_crontab(node, &before, &after),
            Err(why) => Description::unreadable(why),
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        let crontab = after.as_json().and_then(|json| json.get("crontab"));
        match crontab {
            Some(user) => Some(format!("crontab of {}", user.as_str()?)),
            None => FILES.key(after),
        }
    }

    fn shows_content(&self, node: &NodeView<'_>) -> bool {
        match kind_of(node) {
            Ok(Kind::File) => FILES.shows_content(node),
            Ok(Kind::Crontab(_, after)) => after.content.is_some(),
            Err(_) => false,
        }
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        match kind_of(node) {
            Ok(Kind::File) => FILES.stale(node),
            Ok(Kind::Crontab(before, _)) => crontab_stale(node, &before).err().map(|e| e.message),
            Err(why) => Some(format!("{}: {why}", node.address)),
        }
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        match kind_of(node)? {
            Kind::File => FILES.run(node, config),
            Kind::Crontab(before, after) => run_crontab(node, &before, &after, config),
        }
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        let files: Vec<(NodeView<'_>, bool)> = nodes
            .iter()
            .filter(|(node, _)| matches!(kind_of(node), Ok(Kind::File)))
            .copied()
            .collect();
        FILES.finish(&files, run_started);
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        match kind_of(node) {
            Ok(Kind::File) => FILES.changes(node),
            // The content is the diff's.
            _ => super::contract::field_changes(node, &["content", "sha256", "size"]),
        }
    }
}
