//! What the families built on the file family (sysctl, cron, hostname, timezone, mount …)
//! share: their file edits are planned by the file family, which chains only the edits it is
//! given.

use serde_json::Value;

use super::Action;
use super::contract::{Family, NodeStates, NodeView, Recorded};
use super::files::{self, Wanted, refuse_non_file, refuse_symlink};
use super::fs_state::{self, FsState, Observed};
use crate::model::ApplyTask;
use crate::model::apply::Attributes;

/// The file part of a node whose states hold a file's state among other things: what the
/// file family checks, shows and runs of it.
pub struct FilePart {
    states: (Recorded, Recorded),
    /// The file's own fingerprint, of its `before` and the node's route.
    pub fingerprint: String,
    pub action: Action,
}

impl FilePart {
    pub fn of(before: &FsState, after: &FsState, route: &str) -> FilePart {
        FilePart {
            states: (
                Recorded::File(before.clone()),
                Recorded::File(after.clone()),
            ),
            fingerprint: fs_state::fingerprint(before, route, true),
            action: files::action(before, after),
        }
    }

    /// The node as a file node of the file family (never sensitive).
    pub fn view<'a>(&'a self, node: &NodeView<'a>) -> NodeView<'a> {
        static NOT_SENSITIVE: Value = Value::Bool(false);
        NodeView {
            address: node.address,
            type_name: node.type_name,
            action: self.action,
            before: &self.states.0,
            after: &self.states.1,
            before_sensitive: &NOT_SENSITIVE,
            after_sensitive: &NOT_SENSITIVE,
            fingerprint: &self.fingerprint,
            route: node.route,
            diff: node.diff,
            chained: node.chained,
            after_same_file: node.after_same_file,
            after_link_target: false,
        }
    }
}

/// After a run, the file parts of a family's nodes finished by the file family (each changed
/// file's directory synced, stale temp files swept). `file_of` gives a node's file part's
/// `before` and `after`.
pub fn finish_file_parts(
    nodes: &[(NodeView<'_>, bool)],
    run_started: std::time::SystemTime,
    file_of: impl Fn(&NodeView<'_>) -> Option<(FsState, FsState)>,
) {
    let parts: Vec<_> = nodes
        .iter()
        .filter_map(|(node, changed)| {
            let (before, after) = file_of(node)?;
            Some((*node, FilePart::of(&before, &after, node.route), *changed))
        })
        .collect();
    let views: Vec<(NodeView<'_>, bool)> = parts
        .iter()
        .map(|(node, part, changed)| (part.view(node), *changed))
        .collect();
    files::FILES.finish(&views, run_started);
}

/// The edits of a file that follow a task of another family, where one of the two is of
/// `tasks` (one family's): each family plans only its own tasks, so such a chain cannot be
/// planned. An error for each (the file family, planning the other side, only knows that an
/// edit before it was not planned).
pub fn edits_by_other_families(
    all: &[ApplyTask],
    tasks: &[usize],
    chained_after: &[Option<usize>],
) -> Vec<(usize, Result<NodeStates, String>)> {
    let family = |i: usize| all[i].spec.family().identity();
    let mine = |i: usize| tasks.contains(&i);
    (0..all.len())
        .filter_map(|i| {
            let previous = chained_after[i]?;
            if !(mine(i) || mine(previous)) || family(previous) == family(i) {
                return None;
            }
            let why = format!(
                "its file is also edited by `apply.{}` (a `{}` task); edit a file with tasks of \
                 one kind: `{}` tasks, or `lineinfile`/`blockinfile` tasks",
                all[previous].meta.id,
                all[previous].spec.type_name(),
                all[if mine(i) { i } else { previous }].spec.type_name(),
            );
            Some((i, Err(why)))
        })
        .collect()
}

/// The wanted state of a file that holds one name on one line (`/etc/hostname`,
/// `/etc/timezone`): `NAME\n`, mode 0644 unless the task says otherwise; a file already
/// holding the name, whatever blank space is around it, is kept as it is.
pub fn one_name_file(
    path: &str,
    name: &str,
    observed: &Observed,
    attributes: &dyn Attributes,
) -> Result<Wanted, String> {
    refuse_symlink(observed, path)?;
    refuse_non_file(observed, path)?;
    let holds_name = observed
        .content
        .as_deref()
        .is_some_and(|c| std::str::from_utf8(c).is_ok_and(|c| c.trim() == name));
    let content = format!("{name}\n");
    let mut state =
        files::regular_file(path, (!holds_name).then_some(content.as_bytes()), observed);
    files::attributes(&mut state, &observed.state, attributes, 0o644)?;
    Ok(Wanted {
        state,
        sensitive: false,
    })
}

/// What every node built on the file family ends its `verify` with: its action and its
/// fingerprint are the ones its states give, it holds nothing sensitive (`kind` names it in
/// the message: "a mount node"), and its file part verifies as the file family's node would.
pub fn verify_public_node(
    node: &NodeView<'_>,
    (action, fingerprint): (Action, String),
    kind: &str,
    (before, after): (&FsState, &FsState),
) -> Result<(), String> {
    if node.action != action {
        return Err(format!(
            "its action `{}` does not follow from its states",
            node.action.as_str()
        ));
    }
    if *node.fingerprint != fingerprint {
        return Err("its fingerprint is not that of its `before`".to_owned());
    }
    if node.is_sensitive() || *node.before_sensitive != Value::Bool(false) {
        return Err(format!("{kind} has no sensitive value"));
    }
    files::FILES.verify(&FilePart::of(before, after, node.route).view(node))
}
