//! `link`: a symbolic or hard link at `path` to `src`, or its removal.

use super::{EntryKind, Observed, Wanted, attributes};
use crate::apply::FsState;
use crate::model::apply::{LinkKind, LinkTask, State};

pub fn want(task: &LinkTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    let mut state = FsState::absent(path);
    if task.state == State::Absent {
        // Without `src` a hard link cannot be told by its target: any regular file that has
        // other names is one.
        let other_names = || {
            use std::os::unix::fs::MetadataExt;
            std::fs::symlink_metadata(path).is_ok_and(|m| m.nlink() > 1)
        };
        let is_link = match observed.state.state {
            EntryKind::Link | EntryKind::HardLink => true,
            EntryKind::File => task.kind == LinkKind::Hard && other_names(),
            _ => false,
        };
        if !is_link && observed.state.state != EntryKind::Absent && !task.force {
            return Err(format!(
                "{path} is not a link; set `force: true` to remove it anyway"
            ));
        }
        return Ok(Wanted {
            state,
            sensitive: false,
        });
    }
    let src = task
        .src
        .as_ref()
        .map(|s| s.value.clone())
        .ok_or_else(|| format!("link {path} has no `src`"))?;
    // Refused here, not when executing: the plan shows every failure it can foresee.
    let replaceable = matches!(
        observed.state.state,
        EntryKind::Absent | EntryKind::Link | EntryKind::HardLink
    );
    if !replaceable && !task.force {
        return Err(format!(
            "{path} exists and is not a link (it is a {}); set `force: true` to replace it",
            format!("{:?}", observed.state.state).to_lowercase()
        ));
    }
    state.state = match task.kind {
        LinkKind::Symbolic => EntryKind::Link,
        LinkKind::Hard => EntryKind::HardLink,
    };
    state.target = Some(src);
    state.force = task.force;
    if task.owner.is_some() || task.group.is_some() {
        attributes(&mut state, &observed.state, task, 0o777)?;
    }
    // A link's own mode means nothing on Linux: never compared, never set.
    state.mode = None;
    Ok(Wanted {
        state,
        sensitive: false,
    })
}
