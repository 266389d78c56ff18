//! `group`: a local group — its id — or its absence, made so with `groupadd`, `groupmod` and
//! `groupdel`. Fields and meanings are Ansible's `group` module's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::accounts::{self, rules};
use super::contract::{CheckContext, Claim, Family, Requirement, Resource};
use crate::diagnostics::Diagnostic;
use crate::model::apply::State;
use crate::model::{RenderedContent, Spanned};

/// A local group, or its absence.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupTask {
    /// The group's name.
    pub name: Spanned<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// The numeric group id; unset: `groupadd` picks one for a new group, an existing group
    /// keeps its own.
    pub gid: Option<Spanned<i64>>,
    /// Make a new group a system group (`groupadd --system`: an id below `GID_MIN`).
    #[serde(default)]
    pub system: bool,
}

impl Resource for GroupTask {
    fn claims(&self) -> Vec<Claim> {
        accounts::group_claims(&self.name)
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        format!("group:{}", self.name.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        rules::account_name(&self.name, "group", found);
        if let Some(gid) = &self.gid {
            rules::account_id(gid, "gid", found);
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &accounts::ACCOUNTS
    }
}
