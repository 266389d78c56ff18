//! The accounts family: `user` and `group`. Each task is one entry of the account databases
//! (passwd, shadow, group), observed through the host readers of [`crate::host::users`] and
//! changed only with the system's own tools — `useradd`, `usermod`, `userdel`, `chpasswd`,
//! `groupadd`, `groupmod`, `groupdel` — run through [`crate::process`] (an argument vector,
//! never a shell), which keep the files, their locks and `nscd` consistent.
//!
//! A node's `before` and `after` record only what changes (with the name, and whether the
//! account exists), so the plan reads as what will happen; its fingerprint covers the whole
//! entry as observed, so `execute` refuses a node whose account changed since the plan. A
//! password is never recorded: it shows as `(sensitive)`, is compared with the shadow file's
//! hash in this process only, and is taken from the config again when the node runs.

mod groups;
pub mod rules;
mod users;

pub use groups::GroupState;
pub use users::UserState;

use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::contract::{
    Claim, Description, Family, Hold, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    Thing,
};
use super::{Action, ApplySpec};
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::process::Invocation;

/// The family's one instance.
pub struct Accounts;

pub static ACCOUNTS: Accounts = Accounts;

/// The lock every account node holds while it runs: the tools lock the account files and
/// fail, rather than wait, when another holds them.
const ACCOUNT_FILES_LOCK: &str = "account files";

/// The claims of an account task: the account, and the account files' lock while it runs.
fn claims(thing: Thing, name: &crate::model::Spanned<String>) -> Vec<Claim> {
    vec![
        Claim {
            written: name.value.clone(),
            thing,
            hold: Hold::Owns,
            span: name.span,
            sensitive: false,
        },
        Claim {
            thing: Thing::Lock(ACCOUNT_FILES_LOCK.to_owned()),
            written: ACCOUNT_FILES_LOCK.to_owned(),
            hold: Hold::Exclusive,
            span: name.span,
            sensitive: false,
        },
    ]
}

pub fn user_claims(name: &crate::model::Spanned<String>) -> Vec<Claim> {
    claims(Thing::User(name.value.clone()), name)
}

pub fn group_claims(name: &crate::model::Spanned<String>) -> Vec<Claim> {
    claims(Thing::Group(name.value.clone()), name)
}

impl Family for Accounts {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        // The shadow file is read once for all user tasks, and only if one sets a password.
        let shadow = Mutex::new(users::Shadow::default());
        tasks
            .iter()
            .map(|&i| {
                let planned = match &all[i].spec {
                    ApplySpec::User(task) => users::plan(task, &shadow, cx),
                    ApplySpec::Group(task) => groups::plan(task),
                    other => Err(format!("a `{}` task is no account", other.type_name())),
                };
                (i, planned)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        match node.type_name {
            "user" => users::verify(node),
            _ => groups::verify(node),
        }
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let described = match node.type_name {
            "user" => users::describe(node),
            _ => groups::describe(node),
        };
        described.unwrap_or_else(|why| Description {
            what: crate::printable::escape(&why).into_owned(),
            details: Vec::new(),
            diff_lines: Vec::new(),
        })
    }

    /// `user:NAME` or `group:NAME`: a user state names its user in `user`, a group state its
    /// group in `group`.
    fn key(&self, after: &Recorded) -> Option<String> {
        let after = after.as_json()?;
        ["user", "group"].into_iter().find_map(|kind| {
            let name = after.get(kind)?.as_str()?;
            Some(format!("{kind}:{name}"))
        })
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let now = match node.type_name {
            "user" => users::fingerprint_now(node),
            _ => groups::fingerprint_now(node),
        };
        match now {
            Ok(now) if now == node.fingerprint => None,
            Ok(_) => Some(format!(
                "{}: the account changed since the plan; make a new plan",
                node.address
            )),
            Err(why) => Some(format!("{}: {why}", node.address)),
        }
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        if let Some(why) = self.stale(node) {
            return Err(ResourceError::permanent(why));
        }
        let ran = match node.type_name {
            "user" => users::run(node, config),
            _ => groups::run(node),
        };
        // Whatever happened, the answers kept about accounts may be wrong now.
        crate::host::users::forget();
        ran.map(|()| Ran::CHANGED)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}

/// A node's state as its type records it.
fn decode<T: DeserializeOwned>(recorded: &Recorded, which: &str) -> Result<T, String> {
    recorded.decode(which, "an account's")
}

fn record<T: Serialize>(state: &T) -> Recorded {
    Recorded::Json(serde_json::to_value(state).unwrap_or(Value::Null))
}

/// The action that turns an account that exists or not into one that exists or not, with
/// changes or not.
fn action(before_present: bool, after_present: bool, changes: bool) -> Action {
    match (before_present, after_present) {
        (false, false) => Action::NoOp,
        (false, true) => Action::Create,
        (true, false) => Action::Delete,
        (true, true) if changes => Action::Update,
        (true, true) => Action::NoOp,
    }
}

/// SHA-256 over the fields of an entry, each ended by a NUL (no field holds one).
fn fingerprint(fields: &[&str]) -> String {
    let mut bytes = Vec::new();
    for field in fields {
        bytes.extend_from_slice(field.as_bytes());
        bytes.push(0);
    }
    super::fs_state::sha256_hex(&bytes)
}

fn is_fingerprint(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Runs one of the account tools and wants it to succeed; `stdin` is for `chpasswd`, which
/// reads the hash there so that it is never on a command line.
fn tool(argv: Vec<String>, stdin: Option<Vec<u8>>) -> Result<(), ResourceError> {
    let mut invocation = Invocation::new(argv).timeout(std::time::Duration::from_secs(120));
    invocation.stdin = stdin;
    crate::process::output(&invocation).map(|_| ())
}

/// A value of a state in a message or a line of `show`: control characters escaped.
fn shown(text: &str) -> String {
    crate::printable::escape(text).into_owned()
}
