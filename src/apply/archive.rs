//! `archive`: files and directories packed into one tar (gz, bz2, xz or plain) or zip file,
//! with the fields of `community.general.archive`. Re-made only when its inputs changed: the
//! plan reads the manifest the existing archive records and compares it with the inputs as
//! they are ([`super::packing`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::files;
use super::one_or_list::OneOrList;
use super::packing::{self, Format};
use crate::diagnostics::Diagnostic;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// Files and directories packed into one archive file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveTask {
    /// What to archive: absolute paths or globs (`*` and `?` within one name), one or a list.
    /// A directory is archived with everything below it; names in the archive are relative
    /// to the deepest directory holding every match (`/srv/app` is archived as `app/…`).
    pub path: Spanned<OneOrList>,
    /// The archive file (absolute).
    pub dest: Spanned<String>,
    /// `gz` (default: tar.gz), `bz2`, `xz`, `tar` or `zip`.
    #[serde(default)]
    pub format: Format,
    /// Absolute paths or globs (`*` also across `/`) left out of the archive, with everything
    /// below them.
    pub exclude_path: Option<Spanned<OneOrList>>,
    /// Not supported: driftless never removes the archived files (`remove: false` is the only
    /// value accepted).
    #[serde(default)]
    pub remove: Option<Spanned<bool>>,
    /// The archive file's mode (default: kept, `0644` for a new archive).
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

crate::model::apply::attributes!(ArchiveTask);

impl ArchiveTask {
    pub fn patterns(&self) -> Vec<Spanned<String>> {
        OneOrList::items(&self.path)
    }

    pub fn excluded(&self) -> Vec<Spanned<String>> {
        self.exclude_path
            .as_ref()
            .map(OneOrList::items)
            .unwrap_or_default()
    }
}

impl Resource for ArchiveTask {
    /// The archive file, whole.
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.dest, Hold::Owns)
    }

    /// The archive's directory and owners, and the tasks managing the paths it names (not
    /// globs): the archive is made after them.
    fn requires(&self) -> Vec<Requirement> {
        let mut required = files::requires(&self.dest.value, Some(self));
        for pattern in self.patterns() {
            if !packing::inputs::is_glob(&pattern.value) {
                required.push(Requirement::exact(
                    Thing::path(&pattern.value),
                    Reason::ArchivedPath,
                ));
            }
        }
        required
    }

    /// `archive:<dest>`.
    fn default_id(&self) -> String {
        format!("archive:{}", self.dest.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.dest, "dest", found);
        let patterns = self.patterns();
        if patterns.is_empty() {
            found.push(
                Diagnostic::error("`path` names nothing to archive")
                    .at(self.path.span)
                    .help("give a path or a glob, e.g. `path: /srv/app`"),
            );
        }
        for pattern in patterns {
            absolute(&pattern, "path", found);
        }
        for pattern in self.excluded() {
            absolute(&pattern, "exclude_path", found);
        }
        if let Some(remove) = &self.remove
            && remove.value
        {
            found.push(
                Diagnostic::error("`remove: true` is not supported: driftless never deletes the files it archives")
                    .at(remove.span)
                    .help("remove the files with a `file` task (`state: absent`) after the archive, if you must"),
            );
        }
        let _ = cx;
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &packing::PACKING
    }
}
