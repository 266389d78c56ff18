//! `fail` (Ansible's): stops with a message. Like `assert`, it is a check-time error — with
//! the task's place and its message — when it applies to the host: no `when`, or a `when`
//! that holds when the config is compiled (`check`, `plan` and `apply` stop before anything is
//! planned). A `fail` whose `when` reads a registered result is known only when tasks run: it
//! is planned as a `no-op` node that fails when that `when` holds ([`super::control`]), so
//! its dependents are skipped. As a handler, it fails when notified.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Family, Requirement, Resource};
use super::control::{CONTROLS, ControlRun, shown_message};
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// Ansible's message when none is given.
const DEFAULT_MESSAGE: &str = "Failed as requested from task";

/// A failure, with its message.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailTask {
    /// Why (templated; say what the host needs). Default: `Failed as requested from task`.
    pub msg: Option<Spanned<String>>,
}

impl FailTask {
    /// The message, `(sensitive)` when read from a secret.
    pub fn message(&self) -> String {
        match &self.msg {
            Some(msg) => shown_message(&msg.value, msg.sensitive),
            None => DEFAULT_MESSAGE.to_owned(),
        }
    }

    /// What its node does.
    pub fn run(&self) -> ControlRun {
        ControlRun::Fail {
            msg: self.message(),
        }
    }
}

impl Resource for FailTask {
    const SECRET_FIELDS: &'static [&'static str] = &["msg"];

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        format!("fail:{}", self.message())
    }

    fn check(&self, _: &CheckContext<'_>, _: &mut Vec<Diagnostic>) {}

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.msg.as_ref().is_some_and(|m| m.sensitive)
    }

    fn family() -> &'static dyn Family {
        &CONTROLS
    }
}
