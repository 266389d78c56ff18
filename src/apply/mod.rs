//! The resource contract, and the file family's implementation of it.
//!
//! Every apply type answers the same questions (compare mgmt's CheckApply):
//! - **address**: the thing it manages (a path) — [`crate::model::ApplySpec::path`];
//! - **requires**: what must exist first — [`requires`] (the parent directory, a link's
//!   target), matched by the lowering against what other tasks manage;
//! - **observe**: read the current state, no side effects — [`fs_state::observe`];
//! - **diff**: the wanted state from the observed one, the action, before/after and a text
//!   diff — [`plan_task`] with one `want` function per type (one file each). This *is* the
//!   dry run, so a dry run is exact for every type;
//! - **apply**: make it so — [`fs_state::converge`], shared by the whole family because each
//!   type reduces to a wanted [`FsState`].

mod blockinfile;
mod copy;
mod directory;
mod file;
pub mod fs_state;
mod lineinfile;
mod link;
pub mod principals;
mod template;
mod text;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use fs_state::{EntryKind, FsState, Observed, Place};
pub use text::{lines, verify_diff};

use crate::config::ConfigDir;
use crate::fsutil::walk::Route;
use crate::model::ApplyTask;
use crate::model::apply::ApplySpec;
use crate::model::apply::Attributes;
use principals::Db;

/// What a node will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Delete,
    Run,
    /// A facts node: run a collector once and report its values and threshold events; changes
    /// nothing on the host.
    Collect,
}

impl Action {
    /// Whether the node changes the host.
    pub fn changes(self) -> bool {
        !matches!(self, Action::NoOp | Action::Collect)
    }
}

/// A wanted state and whether any part of it came from a secret.
pub struct Wanted {
    pub state: FsState,
    pub sensitive: bool,
}

/// The outcome of observe + diff for one task.
pub struct Planned {
    pub action: Action,
    pub before: FsState,
    pub after: FsState,
    /// The wanted content came from a secret: plan.json and diffs must not show it.
    pub sensitive: bool,
    pub diff: Option<String>,
    /// Of `before` and `route`: `execute` refuses the node when the path no longer looks like
    /// this, or is no longer reached the same way.
    pub fingerprint: String,
    /// How the path was reached when observed.
    pub route: Route,
    /// The state this node leaves, for the next task editing the same file.
    pub leaves: Observed,
}

impl Planned {
    /// Marks the content sensitive although this task's own values are not: another edit of
    /// the same file writes a secret into it, which this one's content and diff would show.
    pub fn hide_content(&mut self) {
        self.sensitive = true;
        // As for any sensitive node, the fingerprint holds no hash of the content.
        self.fingerprint = fs_state::fingerprint(&self.before, &self.route.digest(), false);
        if self.diff.is_some() {
            self.diff = Some(text::hidden(&self.after.path));
        }
    }
}

/// What must exist before a task: paths other tasks may manage.
pub fn requires(spec: &ApplySpec) -> Vec<String> {
    let mut paths = Vec::new();
    if let Some(parent) = Path::new(&spec.path().value).parent()
        && parent != Path::new("/")
        && !parent.as_os_str().is_empty()
    {
        paths.push(parent.to_string_lossy().into_owned());
    }
    if let ApplySpec::Link(link) = spec
        && let Some(src) = &link.src
    {
        // A relative target is resolved from the link's directory, as the kernel does.
        let link_dir = Path::new(&spec.path().value)
            .parent()
            .unwrap_or(Path::new("/"));
        paths.push(link_dir.join(&src.value).to_string_lossy().into_owned());
    }
    paths
}

/// Whether any content the task writes comes from a secret: what makes its node sensitive
/// (unless the content is kept), or every edit of the same file when it is one of several.
pub fn carries_secret(task: &ApplyTask) -> bool {
    let rendered = task.rendered.as_ref().is_some_and(|r| r.sensitive);
    let value = |v: &Option<crate::model::Spanned<String>>| v.as_ref().is_some_and(|v| v.sensitive);
    match &task.spec {
        ApplySpec::File(t) => rendered || value(&t.content),
        ApplySpec::Copy(t) => value(&t.content),
        ApplySpec::Template(_) => rendered,
        ApplySpec::LineInFile(t) => value(&t.line),
        ApplySpec::BlockInFile(t) => value(&t.block),
        ApplySpec::Directory(_) | ApplySpec::Link(_) => false,
    }
}

/// Observes the task's path and computes the wanted state. `chained` is the state an earlier
/// task editing the same file leaves: then nothing is read from disk.
pub fn plan_task(
    task: &ApplyTask,
    config_dir: &ConfigDir,
    chained: Option<&Observed>,
) -> Result<Planned, String> {
    let spec = &task.spec;
    let path = &spec.path().value;
    let observed = match chained {
        Some(state) => state.clone(),
        None => observe_for(spec, path).map_err(|e| format!("cannot read {path}: {e}"))?,
    };
    let context = Context { config_dir };
    let mut wanted = match spec {
        ApplySpec::File(t) => file::want(t, task.rendered.as_ref(), &context, &observed)?,
        ApplySpec::Directory(t) => directory::want(t, &observed)?,
        ApplySpec::Link(t) => link::want(t, &observed)?,
        ApplySpec::Copy(t) => copy::want(t, &context, &observed)?,
        ApplySpec::Template(t) => template::want(t, task.rendered.as_ref(), &observed)?,
        ApplySpec::LineInFile(t) => lineinfile::want(t, &observed)?,
        ApplySpec::BlockInFile(t) => blockinfile::want(t, &observed)?,
    };
    restrict_new_secret_file(&mut wanted, &observed.state, spec);
    let before = observed.state.clone();
    let after = wanted.state;
    let action = action(&before, &after);
    let diff = text::diff(&observed, &after, wanted.sensitive, action);
    // A `noop` task never runs, so the next edit of the same file starts from what is there.
    let leaves = if task.meta.noop {
        observed.clone()
    } else {
        Observed {
            content: match after.state {
                EntryKind::File => after.content_bytes()?.or_else(|| observed.content.clone()),
                _ => None,
            },
            state: after.without_content(),
            route: observed.route.clone(),
        }
    };
    Ok(Planned {
        action,
        fingerprint: fs_state::fingerprint(&before, &observed.route.digest(), !wanted.sensitive),
        route: observed.route,
        before: before.without_content(),
        after,
        sensitive: wanted.sensitive,
        diff,
        leaves,
    })
}

/// A regular file created with content from a secret, by a task that gives no `mode`, is
/// created `0600` instead of the `0644` default: the secret stays the owner's. An existing
/// file keeps its mode, as for any task without `mode`.
fn restrict_new_secret_file(wanted: &mut Wanted, observed: &FsState, spec: &ApplySpec) {
    let attributes: &dyn Attributes = match spec {
        ApplySpec::File(t) => t,
        ApplySpec::Copy(t) => t,
        ApplySpec::Template(t) => t,
        ApplySpec::LineInFile(t) => t,
        ApplySpec::BlockInFile(t) => t,
        ApplySpec::Directory(_) | ApplySpec::Link(_) => return,
    };
    let created = wanted.state.state == EntryKind::File && observed.state != EntryKind::File;
    if wanted.sensitive && created && attributes.mode().is_none() {
        wanted.state.set_mode(0o600);
    }
}

/// Observes the path the way the task's type looks at it.
pub fn observe_for(spec: &ApplySpec, path: &str) -> std::io::Result<Observed> {
    match spec {
        ApplySpec::File(t) => fs_state::observe(path, t.follow, None),
        ApplySpec::Link(t) if t.kind == crate::model::apply::LinkKind::Hard => {
            fs_state::observe(path, false, t.src.as_ref().map(|s| s.value.as_str()))
        }
        _ => fs_state::observe(path, false, None),
    }
}

/// Re-observes a planned node's path for `execute`, from its wanted state, keeping the place
/// observed open for the change.
pub fn observe_wanted(after: &FsState) -> std::io::Result<(Observed, Place)> {
    let hard_link_to = (after.state == EntryKind::HardLink)
        .then_some(after.target.as_deref())
        .flatten();
    fs_state::observe_in_place(&after.path, after.follow, hard_link_to)
}

/// The action that turns `before` into `after`.
pub fn action(before: &FsState, after: &FsState) -> Action {
    match (before.state, after.state) {
        (EntryKind::Absent, EntryKind::Absent) => Action::NoOp,
        (EntryKind::Absent, _) => Action::Create,
        (_, EntryKind::Absent) => Action::Delete,
        _ => {
            let differs = before.state != after.state
                || (after.sha256.is_some() && after.sha256 != before.sha256)
                || (after.mode.is_some() && after.mode != before.mode)
                || (after.uid.is_some() && after.uid != before.uid)
                || (after.gid.is_some() && after.gid != before.gid)
                || after.target != before.target;
            if differs {
                Action::Update
            } else {
                Action::NoOp
            }
        }
    }
}

/// What the type functions need besides the task and the observation.
pub struct Context<'a> {
    pub config_dir: &'a ConfigDir,
}

/// Mode, owner and group of a wanted entry: the task's when given, else what is there, else
/// `default_mode` and the running user (for new entries).
fn attributes(
    want: &mut FsState,
    observed: &FsState,
    task: &dyn Attributes,
    default_mode: u32,
) -> Result<(), String> {
    let (mode, owner, group) = (task.mode(), task.owner(), task.group());
    let existing = observed.state == want.state;
    match (mode, existing) {
        (Some(mode), _) => want.set_mode(mode.value.0),
        (None, true) => want.mode = observed.mode.clone(),
        (None, false) => want.set_mode(default_mode),
    }
    // Unset: what is there, or for a new entry the user running driftless (who creates it).
    let (uid, gid) = principals::current();
    match owner {
        Some(owner) => want.set_owner(principals::resolve(Db::User, &owner.value)?),
        None => want.set_owner(observed.uid.filter(|_| existing).unwrap_or(uid)),
    }
    match group {
        Some(group) => want.set_group(principals::resolve(Db::Group, &group.value)?),
        None => want.set_group(observed.gid.filter(|_| existing).unwrap_or(gid)),
    }
    Ok(())
}

/// A wanted regular file with the given content (`None`: keep what is there).
fn regular_file(path: &str, content: Option<&[u8]>, observed: &Observed) -> FsState {
    let mut want = FsState::absent(path);
    want.state = EntryKind::File;
    want.follow = observed.state.follow;
    match content {
        Some(bytes) => want.set_content(bytes),
        None if observed.state.state == EntryKind::File => {
            want.sha256 = observed.state.sha256.clone();
            want.size = observed.state.size;
        }
        None => want.set_content(b""),
    }
    want
}

/// A symlink at a path the task manages is refused unless the task follows links.
fn refuse_symlink(observed: &Observed, path: &str) -> Result<(), String> {
    if observed.state.state == EntryKind::Link {
        return Err(format!(
            "{path} is a symbolic link; driftless does not write through links it was not told \
             to follow (set `follow: true` on a `file` task, or manage the link with `link`)"
        ));
    }
    Ok(())
}

/// A directory or special file at a path that should be a regular file is refused: replacing
/// it would lose what is there (a rename cannot replace a directory anyway).
fn refuse_non_file(observed: &Observed, path: &str) -> Result<(), String> {
    match observed.state.state {
        EntryKind::Directory | EntryKind::Other => Err(format!(
            "{path} exists and is not a regular file (it is a {}); remove it first",
            match observed.state.state {
                EntryKind::Directory => "directory",
                _ => "special file",
            }
        )),
        _ => Ok(()),
    }
}

/// A file of the config dir, as bytes: a regular file of at most [`MAX_FILE_BYTES`].
///
/// [`MAX_FILE_BYTES`]: crate::fsutil::MAX_FILE_BYTES
fn config_file(context: &Context<'_>, relative: &str) -> Result<Vec<u8>, String> {
    let path = context.config_dir.resolve_asset(relative)?;
    crate::fsutil::read_regular_file(&path)
        .map_err(|e| format!("cannot read {relative} in the config directory: {e}"))
}
