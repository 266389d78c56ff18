//! `template`: a file rendered from a template file of the config dir (rendered by the
//! template stage, so undefined variables are found by `check`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::absolute;
use super::files::{
    self, FileType, WantContext, Wanted, refuse_non_file, refuse_symlink, replaced_file,
};
use super::fs_state::Observed;
use crate::diagnostics::Diagnostic;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// A file rendered from a template file of the config dir.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTask {
    /// The template file, relative to the config dir (e.g. `templates/motd.j2`).
    pub src: Spanned<String>,
    /// Absolute destination path.
    pub dest: Spanned<String>,
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

crate::model::apply::attributes!(TemplateTask);

impl Resource for TemplateTask {
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.dest, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.dest.value, Some(self))
    }

    fn default_id(&self) -> String {
        format!("template:{}", self.dest.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.dest, "dest", found);
    }

    fn carries_secret(&self, rendered: Option<&RenderedContent>) -> bool {
        rendered.is_some_and(|r| r.sensitive)
    }

    files::member!();
}

impl FileType for TemplateTask {
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
        let rendered = cx
            .rendered
            .ok_or_else(|| format!("template {} was not rendered", task.src.value))?;
        let content = rendered.text.as_bytes();
        replaced_file(
            path,
            content,
            rendered.sensitive,
            task.force,
            observed,
            task,
        )
    }
}
