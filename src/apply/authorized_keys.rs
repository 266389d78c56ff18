//! The authorized_key family: the user's `authorized_keys` is planned, checked, shown and
//! written by the file family (mode 0600, owned by the user); this family adds the `~/.ssh`
//! directory, made (or its mode and owner set) to 0700 and the user's before the file is
//! written, by the first task of the user's file that adds keys (the others find it made).
//!
//! A node's `before` and `after` are [`KeysState`]s: the file's state, the directory's
//! (`null` when the task leaves it alone) and the user. The fingerprint covers both paths.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded,
};
use super::file_backed::{self, FilePart};
use super::files::{self, FILES};
use super::fs_state::{self, EntryKind, FsState, sha256_hex};
use crate::apply::ApplySpec;
use crate::error::ResourceError;
use crate::fsutil::walk::Walked;
use crate::model::ApplyTask;
use crate::printable::escape;

/// An authorized_key node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysState {
    /// `~/.ssh`: observed in `before`, wanted in `after`; `null` when not managed by the node.
    pub directory: Option<FsState>,
    /// The digest of the way to `~/.ssh` when observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_route: Option<String>,
    /// The `authorized_keys` file.
    pub file: FsState,
    pub user: String,
}

/// The family's one instance.
pub struct AuthorizedKeys;

pub static AUTHORIZED_KEYS: AuthorizedKeys = AuthorizedKeys;

fn decode(recorded: &Recorded, which: &str) -> Result<KeysState, String> {
    recorded.decode(which, "an authorized_key's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(KeysState, KeysState), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

fn directory_action(before: &KeysState, after: &KeysState) -> Action {
    match (&before.directory, &after.directory) {
        (Some(before), Some(after)) => files::action(before, after),
        _ => Action::NoOp,
    }
}

/// The file's action when it changes, else an update of the directory.
fn action(before: &KeysState, after: &KeysState) -> Action {
    match files::action(&before.file, &after.file) {
        Action::NoOp if directory_action(before, after).changes() => Action::Update,
        file => file,
    }
}

fn directory_fingerprint(before: &KeysState) -> Option<String> {
    let directory = before.directory.as_ref()?;
    let route = before.directory_route.as_deref().unwrap_or_default();
    Some(fs_state::fingerprint(directory, route, true))
}

fn fingerprint(before: &KeysState, route: &str) -> String {
    let file = fs_state::fingerprint(&before.file, route, true);
    sha256_hex(
        json!([file, directory_fingerprint(before)])
            .to_string()
            .as_bytes(),
    )
}

/// The directory as it is now, compared with the plan's, with the place it was seen.
fn check_directory(
    node: &NodeView<'_>,
    before: &KeysState,
) -> Result<Option<(fs_state::Observed, fs_state::Place)>, String> {
    let (Some(directory), Some(planned)) = (&before.directory, directory_fingerprint(before))
    else {
        return Ok(None);
    };
    let (now, place) = fs_state::observe_in_place(&directory.path, false, None)
        .map_err(|e| format!("{}: cannot read {}: {e}", node.address, directory.path))?;
    if fs_state::check_fingerprint(&planned, &now, true).is_err() {
        return Err(format!(
            "{}: {} changed since the plan ({})",
            node.address,
            directory.path,
            fs_state::describe_change(directory, &now.state)
        ));
    }
    Ok(Some((now, place)))
}

/// The user's `~/.ssh` as the first task of their file wants it: a directory, 0700, theirs.
fn plan_directory(
    task: &ApplyTask,
    walked: &Walked,
) -> Result<Option<(FsState, FsState, String)>, String> {
    let ApplySpec::AuthorizedKey(keys) = &task.spec else {
        return Err(format!(
            "`{}` is not an authorized_key task",
            task.spec.type_name()
        ));
    };
    let resolved = keys.resolved()?;
    let Some(directory) = &resolved.directory else {
        return Ok(None);
    };
    let user = &keys.user.value;
    let login = crate::host::login::of(user)
        .map_err(|e| format!("cannot look up user {user}: {e}"))?
        .ok_or_else(|| {
            format!("user {user} does not exist yet: run once to create it, or set `path`")
        })?;
    let observed = fs_state::observe(directory, false, None, walked)
        .map_err(|e| format!("cannot read {directory}: {e}"))?;
    files::refuse_symlink(&observed, directory)?;
    if !matches!(
        observed.state.state,
        EntryKind::Absent | EntryKind::Directory
    ) {
        return Err(format!("{directory} exists and is not a directory"));
    }
    let mut want = FsState::absent(directory);
    want.state = EntryKind::Directory;
    want.set_mode(0o700);
    want.set_owner(login.uid);
    want.set_group(login.gid);
    Ok(Some((observed.state, want, observed.route.digest())))
}

/// Whether task `i` manages the directory: the first task of its file that adds keys and
/// runs (a `noop` task or one removing keys makes no directory).
fn makes_directory(all: &[ApplyTask], chained_after: &[Option<usize>], i: usize) -> bool {
    let adds = |j: usize| {
        !all[j].meta.noop
            && matches!(&all[j].spec, ApplySpec::AuthorizedKey(keys) if keys.state == crate::model::apply::State::Present)
    };
    let mut earlier = chained_after[i];
    while let Some(j) = earlier {
        if adds(j) {
            return false;
        }
        earlier = chained_after[j];
    }
    adds(i)
}

/// A planned file node of an authorized_key task, with its directory added.
fn combine(
    task: &ApplyTask,
    file: NodeStates,
    first_of_file: bool,
    walked: &Walked,
) -> Result<NodeStates, String> {
    let ApplySpec::AuthorizedKey(keys) = &task.spec else {
        return Err(format!(
            "`{}` is not an authorized_key task",
            task.spec.type_name()
        ));
    };
    let (Recorded::File(file_before), Recorded::File(file_after)) = (file.before, file.after)
    else {
        return Err("the file family planned no file state".to_owned());
    };
    let directory = if first_of_file {
        plan_directory(task, walked)?
    } else {
        None
    };
    let (dir_before, dir_after, dir_route) = match directory {
        Some((before, after, route)) => (Some(before), Some(after), Some(route)),
        None => (None, None, None),
    };
    let before = KeysState {
        directory: dir_before,
        directory_route: dir_route.clone(),
        file: file_before,
        user: keys.user.value.clone(),
    };
    let after = KeysState {
        directory: dir_after,
        directory_route: dir_route,
        file: file_after,
        user: keys.user.value.clone(),
    };
    Ok(NodeStates {
        action: action(&before, &after),
        fingerprint: fingerprint(&before, &file.route),
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: file.route,
        diff: file.diff,
        chained: file.chained,
    })
}

impl Family for AuthorizedKeys {
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
        // A file whose place is not known (a user not there yet) is not planned at all.
        let unresolved: Vec<(usize, Result<NodeStates, String>)> = tasks
            .iter()
            .filter_map(|&i| match &all[i].spec {
                ApplySpec::AuthorizedKey(keys) => keys.resolved().err().map(|e| (i, Err(e))),
                _ => None,
            })
            .collect();
        if !unresolved.is_empty() {
            return unresolved;
        }
        let walked = Walked::default();
        FILES
            .plan(all, tasks, chained_after, link_targets, cx)
            .into_iter()
            .map(|(i, planned)| {
                let first = makes_directory(all, chained_after, i);
                (
                    i,
                    planned.and_then(|file| combine(&all[i], file, first, &walked)),
                )
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        if before.user != after.user
            || before.directory_route != after.directory_route
            || before.directory.is_some() != after.directory.is_some()
        {
            return Err("`before` and `after` are not of one user's keys".to_owned());
        }
        if let (Some(dir_before), Some(dir_after)) = (&before.directory, &after.directory) {
            let parent = std::path::Path::new(&after.file.path).parent();
            let wanted = dir_after.state == EntryKind::Directory
                && dir_after.mode.as_deref() == Some("0700")
                && dir_before.path == dir_after.path
                && parent == Some(std::path::Path::new(&dir_after.path));
            if !wanted {
                return Err("its directory is not the file's, 0700".to_owned());
            }
            crate::fsutil::check_plain_absolute(&dir_after.path)?;
        }
        if after.file.mode.as_deref() != Some("0600") && after.file.state == EntryKind::File {
            return Err("its file is not 0600".to_owned());
        }
        file_backed::verify_public_node(
            node,
            (action(&before, &after), fingerprint(&before, node.route)),
            "an authorized_key node",
            (&before.file, &after.file),
        )
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let file = FILES.describe(&FilePart::of(&before.file, &after.file, node.route).view(node));
        let mut details = Vec::new();
        if let (Some(dir_before), Some(dir_after)) = (&before.directory, &after.directory) {
            let text = match files::action(dir_before, dir_after) {
                Action::Create => format!(
                    "create directory {} (0700, owner {})",
                    escape(&dir_after.path),
                    escape(dir_after.owner.as_deref().unwrap_or_default())
                ),
                Action::NoOp => format!("directory {} is as wanted", escape(&dir_after.path)),
                _ => format!(
                    "set directory {} to 0700, owner {} (was {}, owner {})",
                    escape(&dir_after.path),
                    escape(dir_after.owner.as_deref().unwrap_or_default()),
                    dir_before.mode.as_deref().unwrap_or("-"),
                    escape(dir_before.owner.as_deref().unwrap_or_default())
                ),
            };
            details.push(Detail::plain(text));
        }
        details.extend(file.details);
        Description {
            what: format!(
                "authorized keys of {} in {}",
                escape(&after.user),
                escape(&after.file.path)
            ),
            details,
            diff_lines: file.diff_lines,
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        decode(after, "after").ok().map(|state| state.file.path)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        if let Err(why) = check_directory(node, &before) {
            return Some(why);
        }
        FILES.stale(&FilePart::of(&before.file, &after.file, node.route).view(node))
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        let (before, after) = decode_node(node)?;
        if let (Some((now, place)), Some(want)) =
            (check_directory(node, &before)?, &after.directory)
            && files::action(&now.state, want).changes()
        {
            fs_state::converge(&now.state, want, &place)?;
        }
        let part = FilePart::of(&before.file, &after.file, node.route);
        if part.action.changes() {
            FILES.run(&part.view(node), config)?;
        }
        Ok(Ran::CHANGED)
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        super::file_backed::finish_file_parts(nodes, run_started, |node| {
            let (before, after) = decode_node(node).ok()?;
            Some((before.file, after.file))
        });
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let Ok((before, after)) = decode_node(node) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        if directory_action(&before, &after).changes() {
            changes.push(Change {
                field: "directory".to_owned(),
                before: json!(before.directory.as_ref().map(|d| d.state)),
                after: json!(after.directory.as_ref().map(|d| d.state)),
            });
        }
        let part = FilePart::of(&before.file, &after.file, node.route);
        if part.action.changes() {
            changes.push(Change {
                field: "file".to_owned(),
                before: json!(before.file.state),
                after: json!(after.file.state),
            });
            changes.extend(FILES.changes(&part.view(node)));
        }
        changes
    }
}
