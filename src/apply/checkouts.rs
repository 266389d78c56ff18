//! The checkout family: `git`. A node's `before` is what is at `dest` ([`WorkTree`]: absent,
//! an empty directory, or a work tree at a commit, on a branch or detached, with or without
//! local changes to tracked files); its `after` is a [`Checkout`]: the commit and branch
//! HEAD is left at, and where they are fetched from.
//!
//! Planning runs `git ls-remote` (nothing is fetched) to resolve `version` to a commit: a
//! branch, a tag (peeled), or a full commit id taken as is; with none, the branch the
//! remote's HEAD names. `execute` refuses a node whose `dest` changed since the plan, or whose
//! ref on the remote moved (checked again before anything runs when `repo` is no secret, and
//! always on the fetched ref before the checkout); then it fetches the planned ref from `repo`
//! and checks out exactly the planned commit: a branch as a local branch of that name reset
//! to it, a tag or a commit as a detached HEAD. A new checkout is made in a temp directory
//! beside `dest` and renamed into place.

mod git_cli;
mod remote;
mod work_tree;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded, SENSITIVE,
};
use super::fs_state::sha256_hex;
use super::git::{GitTask, is_commit_id};
use crate::error::ResourceError;
use crate::model::{ApplySpec, ApplyTask};
use crate::printable::escape;
use git_cli::Git;
use remote::Resolved;
use work_tree::{Presence, Target, WorkTree};

/// How long each git command may take when the task gives no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What a `git` node leaves at `dest`, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    pub dest: String,
    /// The repository; `(sensitive)` when it comes from a secret.
    pub repo: String,
    /// The name a new clone records `repo` under.
    pub remote: String,
    /// As the task writes it; `HEAD` when it gives none.
    pub version: String,
    /// The ref fetched (`refs/heads/main`, `refs/tags/v1`); none: the commit is fetched by
    /// its id, or nothing is fetched (`update: false` on a checkout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// The commit HEAD is left at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch HEAD is left on; none: detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// The local changes `before` lists are discarded (`force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub discard_local_changes: bool,
    /// As a duration is written: `30s`, `10m`.
    pub timeout: String,
}

impl Checkout {
    fn decode(recorded: &Recorded) -> Result<Checkout, String> {
        let json = recorded.as_json().ok_or("`after` is not a checkout's")?;
        Checkout::deserialize(json).map_err(|e| format!("unreadable `after`: {e}"))
    }

    fn timeout(&self) -> Result<Duration, String> {
        crate::model::values::Duration::parse(&self.timeout)
            .map(|d| d.0)
            .ok_or_else(|| format!("`{}` is not a duration", self.timeout))
    }

    fn secret(&self) -> bool {
        self.repo == SENSITIVE
    }

    fn resolved(&self) -> Option<Resolved> {
        Some(Resolved {
            ref_name: self.ref_name.clone(),
            commit: self.commit.clone()?,
            branch: self.branch.clone(),
        })
    }

    /// The work tree it leaves, as a [`WorkTree`] (for the report's changes).
    fn work_tree(&self) -> WorkTree {
        WorkTree {
            dest: self.dest.clone(),
            state: Presence::Checkout,
            commit: self.commit.clone(),
            branch: self.branch.clone(),
            local_changes: Vec::new(),
        }
    }
}

/// `{"repo": true}` when the repository is a secret; `false` when nothing is.
fn mask_of(checkout: &Checkout) -> Value {
    if checkout.secret() {
        json!({ "repo": true })
    } else {
        Value::Bool(false)
    }
}

fn git_task(task: &ApplyTask) -> Result<&GitTask, String> {
    match &task.spec {
        ApplySpec::Git(t) => Ok(t),
        _ => Err("not a git task".to_owned()),
    }
}

fn timeout_of(task: &GitTask) -> Duration {
    task.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.value.0)
}

/// How messages name the task's repository.
fn shown_repo(task: &GitTask) -> &str {
    if task.repo.sensitive {
        SENSITIVE
    } else {
        &task.repo.value
    }
}

/// The action from what is at `dest` and what the node leaves there.
fn action_of(before: &WorkTree, after: &Checkout) -> Action {
    match before.state {
        Presence::Absent | Presence::EmptyDirectory => Action::Create,
        Presence::Checkout
            if before.commit == after.commit
                && before.branch == after.branch
                && !after.discard_local_changes =>
        {
            Action::NoOp
        }
        Presence::Checkout => Action::Update,
    }
}

fn fingerprint(before: &WorkTree) -> String {
    sha256_hex(serde_json::to_string(before).unwrap_or_default().as_bytes())
}

/// At most a few of a work tree's local changes, for messages.
fn some_changes(changes: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = changes
        .iter()
        .take(SHOWN)
        .map(|c| c.trim())
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > SHOWN {
        text.push_str(&format!(" and {} more", changes.len() - SHOWN));
    }
    escape(&text).into_owned()
}

/// What the task leaves at `dest`, given what is there: the version resolved on the remote,
/// or, with `update: false`, the checkout as it is.
fn wanted(task: &GitTask, before: &WorkTree) -> Result<Checkout, String> {
    let dest = &task.dest.value;
    let timeout = timeout_of(task);
    let version = task.version.as_ref().map_or("HEAD", |v| v.value.as_str());
    let mut checkout = Checkout {
        dest: dest.clone(),
        repo: shown_repo(task).to_owned(),
        remote: task.remote().to_owned(),
        version: version.to_owned(),
        ref_name: None,
        commit: before.commit.clone(),
        branch: before.branch.clone(),
        depth: task.depth.as_ref().map(|d| d.value),
        discard_local_changes: false,
        timeout: crate::model::values::Duration(timeout).to_string(),
    };
    if before.state == Presence::Checkout && !task.update {
        return Ok(checkout);
    }
    if !before.local_changes.is_empty() && !task.force {
        return Err(format!(
            "{dest} has local changes ({}): commit or discard them, or set `force: true` to \
             discard them",
            some_changes(&before.local_changes)
        ));
    }
    let git = Git::outside(timeout, task.repo.sensitive);
    let resolved = remote::resolve(
        &git,
        &task.repo.value,
        shown_repo(task),
        task.version.as_ref().map(|v| v.value.as_str()),
    )?;
    checkout.ref_name = resolved.ref_name;
    checkout.commit = Some(resolved.commit);
    checkout.branch = resolved.branch;
    checkout.discard_local_changes = !before.local_changes.is_empty();
    Ok(checkout)
}

fn plan_one(task: &ApplyTask) -> Result<NodeStates, String> {
    let task = git_task(task)?;
    let before = work_tree::observe(&task.dest.value, timeout_of(task))?;
    let after = wanted(task, &before)?;
    Ok(NodeStates {
        action: action_of(&before, &after),
        fingerprint: fingerprint(&before),
        before_sensitive: Value::Bool(false),
        after_sensitive: mask_of(&after),
        before: Recorded::Json(json!(before)),
        after: Recorded::Json(json!(after)),
        route: String::new(),
        diff: None,
        chained: false,
    })
}

fn decode_before(node: &NodeView<'_>) -> Result<WorkTree, String> {
    let json = node
        .before
        .as_json()
        .ok_or("`before` is not a work tree's")?;
    WorkTree::deserialize(json).map_err(|e| format!("unreadable `before`: {e}"))
}

/// What changed at `dest` between two observations.
fn describe_change(was: &WorkTree, now: &WorkTree) -> String {
    let commit = |c: &Option<String>| c.clone().unwrap_or_else(|| "no commit".to_owned());
    let branch = |b: &Option<String>| {
        b.as_ref()
            .map_or_else(|| "detached".to_owned(), |b| format!("branch {b}"))
    };
    if was.state != now.state {
        let name = |p: Presence| match p {
            Presence::Absent => "nothing",
            Presence::EmptyDirectory => "an empty directory",
            Presence::Checkout => "a checkout",
        };
        format!("it was {}, now it is {}", name(was.state), name(now.state))
    } else if was.commit != now.commit {
        format!(
            "HEAD was {}, now {}",
            commit(&was.commit),
            commit(&now.commit)
        )
    } else if was.branch != now.branch {
        format!(
            "HEAD was {}, now {}",
            branch(&was.branch),
            branch(&now.branch)
        )
    } else if now.local_changes.is_empty() {
        "its local changes are gone".to_owned()
    } else {
        format!("local changes: {}", some_changes(&now.local_changes))
    }
}

/// Observes `dest` again and compares it with the plan's `before`.
fn check_work_tree(node: &NodeView<'_>, after: &Checkout) -> Result<WorkTree, String> {
    let before = decode_before(node)?;
    let now = work_tree::observe(&after.dest, after.timeout()?)?;
    if now != before {
        return Err(format!(
            "{} changed since the plan ({})",
            escape(&after.dest),
            describe_change(&before, &now)
        ));
    }
    Ok(before)
}

/// Resolves the version on the remote again: the plan is stale when it names another commit.
fn check_remote(repo: &str, after: &Checkout) -> Result<(), String> {
    let Some(planned) = after.commit.as_deref() else {
        return Ok(());
    };
    let git = Git::outside(after.timeout()?, after.secret());
    let now = remote::resolve(&git, repo, &after.repo, Some(&after.version))?;
    if now.commit != planned {
        return Err(format!(
            "{} {} moved since the plan (planned {planned}, now {})",
            after.repo, after.version, now.commit
        ));
    }
    Ok(())
}

/// The repository of a node whose `repo` is a secret: from the config compiled again, which
/// must still give the task the plan was made from.
fn secret_repo(
    address: &str,
    after: &Checkout,
    config: Option<&Recompiled<'_>>,
) -> Result<String, String> {
    let source = config.ok_or("has sensitive values, but no config to render them from")?;
    let task = source
        .tasks
        .get(address)
        .ok_or_else(|| format!("{address} is no longer in the config; make a new plan"))?;
    let task = git_task(task)?;
    let version = task.version.as_ref().map_or("HEAD", |v| v.value.as_str());
    if task.dest.value != after.dest || version != after.version || task.remote() != after.remote {
        return Err(
            "the config renders differently than when the plan was made; make a new plan"
                .to_owned(),
        );
    }
    Ok(task.repo.value.clone())
}

fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let after = Checkout::decode(node.after)?;
    let before = check_work_tree(node, &after)?;
    let repo = if after.secret() {
        secret_repo(address, &after, config)?
    } else {
        after.repo.clone()
    };
    let resolved = after
        .resolved()
        .ok_or_else(|| ResourceError::permanent("the plan names no commit to check out"))?;
    let target = Target {
        repo: &repo,
        shown: &after.repo,
        remote: &after.remote,
        resolved: &resolved,
        depth: after.depth,
        timeout: after.timeout()?,
        secret: after.secret(),
    };
    let dest = Path::new(&after.dest);
    match before.state {
        Presence::Absent | Presence::EmptyDirectory => work_tree::clone_into(dest, &target)?,
        Presence::Checkout => work_tree::move_to(dest, &target, after.discard_local_changes)?,
    }
    Ok(Ran::CHANGED)
}

pub struct Checkouts;

pub static CHECKOUTS: Checkouts = Checkouts;

impl Family for Checkouts {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        use rayon::prelude::*;
        tasks.par_iter().map(|&i| (i, plan_one(&all[i]))).collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let before = decode_before(node)?;
        let after = Checkout::decode(node.after)?;
        if before.dest != after.dest {
            return Err("`before` and `after` are of different paths".to_owned());
        }
        crate::fsutil::check_plain_absolute(&after.dest)?;
        after.timeout()?;
        let commits = [&before.commit, &after.commit];
        if commits
            .iter()
            .any(|c| c.as_deref().is_some_and(|c| !is_commit_id(c)))
        {
            return Err("a commit is not a full commit id".to_owned());
        }
        if node.action.changes() && after.commit.is_none() {
            return Err("it changes the checkout but names no commit".to_owned());
        }
        if after.discard_local_changes && before.local_changes.is_empty() {
            return Err("it discards local changes `before` does not have".to_owned());
        }
        if node.action != action_of(&before, &after) {
            return Err(format!(
                "its action is `{}`, but its `before` and `after` make it `{}`",
                node.action.as_str(),
                action_of(&before, &after).as_str()
            ));
        }
        if node.fingerprint != fingerprint(&before) {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.after_sensitive != mask_of(&after)
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("its sensitivity masks do not match its `after`".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match (decode_before(node), Checkout::decode(node.after)) {
            (Ok(before), Ok(after)) => (before, after),
            (Err(why), _) | (_, Err(why)) => return Description::unreadable(why),
        };
        let commit = |c: &Option<String>| c.clone().unwrap_or_else(|| "no commit".to_owned());
        let mut details = Vec::new();
        match node.action {
            Action::Create => details.push(format!(
                "clone {} at {} (commit {})",
                after.repo,
                after.version,
                commit(&after.commit)
            )),
            Action::Update => {
                if after.discard_local_changes {
                    details.push(format!(
                        "discard the local changes in {} (git reset --hard): {}",
                        after.dest,
                        some_changes(&before.local_changes)
                    ));
                }
                if before.commit != after.commit {
                    details.push(format!(
                        "move {} from {} to {} ({} at {})",
                        after.dest,
                        commit(&before.commit),
                        commit(&after.commit),
                        after.repo,
                        after.version
                    ));
                }
            }
            _ => {}
        }
        if node.action.changes() && (before.branch != after.branch || node.action == Action::Create)
        {
            details.push(match &after.branch {
                Some(branch) => format!("on branch {branch}, reset to the commit"),
                None => "HEAD detached at the commit".to_owned(),
            });
        }
        if node.action.changes()
            && let Some(depth) = after.depth
        {
            details.push(format!("shallow: depth {depth}"));
        }
        Description {
            what: escape(&after.dest).into_owned(),
            details: details
                .into_iter()
                .map(|d| Detail::plain(escape(&d).into_owned()))
                .collect(),
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        Checkout::decode(after).ok().map(|c| c.dest)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let checked = Checkout::decode(node.after).and_then(|after| {
            check_work_tree(node, &after)?;
            // A secret repository is checked on the fetched ref, when the node runs (the
            // plan does not hold its URL).
            if after.secret() {
                return Ok(());
            }
            check_remote(&after.repo, &after)
        });
        // The refusal names the node; a failure of `run` is reported under its address.
        checked.err().map(|why| format!("{}: {why}", node.address))
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        run(node, config)
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let (Ok(before), Ok(after)) = (decode_before(node), Checkout::decode(node.after)) else {
            return Vec::new();
        };
        // The work tree's fields (commit, branch, local changes), not the source's.
        let (before, left) = (
            Recorded::Json(json!(before)),
            Recorded::Json(json!(after.work_tree())),
        );
        let unmasked = Value::Bool(false);
        let view = NodeView {
            before: &before,
            after: &left,
            before_sensitive: &unmasked,
            after_sensitive: &unmasked,
            ..*node
        };
        super::contract::field_changes(&view, &["dest"])
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        for (node, _) in nodes {
            if let Ok(after) = Checkout::decode(node.after) {
                work_tree::remove_stale_clones(Path::new(&after.dest), run_started);
            }
        }
    }
}
