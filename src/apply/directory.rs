//! `directory`: a directory (with its parents), or its removal — a non-empty one only with
//! `recurse: true`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, attributes};
use super::fs_state::{EntryKind, FsState, Observed};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// A directory, created with its parents; or its removal.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryTask {
    /// Absolute path of the directory.
    pub path: Spanned<String>,
    #[serde(default)]
    pub state: State,
    /// Create missing parent directories (default true).
    #[serde(default = "crate::model::apply::yes")]
    pub parents: bool,
    /// With `state: absent`, remove the directory even when it is not empty.
    #[serde(default)]
    pub recurse: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

crate::model::apply::attributes!(DirectoryTask);

impl Resource for DirectoryTask {
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.path.value, Some(self))
    }

    fn default_id(&self) -> String {
        format!("directory:{}", self.path.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.path, "path", found);
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    files::member!();
}

impl FileType for DirectoryTask {
    fn path(&self) -> &Spanned<String> {
        &self.path
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let task = self;
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
}
