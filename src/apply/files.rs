//! The file family: `file`, `directory`, `link`, `copy`, `template`, `lineinfile` and
//! `blockinfile`. Each of these types reduces to a wanted [`FsState`] of one path — a regular
//! file with exact content, a directory, a link, or nothing — so the family plans, checks,
//! shows and runs them all the same way:
//!
//! - `plan`: observe each path (editors of one file in a chain), compute the wanted state
//!   with the type's [`FileType::want`], the action, the diff and the fingerprint;
//! - `review`: a node read back from plan.json holds together, and how `show` prints it;
//! - `run`: the precondition checked again, then [`super::fs_state::converge`].

mod plan;
mod review;
mod run;
pub mod write_checks;

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;

use super::contract::{
    Claim, Description, Family, Hold, NodeStates, NodeView, PlanContext, Ran, Reason, Recompiled,
    Recorded, Requirement, Thing,
};
use super::fs_state::{EntryKind, FsState, Observed};
use crate::config::ConfigDir;
use crate::error::ResourceError;
use crate::host::users::{self, Db};
use crate::model::apply::Attributes;
use crate::model::values::Principal;
use crate::model::{ApplyTask, RenderedContent, Spanned};

/// A member of the file family: what it manages and how it wants it.
pub trait FileType {
    /// The path the task manages.
    fn path(&self) -> &Spanned<String>;

    /// How the path is looked at.
    fn lookup(&self) -> Lookup<'_> {
        Lookup::default()
    }

    /// Mode, owner and group the task sets; `None` for a type that sets none of its own.
    fn attributes(&self) -> Option<&dyn Attributes>;

    /// The wanted state, from what is there.
    fn want(&self, cx: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String>;

    /// `validate` and `backup`, for the types that write a file's content.
    fn write_checks(&self) -> write_checks::WriteChecks<'_> {
        write_checks::WriteChecks::default()
    }
}

/// How a path is observed.
#[derive(Default)]
pub struct Lookup<'a> {
    /// A symbolic link at the path is followed (`file` with `follow: true`).
    pub follow: bool,
    /// A regular file sharing its inode with this path reads as a hard link to it.
    pub hard_link_to: Option<&'a str>,
}

/// What [`FileType::want`] needs besides the task and the observation.
pub struct WantContext<'a> {
    pub config_dir: &'a ConfigDir,
    /// The rendered template file, for `template` and `file` with `template`.
    pub rendered: Option<&'a RenderedContent>,
}

/// A wanted state and whether any part of it came from a secret.
pub struct Wanted {
    pub state: FsState,
    pub sensitive: bool,
}

/// The family items of a file-family type's `Resource` implementation.
macro_rules! member {
    () => {
        fn family() -> &'static dyn $crate::apply::Family {
            &$crate::apply::files::FILES
        }

        fn file_type(&self) -> Option<&dyn $crate::apply::files::FileType> {
            Some(self)
        }
    };
}
pub(crate) use member;

/// The id of an edit of a file that gives none: `<kind>:<path>`, and what tells it apart from
/// other edits of the file (`distinct`) — never a value read from a secret.
pub fn edit_id(kind: &str, path: &str, distinct: Option<&Spanned<String>>) -> String {
    match distinct.filter(|d| !d.sensitive) {
        Some(key) => format!("{kind}:{path}:{}", key.value),
        None => format!("{kind}:{path}"),
    }
}

/// A regular file replaced with `content` (`force`), or kept as it is when it exists and the
/// task does not force it (`copy`, `template` with `force: false` only create the file).
pub fn replaced_file(
    path: &str,
    content: &[u8],
    sensitive: bool,
    force: bool,
    observed: &Observed,
    task: &dyn Attributes,
) -> Result<Wanted, String> {
    let keep = !force && observed.state.state == EntryKind::File;
    let mut state = regular_file(path, (!keep).then_some(content), observed);
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted {
        state,
        sensitive: sensitive && !keep,
    })
}

/// The claims of a file-family task on `path`.
pub fn claims(path: &Spanned<String>, hold: Hold) -> Vec<Claim> {
    vec![Claim {
        thing: Thing::path(&path.value),
        written: path.value.clone(),
        hold,
        span: path.span,
        sensitive: path.sensitive,
    }]
}

/// What a task on `path` needs first: the task managing its nearest managed parent
/// directory, and the tasks managing the user and group it gives (by name).
pub fn requires(path: &str, attributes: Option<&dyn Attributes>) -> Vec<Requirement> {
    let mut required = Vec::new();
    if let Some(parent) = Path::new(path).parent()
        && parent != Path::new("/")
        && let Some(parent) = parent.to_str().filter(|p| !p.is_empty())
    {
        required.push(Requirement {
            thing: Thing::path(parent),
            reason: Reason::ParentDirectory,
            nearest_ancestor: true,
        });
    }
    let named = |principal: Option<&Spanned<Principal>>| match principal.map(|p| &p.value) {
        Some(Principal::Name(name)) => Some(name.clone()),
        _ => None,
    };
    if let Some(attributes) = attributes {
        if let Some(user) = named(attributes.owner()) {
            required.push(Requirement::exact(Thing::User(user), Reason::OwnerUser));
        }
        if let Some(group) = named(attributes.group()) {
            required.push(Requirement::exact(Thing::Group(group), Reason::OwnerGroup));
        }
    }
    required
}

/// The family's one instance.
pub struct Files;

pub static FILES: Files = Files;

impl Family for Files {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        plan::plan_all(all, tasks, chained_after, link_targets, cx)
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        review::verify(node)
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        review::describe(node)
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        decode(after, "", "after")
            .ok()
            .map(|state| state.path.clone())
    }

    fn shows_content(&self, node: &NodeView<'_>) -> bool {
        decode(node.after, node.address, "after")
            .is_ok_and(|after| after.content.is_some() || after.content_base64.is_some())
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        run::check_precondition(node).err()
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        // A node reaches its family only when its action changes something.
        run::run(node, config).map(|()| Ran::CHANGED)
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        run::finish(nodes, run_started)
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<super::contract::Change> {
        // The content is the diff's; `force`, `follow` and `parents` say how, not what.
        let not_state = [
            "content",
            "content_base64",
            "sha256",
            "size",
            "force",
            "follow",
            "parents",
        ];
        super::contract::field_changes(node, &not_state)
    }
}

/// Mode, owner and group of a wanted entry: the task's when given, else what is there, else
/// `default_mode` and the running user (for new entries).
pub fn attributes(
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
    let (uid, gid) = users::current();
    match owner.map(|o| &o.value) {
        Some(Principal::Id(id)) => want.set_owner(*id),
        Some(Principal::Name(name)) => match users::resolve(Db::User, name) {
            Ok(id) => want.set_owner(id),
            Err(_) => want.owner = Some(name.clone()),
        },
        None => want.set_owner(observed.uid.filter(|_| existing).unwrap_or(uid)),
    }
    match group.map(|g| &g.value) {
        Some(Principal::Id(id)) => want.set_group(*id),
        Some(Principal::Name(name)) => match users::resolve(Db::Group, name) {
            Ok(id) => want.set_group(id),
            Err(_) => want.group = Some(name.clone()),
        },
        None => want.set_group(observed.gid.filter(|_| existing).unwrap_or(gid)),
    }
    Ok(())
}

/// A wanted owner or group named but not on the host (`uid`/`gid` unset) must be one a task of
/// the plan manages: it is looked up when the node runs, after that task made it.
pub fn refuse_unmanaged_principals(
    want: &FsState,
    managed: &std::collections::HashSet<Thing>,
) -> Result<(), String> {
    for (db, name) in want.pending_principals() {
        let thing = match db {
            Db::User => Thing::User(name.to_owned()),
            Db::Group => Thing::Group(name.to_owned()),
        };
        if !managed.contains(&thing) {
            let missing = users::resolve(db, name).err().unwrap_or_default();
            return Err(format!(
                "{missing}; create it first, or add a `{}` task for it",
                thing.noun()
            ));
        }
    }
    Ok(())
}

/// A wanted regular file with the given content (`None`: keep what is there).
pub fn regular_file(path: &str, content: Option<&[u8]>, observed: &Observed) -> FsState {
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
pub fn refuse_symlink(observed: &Observed, path: &str) -> Result<(), String> {
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
pub fn refuse_non_file(observed: &Observed, path: &str) -> Result<(), String> {
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
pub fn config_file(cx: &WantContext<'_>, relative: &str) -> Result<Vec<u8>, String> {
    let path = cx.config_dir.resolve_asset(relative)?;
    crate::fsutil::read_regular_file(&path)
        .map_err(|e| format!("cannot read {relative} in the config directory: {e}"))
}

/// The action that turns `before` into `after`.
pub fn action(before: &FsState, after: &FsState) -> super::Action {
    use super::Action;
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

/// The state a node's `before` or `after` records: as planned, or decoded from plan.json.
fn decode<'a>(
    recorded: &'a Recorded,
    address: &str,
    name: &str,
) -> Result<Cow<'a, FsState>, String> {
    match recorded {
        Recorded::File(state) => Ok(Cow::Borrowed(state)),
        Recorded::Json(value) => FsState::deserialize(value)
            .map(Cow::Owned)
            .map_err(|e| format!("{address}: unreadable `{name}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_requires_its_parent_directory_and_named_owners() {
        struct Owned(Spanned<Principal>, Spanned<Principal>);
        impl Attributes for Owned {
            fn mode(&self) -> Option<&Spanned<crate::model::values::Mode>> {
                None
            }
            fn owner(&self) -> Option<&Spanned<Principal>> {
                Some(&self.0)
            }
            fn group(&self) -> Option<&Spanned<Principal>> {
                Some(&self.1)
            }
        }
        let spanned = Spanned::unplaced;
        let owned = Owned(
            spanned(Principal::Name("deploy".to_owned())),
            spanned(Principal::Id(0)),
        );
        let required: Vec<(Thing, Reason)> = requires("/srv/app/x.conf", Some(&owned))
            .into_iter()
            .map(|r| (r.thing, r.reason))
            .collect();
        assert_eq!(
            required,
            vec![
                (Thing::Path("/srv/app".to_owned()), Reason::ParentDirectory),
                (Thing::User("deploy".to_owned()), Reason::OwnerUser),
            ]
        );
    }
}
