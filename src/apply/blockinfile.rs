//! `blockinfile`: lines between two marker lines, inserted, replaced or removed, with
//! Ansible's semantics (an empty block removes the markers too).

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::{absolute, insertion};
use super::files::{self, FileType, WantContext, Wanted, refuse_symlink};
use super::fs_state::{EntryKind, FsState, Observed};
use super::lineinfile::{anchor, current_lines, edited_file};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The marker line `blockinfile` uses when the task sets none.
pub const DEFAULT_BLOCK_MARKER: &str = "# {mark} DRIFTLESS MANAGED BLOCK";

/// A block of lines between two marker lines: inserted, updated or removed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockInFileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// The lines between the markers; empty or unset removes the block and its markers, as
    /// in Ansible.
    pub block: Option<Spanned<String>>,
    /// The marker line; `{mark}` becomes `marker_begin` or `marker_end`. Default
    /// `# {mark} DRIFTLESS MANAGED BLOCK`.
    pub marker: Option<Spanned<String>>,
    #[serde(default = "default_begin")]
    pub marker_begin: String,
    #[serde(default = "default_end")]
    pub marker_end: String,
    #[serde(default)]
    pub state: State,
    /// Insert after the last line matching this regular expression, or `EOF` (default).
    pub insert_after: Option<Spanned<String>>,
    /// Insert before the last line matching this regular expression, or `BOF`.
    pub insert_before: Option<Spanned<String>>,
    /// Create the file when it does not exist.
    #[serde(default)]
    pub create: bool,
    /// A command run on the new content before it replaces the file: `%s` is the path of a
    /// temporary copy (split into words like a `command`'s `cmd`, never run by a shell), e.g.
    /// `sshd -t -f %s`. When it does not exit 0 the old file is kept and the task fails with
    /// the command's output. Runs only when the content changes.
    pub validate: Option<Spanned<String>>,
    /// Before new content replaces an existing file, keep the old one as
    /// `<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (UTC; Ansible's naming). Only when the content
    /// changes.
    #[serde(default)]
    pub backup: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

fn default_begin() -> String {
    "BEGIN".to_owned()
}

fn default_end() -> String {
    "END".to_owned()
}

impl BlockInFileTask {
    /// The marker line, with `{mark}` still in it.
    fn marker(&self) -> &str {
        self.marker
            .as_ref()
            .map_or(DEFAULT_BLOCK_MARKER, |m| m.value.as_str())
    }
}

crate::model::apply::attributes!(BlockInFileTask);

impl Resource for BlockInFileTask {
    const SECRET_FIELDS: &'static [&'static str] = &["block"];

    /// A part of the file: other edits of it share the file, in the order written.
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Edits(Some(self.marker().to_owned())))
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.path.value, Some(self))
    }

    /// `blockinfile:<path>`, with the marker when it is not the default one.
    fn default_id(&self) -> String {
        let marker = self
            .marker
            .as_ref()
            .filter(|m| m.value != DEFAULT_BLOCK_MARKER);
        files::edit_id("blockinfile", &self.path.value, marker)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.path, "path", found);
        insertion(&self.insert_after, &self.insert_before, found);
        if let Some(marker) = &self.marker
            && !marker.value.contains("{mark}")
        {
            found.push(
                Diagnostic::error("`marker` must contain `{mark}`")
                    .at(marker.span)
                    .help("`{mark}` becomes BEGIN and END, so the two marker lines differ: \"# {mark} MANAGED\""),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.block.as_ref().is_some_and(|v| v.sensitive)
    }

    files::member!();
}

impl FileType for BlockInFileTask {
    fn write_checks(&self) -> files::write_checks::WriteChecks<'_> {
        files::write_checks::WriteChecks {
            validate: self.validate.as_ref(),
            backup: self.backup,
        }
    }

    fn path(&self) -> &Spanned<String> {
        &self.path
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        want(self, observed)
    }
}

fn want(task: &BlockInFileTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    refuse_symlink(observed, path)?;
    let block = task.block.as_ref().map_or("", |b| b.value.as_str());
    let sensitive = task.block.as_ref().is_some_and(|b| b.sensitive);
    let remove = task.state == State::Absent || block.is_empty();
    if remove && observed.state.state == EntryKind::Absent {
        return Ok(Wanted {
            state: FsState::absent(path),
            sensitive,
        });
    }
    let marker = task.marker();
    let begin = marker.replace("{mark}", &task.marker_begin);
    let end = marker.replace("{mark}", &task.marker_end);
    let mut lines = current_lines(observed, path, task.create)?;
    let start = lines.lines.iter().position(|l| *l == begin);
    let stop = start.and_then(|s| {
        lines.lines[s + 1..]
            .iter()
            .position(|l| *l == end)
            .map(|i| s + 1 + i)
    });
    let mut new_block = Vec::new();
    if !remove {
        new_block.push(begin.clone());
        new_block.extend(block.lines().map(str::to_owned));
        new_block.push(end.clone());
    }
    match (start, stop) {
        (Some(s), Some(e)) => {
            lines.lines.splice(s..=e, new_block);
        }
        _ if remove => {}
        _ => {
            let at = lines.insertion_point(&anchor(
                task.insert_after.as_ref().map(|a| a.value.as_str()),
                task.insert_before.as_ref().map(|b| b.value.as_str()),
            )?);
            lines.lines.splice(at..at, new_block);
        }
    }
    edited_file(path, &lines, observed, task, sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FsState;
    use crate::model::Spanned;

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::unplaced(s.to_owned())
    }

    fn task(block: &str) -> BlockInFileTask {
        BlockInFileTask {
            path: spanned("/etc/x"),
            block: Some(spanned(block)),
            marker: None,
            marker_begin: "BEGIN".to_owned(),
            marker_end: "END".to_owned(),
            state: State::Present,
            insert_after: None,
            insert_before: None,
            create: true,
            validate: None,
            backup: false,
            mode: None,
            owner: None,
            group: None,
        }
    }

    fn run(task: &BlockInFileTask, content: &str) -> String {
        let mut state = FsState::absent("/etc/x");
        state.state = EntryKind::File;
        let observed = Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        };
        let wanted = want(task, &observed).expect("want");
        wanted.state.content.unwrap_or_else(|| content.to_owned())
    }

    #[test]
    fn block_is_appended_then_replaced_in_place() {
        let once = run(&task("a\nb\n"), "top\n");
        assert_eq!(
            once,
            "top\n# BEGIN DRIFTLESS MANAGED BLOCK\na\nb\n# END DRIFTLESS MANAGED BLOCK\n"
        );
        let twice = run(&task("c\n"), &format!("{once}bottom\n"));
        assert_eq!(
            twice,
            "top\n# BEGIN DRIFTLESS MANAGED BLOCK\nc\n# END DRIFTLESS MANAGED BLOCK\nbottom\n"
        );
        assert_eq!(run(&task("c\n"), &twice), twice);
    }

    #[test]
    fn empty_block_removes_the_markers() {
        let content = "x\n# BEGIN DRIFTLESS MANAGED BLOCK\na\n# END DRIFTLESS MANAGED BLOCK\ny\n";
        assert_eq!(run(&task(""), content), "x\ny\n");
    }
}
