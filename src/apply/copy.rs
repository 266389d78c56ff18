//! `copy`: a file from the config dir (or from the host with `remote_src`), or inline content.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::{absolute, config_file as config_file_rule, exclusive};
use super::files::{
    self, FileType, WantContext, Wanted, config_file, refuse_non_file, refuse_symlink,
    replaced_file,
};
use super::fs_state::Observed;
use crate::diagnostics::Diagnostic;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// A file copied from the config dir (or from the host with `remote_src`), or given inline.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyTask {
    /// A file of the config dir (or of the host with `remote_src: true`).
    pub src: Option<Spanned<String>>,
    /// The content, inline, instead of `src`.
    pub content: Option<Spanned<String>>,
    /// Absolute destination path.
    pub dest: Spanned<String>,
    /// `src` is a path on the host, not in the config dir.
    #[serde(default)]
    pub remote_src: bool,
    /// Replace a destination whose content differs (default true); false only creates it.
    #[serde(default = "crate::model::apply::yes")]
    pub force: bool,
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

crate::model::apply::attributes!(CopyTask);

impl Resource for CopyTask {
    const SECRET_FIELDS: &'static [&'static str] = &["content"];

    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.dest, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.dest.value, Some(self))
    }

    fn default_id(&self) -> String {
        format!("copy:{}", self.dest.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.dest, "dest", found);
        exclusive(
            &[
                ("src", self.src.as_ref()),
                ("content", self.content.as_ref()),
            ],
            found,
        );
        if self.src.is_none() && self.content.is_none() {
            found.push(
                Diagnostic::error("a copy needs `src` or `content`")
                    .at(self.dest.span)
                    .help("add `src: files/<name>` (a file of the config dir) or `content: …`"),
            );
        }
        match (&self.src, self.remote_src) {
            (Some(src), true) => absolute(src, "src", found),
            (src, false) => config_file_rule(src.as_ref(), cx.config_dir, found),
            (None, true) => {}
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.content.as_ref().is_some_and(|c| c.sensitive)
    }

    files::member!();
}

impl FileType for CopyTask {
    fn write_checks(&self) -> files::write_checks::WriteChecks<'_> {
        files::write_checks::WriteChecks {
            validate: self.validate.as_ref(),
            backup: self.backup,
        }
    }

    fn path(&self) -> &Spanned<String> {
        &self.dest
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, cx: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let task = self;
        let path = &task.dest.value;
        refuse_symlink(observed, path)?;
        refuse_non_file(observed, path)?;
        let (content, sensitive) = match (&task.content, &task.src) {
            (Some(content), _) => (content.value.as_bytes().to_vec(), content.sensitive),
            (None, Some(src)) if task.remote_src => (
                crate::fsutil::read_regular_file(std::path::Path::new(&src.value))
                    .map_err(|e| format!("cannot read {}: {e}", src.value))?,
                false,
            ),
            (None, Some(src)) => (config_file(cx, &src.value)?, false),
            (None, None) => return Err(format!("copy to {path} has neither `src` nor `content`")),
        };
        // `force: false` only creates the file; an existing one keeps its content.
        replaced_file(path, &content, sensitive, task.force, observed, task)
    }
}
