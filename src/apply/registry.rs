//! The registry of task types: one line per type. Adding a type is its file (the task struct
//! and its [`Resource`] implementation) and a line here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::blockinfile::BlockInFileTask;
use super::contract::{CheckContext, Claim, Family, Requirement, Resource};
use super::copy::CopyTask;
use super::directory::DirectoryTask;
use super::file::FileTask;
use super::files::FileType;
use super::lineinfile::LineInFileTask;
use super::link::LinkTask;
#[cfg(feature = "test-types")]
use super::probe::ProbeTask;
use super::template::TemplateTask;
use crate::diagnostics::Diagnostic;
use crate::model::RenderedContent;

/// Generates [`ApplySpec`] (what `check` deserializes a task into, by its `type`, and what the
/// JSON Schema in `grammar/` describes) and its dispatch to each type's [`Resource`].
macro_rules! task_types {
    ($($(#[$attr:meta])* $variant:ident($task:ty) = $name:literal,)*) => {
        /// The task types, selected by the `type` field.
        #[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
        #[schemars(tag = "type")]
        pub enum ApplySpec {
            $($(#[$attr])* #[serde(rename = $name)] $variant($task),)*
        }

        impl ApplySpec {
            /// Every name [`ApplySpec::type_name`] gives.
            pub const TYPE_NAMES: &'static [&'static str] = &[$($(#[$attr])* $name,)*];

            pub fn type_name(&self) -> &'static str {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(_) => $name,)*
                }
            }

            /// What the task manages (and the exclusive locks its node holds).
            pub fn claims(&self) -> Vec<Claim> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.claims(),)*
                }
            }

            /// What other tasks must have made first, when a task of the config claims it.
            pub fn requires(&self) -> Vec<Requirement> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.requires(),)*
                }
            }

            /// The id of a task that gives none.
            pub fn default_id(&self) -> String {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.default_id(),)*
                }
            }

            /// The rules of the task's fields beyond their types.
            pub fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.check(cx, found),)*
                }
            }

            /// Whether content the task writes comes from a secret.
            pub fn carries_secret(&self, rendered: Option<&RenderedContent>) -> bool {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.carries_secret(rendered),)*
                }
            }

            /// The family that plans and runs the task's node.
            pub fn family(&self) -> &'static dyn Family {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(_) => <$task as Resource>::family(),)*
                }
            }

            /// The task as a member of the file family, if it is one.
            pub fn file_type(&self) -> Option<&dyn FileType> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => t.file_type(),)*
                }
            }
        }

        /// The family of a node's type, as plan.json names it.
        pub fn family_of(type_name: &str) -> Option<&'static dyn Family> {
            match type_name {
                $($(#[$attr])* $name => Some(<$task as Resource>::family()),)*
                _ => None,
            }
        }
    };
}

task_types! {
    File(FileTask) = "file",
    Directory(DirectoryTask) = "directory",
    Link(LinkTask) = "link",
    Copy(CopyTask) = "copy",
    Template(TemplateTask) = "template",
    LineInFile(LineInFileTask) = "lineinfile",
    BlockInFile(BlockInFileTask) = "blockinfile",
    #[cfg(feature = "test-types")]
    Probe(ProbeTask) = "probe",
}

/// Types compiled only for the tests (feature `test-types`): left out of the schema and of the
/// lists of types diagnostics offer, so that a test build says what a shipped one does.
pub const TEST_ONLY_TYPES: &[&str] = &["probe"];
