//! `directory`: a directory (with its parents), or its removal — a non-empty one only with
//! `recurse: true`.

use super::{EntryKind, Observed, Wanted, attributes};
use crate::apply::FsState;
use crate::model::apply::{DirectoryTask, State};

pub fn want(task: &DirectoryTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    let mut state = FsState::absent(path);
    if task.state == State::Absent {
        if observed.state.state == EntryKind::Directory && !task.recurse {
            let not_empty = std::fs::read_dir(path)
                .map(|mut entries| entries.next().is_some())
                .unwrap_or(false);
            if not_empty {
                return Err(format!(
                    "{path} is not empty; set `recurse: true` to remove it with its contents"
                ));
            }
        }
        state.force = task.recurse;
        return Ok(Wanted {
            state,
            sensitive: false,
        });
    }
    match observed.state.state {
        EntryKind::Absent | EntryKind::Directory => {}
        other => {
            return Err(format!(
                "{path} exists and is not a directory (it is a {}); remove it first",
                format!("{other:?}").to_lowercase()
            ));
        }
    }
    state.state = EntryKind::Directory;
    state.parents = task.parents;
    attributes(&mut state, &observed.state, task, 0o755)?;
    Ok(Wanted {
        state,
        sensitive: false,
    })
}
