//! `file`: a regular file with content given inline, rendered from a template file, or copied
//! from the config dir — or its absence.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::{absolute, config_file as config_file_rule, exclusive, not_when_absent};
use super::files::{
    self, FileType, Lookup, WantContext, Wanted, attributes, config_file, refuse_non_file,
    refuse_symlink, regular_file,
};
use super::fs_state::{FsState, Observed};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// A regular file: its content (inline, from a template file, or copied from the config dir),
/// mode and ownership; or its absence.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// What `check` refuses of the fields together, for editors too: one source of content, and
// none when the file is to be absent.
#[schemars(extend(
    "not" = { "anyOf": [
        { "required": ["content", "template"] },
        { "required": ["content", "source"] },
        { "required": ["template", "source"] }
    ] },
    "if" = { "properties": { "state": { "const": "absent" } }, "required": ["state"] },
    "then" = { "not": { "anyOf": [
        { "required": ["content"] }, { "required": ["template"] }, { "required": ["source"] }
    ] } }
))]
pub struct FileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// The file's content, inline.
    pub content: Option<Spanned<String>>,
    /// A template file, relative to the config dir, rendered into the content.
    pub template: Option<Spanned<String>>,
    /// A file of the config dir copied as the content.
    pub source: Option<Spanned<String>>,
    /// When `path` is a symlink, manage the file it points to instead of refusing.
    #[serde(default)]
    pub follow: bool,
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

crate::model::apply::attributes!(FileTask);

impl Resource for FileTask {
    const SECRET_FIELDS: &'static [&'static str] = &["content"];

    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.path.value, Some(self))
    }

    fn default_id(&self) -> String {
        format!("file:{}", self.path.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.path, "path", found);
        let content = [
            ("content", self.content.as_ref()),
            ("template", self.template.as_ref()),
            ("source", self.source.as_ref()),
        ];
        exclusive(&content, found);
        not_when_absent(self.state, &content, found);
        config_file_rule(self.source.as_ref(), cx.config_dir, found);
    }

    fn carries_secret(&self, rendered: Option<&RenderedContent>) -> bool {
        rendered.is_some_and(|r| r.sensitive) || self.content.as_ref().is_some_and(|c| c.sensitive)
    }

    files::member!();
}

impl FileType for FileTask {
    fn write_checks(&self) -> files::write_checks::WriteChecks<'_> {
        files::write_checks::WriteChecks {
            validate: self.validate.as_ref(),
            backup: self.backup,
        }
    }

    fn path(&self) -> &Spanned<String> {
        &self.path
    }

    fn lookup(&self) -> Lookup<'_> {
        Lookup {
            follow: self.follow,
            hard_link_to: None,
        }
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, cx: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let task = self;
        let path = &task.path.value;
        if !task.follow {
            refuse_symlink(observed, path)?;
        }
        // A `file` task never removes or replaces a directory, even an empty one.
        refuse_non_file(observed, path)?;
        if task.state == State::Absent {
            return Ok(Wanted {
                state: FsState::absent(path),
                sensitive: false,
            });
        }
        let (content, sensitive) = match (&task.content, cx.rendered, &task.source) {
            (Some(content), _, _) => (Some(content.value.as_bytes().to_vec()), content.sensitive),
            (None, Some(rendered), _) => {
                (Some(rendered.text.as_bytes().to_vec()), rendered.sensitive)
            }
            (None, None, Some(source)) => (Some(config_file(cx, &source.value)?), false),
            (None, None, None) => (None, false),
        };
        let mut state = regular_file(path, content.as_deref(), observed);
        attributes(&mut state, &observed.state, task, 0o644)?;
        Ok(Wanted { state, sensitive })
    }
}
