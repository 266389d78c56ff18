//! `shutdown` (Ansible's `community.general.shutdown`): powers the host off at the end of a
//! run, as a handler only — when a task notifying it changed something. Planned and run by
//! the power family ([`super::power`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Requirement, Resource};
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// Powers the host off once everything else of the run is done.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownTask {
    /// The message logged in users' terminals and the journal (default "Shut down initiated
    /// by driftless").
    pub msg: Option<Spanned<String>>,
    /// Power off this long after the run (rounded up to whole minutes: `shutdown -h +N`);
    /// default at once (`systemctl poweroff`).
    pub delay: Option<Spanned<Duration>>,
}

impl Resource for ShutdownTask {
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        "shutdown".to_owned()
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        super::power::check_msg(self.msg.as_ref(), found);
        if !cx.handler {
            found.push(
                Diagnostic::error("`shutdown` runs only as a handler: under `apply:` it would power the host off on every run")
                    .at(cx.task)
                    .help("move it under `handlers:` and `notify` it from the task that needs it"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::power::POWER
    }
}
