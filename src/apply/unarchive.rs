//! `unarchive`: a tar, tar.gz, tar.xz or zip archive — a file of the config dir, or of the
//! host with `remote_src` (a `get_url` download, say) — extracted into `dest`. Planned and run
//! by the archive family ([`super::archives`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Reason, Requirement, Resource, Thing};
use super::field_rules::{absolute, config_file};
use crate::diagnostics::Diagnostic;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// An archive extracted into a directory.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnarchiveTask {
    /// The archive: a file of the config dir, or an absolute path on the host with
    /// `remote_src: true`. Its format is read from its first bytes.
    pub src: Spanned<String>,
    /// Absolute path of the directory to extract into: it must exist, or a task of the config
    /// makes it.
    pub dest: Spanned<String>,
    /// `src` is a file on the host (made by a task of the config, e.g. `get_url`, or there).
    #[serde(default)]
    pub remote_src: bool,
    /// Extract nothing when this path exists.
    pub creates: Option<Spanned<String>>,
    /// Leading components removed from every entry's path (as `tar --strip-components`);
    /// entries left with no path are skipped.
    #[serde(default)]
    pub strip_components: usize,
    /// Entries not extracted: patterns (`*`, `?`) matched against an entry's path below
    /// `dest` (after `strip_components`); a directory excluded excludes what is in it.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Mode of the extracted files (default: the archive's, setuid and setgid dropped).
    /// Directories keep the archive's mode.
    pub mode: Option<Spanned<Mode>>,
    /// Owner of everything extracted (default: the user running driftless).
    pub owner: Option<Spanned<Principal>>,
    /// Group of everything extracted.
    pub group: Option<Spanned<Principal>>,
}

impl Resource for UnarchiveTask {
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        let mut required = vec![Requirement {
            thing: Thing::path(&self.dest.value),
            reason: Reason::ParentDirectory,
            nearest_ancestor: true,
        }];
        if self.remote_src {
            required.push(Requirement::exact(
                Thing::path(&self.src.value),
                Reason::ArchiveSource,
            ));
        }
        let named = |p: &Option<Spanned<Principal>>| match p.as_ref().map(|p| &p.value) {
            Some(Principal::Name(name)) => Some(name.clone()),
            _ => None,
        };
        if let Some(user) = named(&self.owner) {
            required.push(Requirement::exact(Thing::User(user), Reason::OwnerUser));
        }
        if let Some(group) = named(&self.group) {
            required.push(Requirement::exact(Thing::Group(group), Reason::OwnerGroup));
        }
        required
    }

    fn default_id(&self) -> String {
        format!("unarchive:{}", self.dest.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.dest, "dest", found);
        if self.remote_src {
            absolute(&self.src, "src", found);
        } else {
            config_file(Some(&self.src), cx.config_dir, found);
        }
        if let Some(creates) = &self.creates {
            absolute(creates, "creates", found);
        }
        for pattern in &self.exclude {
            if pattern.value.is_empty() {
                found.push(
                    Diagnostic::error("an `exclude` pattern is empty")
                        .at(pattern.span)
                        .help("e.g. `exclude: [\"docs\", \"*.md\"]`"),
                );
            }
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::archives::ARCHIVES
    }
}
