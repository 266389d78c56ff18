//! `link`: a symbolic or hard link at `path` to `src`, or its removal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::{absolute, absolute_target};
use super::files::{self, FileType, Lookup, WantContext, Wanted, attributes};
use super::fs_state::{EntryKind, FsState, Observed};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// Symbolic (default) or hard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    #[default]
    Symbolic,
    Hard,
}

/// A symbolic or hard link at `path` pointing at `src`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTask {
    /// Absolute path of the link.
    pub path: Spanned<String>,
    /// What the link points at (required unless `state: absent`).
    pub src: Option<Spanned<String>>,
    /// `symbolic` (default) or `hard`.
    #[serde(default)]
    pub kind: LinkKind,
    #[serde(default)]
    pub state: State,
    /// Replace an existing file at `path` that is not the wanted link.
    #[serde(default)]
    pub force: bool,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// A link has no mode of its own on Linux.
impl Attributes for LinkTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        None
    }
    fn owner(&self) -> Option<&Spanned<Principal>> {
        self.owner.as_ref()
    }
    fn group(&self) -> Option<&Spanned<Principal>> {
        self.group.as_ref()
    }
}

impl Resource for LinkTask {
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Owns)
    }

    /// Its directory, its owners, and what it points at: a relative target is resolved from
    /// the link's directory, as the kernel does.
    fn requires(&self) -> Vec<Requirement> {
        let mut required = files::requires(&self.path.value, Some(self));
        if let Some(src) = &self.src {
            let link_dir = Path::new(&self.path.value)
                .parent()
                .unwrap_or(Path::new("/"));
            let target = link_dir.join(&src.value);
            required.push(Requirement::exact(
                Thing::path(&target.to_string_lossy()),
                Reason::LinkTarget,
            ));
        }
        required
    }

    fn default_id(&self) -> String {
        format!("link:{}", self.path.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.path, "path", found);
        match (&self.src, self.state) {
            (None, State::Present) => found.push(
                Diagnostic::error("a link needs `src`, what it points at")
                    .at(self.path.span)
                    .help("add `src: /path/to/target`"),
            ),
            (Some(src), State::Present) if self.kind == LinkKind::Hard => {
                absolute(src, "src", found)
            }
            (Some(src), _) => absolute_target(src, found),
            _ => {}
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    files::member!();
}

impl FileType for LinkTask {
    fn path(&self) -> &Spanned<String> {
        &self.path
    }

    /// A hard link is told from a copy by its inode: the file at `path` is read as a hard
    /// link when it shares its inode with `src`.
    fn lookup(&self) -> Lookup<'_> {
        Lookup {
            follow: false,
            hard_link_to: (self.kind == LinkKind::Hard)
                .then(|| self.src.as_ref().map(|s| s.value.as_str()))
                .flatten(),
        }
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        None
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        want(self, observed)
    }
}

fn want(task: &LinkTask, observed: &Observed) -> Result<Wanted, String> {
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
