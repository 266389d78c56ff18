//! `apply:` tasks after type-checking: the keywords every task has, and its type's fields
//! ([`ApplySpec`], one variant per type in the registry of [`crate::apply`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::TaskMeta;
use super::spanned::Spanned;
use super::values::{Mode, Principal};
pub use crate::apply::ApplySpec;

/// One `apply:` task after type-checking.
#[derive(Debug, Clone)]
pub struct ApplyTask {
    pub meta: TaskMeta,
    pub spec: ApplySpec,
    /// The rendered template file, for `template` tasks and `file` tasks with `template`.
    pub rendered: Option<super::RenderedContent>,
}

/// Mode, owner and group as a task type gives them: what the file family sets on what it
/// manages.
pub trait Attributes {
    fn mode(&self) -> Option<&Spanned<Mode>>;
    fn owner(&self) -> Option<&Spanned<Principal>>;
    fn group(&self) -> Option<&Spanned<Principal>>;
}

/// [`Attributes`] of a task struct with `mode`, `owner` and `group` fields.
macro_rules! attributes {
    ($task:ty) => {
        impl $crate::model::apply::Attributes for $task {
            fn mode(&self) -> Option<&$crate::model::Spanned<$crate::model::values::Mode>> {
                self.mode.as_ref()
            }
            fn owner(&self) -> Option<&$crate::model::Spanned<$crate::model::values::Principal>> {
                self.owner.as_ref()
            }
            fn group(&self) -> Option<&$crate::model::Spanned<$crate::model::values::Principal>> {
                self.group.as_ref()
            }
        }
    };
}
pub(crate) use attributes;

/// `present` (the default) or `absent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// The default of fields that are on unless set (`parents`, `force`).
pub fn yes() -> bool {
    true
}
