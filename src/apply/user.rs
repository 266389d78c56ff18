//! `user`: a local user account — its ids, primary and supplementary groups, home, shell,
//! comment and password hash — or its absence, made so with `useradd`, `usermod` and
//! `userdel`. Fields and meanings are Ansible's `user` module's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::accounts::{self, rules};
use super::contract::{CheckContext, Claim, Family, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use crate::diagnostics::Diagnostic;
use crate::model::apply::{State, yes};
use crate::model::{RenderedContent, Spanned};

/// A local user account, or its absence.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserTask {
    /// The login name.
    pub name: Spanned<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// The numeric user id; unset: `useradd` picks one for a new user, an existing user keeps
    /// its own.
    pub uid: Option<Spanned<i64>>,
    /// The primary group, by name. Unset: a new user gets a group named like itself (made by
    /// `useradd` unless it exists); an existing user keeps its own.
    pub group: Option<Spanned<String>>,
    /// Supplementary groups, by name. With `append: false` (default) the user ends up in
    /// exactly these (an empty list removes it from all); with `append: true` it is added to
    /// them and left in the others. Unset: not managed.
    pub groups: Option<Vec<Spanned<String>>>,
    /// Add the user to `groups` without removing it from others.
    #[serde(default)]
    pub append: bool,
    /// The home directory. Unset: `HOME` of /etc/default/useradd (`/home`) and the name for a
    /// new user; an existing user keeps its own (it is not moved when changed).
    pub home: Option<Spanned<String>>,
    /// The login shell. Unset: `SHELL` of /etc/default/useradd for a new user; an existing
    /// user keeps its own.
    pub shell: Option<Spanned<String>>,
    /// Make a new user a system account (`useradd --system`: an id below `UID_MIN`).
    #[serde(default)]
    pub system: bool,
    /// Make the home directory of a new user (default `true`).
    #[serde(default = "yes")]
    pub create_home: bool,
    /// The GECOS field (a full name).
    pub comment: Option<Spanned<String>>,
    /// The password as a crypt(3) hash (`$y$…`, `$6$…`; `!` or `*` locks the account). May
    /// come from a secret; always shown as `(sensitive)` and compared with the shadow file's
    /// hash only.
    pub password: Option<Spanned<String>>,
    /// With `state: absent`: remove the home directory and mail spool too (`userdel --remove`).
    pub remove: Option<Spanned<bool>>,
}

impl Resource for UserTask {
    const SECRET_FIELDS: &'static [&'static str] = &["password"];

    fn claims(&self) -> Vec<Claim> {
        accounts::user_claims(&self.name)
    }

    /// The tasks of the groups the user is put in go first. A user without `group` gets the
    /// group named like itself, so that one's task goes first too when there is one.
    fn requires(&self) -> Vec<Requirement> {
        if self.state == State::Absent {
            return Vec::new();
        }
        let primary = self.group.as_ref().map_or(&self.name.value, |g| &g.value);
        std::iter::once(primary)
            .chain(self.groups.iter().flatten().map(|g| &g.value))
            .map(|group| Requirement::exact(Thing::Group(group.clone()), Reason::AccountGroup))
            .collect()
    }

    fn default_id(&self) -> String {
        format!("user:{}", self.name.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        rules::account_name(&self.name, "user", found);
        if let Some(uid) = &self.uid {
            rules::account_id(uid, "uid", found);
        }
        if let Some(group) = &self.group {
            rules::account_name(group, "group", found);
        }
        for group in self.groups.iter().flatten() {
            rules::account_name(group, "group", found);
        }
        for (field, value) in [("home", &self.home), ("shell", &self.shell)] {
            if let Some(value) = value {
                absolute(value, field, found);
                rules::one_field(value, field, found);
            }
        }
        if let Some(comment) = &self.comment {
            rules::one_field(comment, "comment", found);
        }
        if let Some(password) = &self.password {
            rules::password_hash(password, found);
        }
        if let Some(remove) = self.remove.as_ref().filter(|r| r.value)
            && self.state != State::Absent
        {
            found.push(
                Diagnostic::error("`remove` has a meaning only with `state: absent`")
                    .at(remove.span)
                    .help("add `state: absent` to delete the user and its home, or drop `remove`"),
            );
        }
    }

    /// A password is a secret wherever it comes from: never shown, so its node is sensitive.
    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.password.is_some()
    }

    fn family() -> &'static dyn Family {
        &accounts::ACCOUNTS
    }
}
