//! `reboot`: reboots the host at the end of a run — as a handler, when a task notifying it
//! changed something; under `apply:`, when `/run/reboot-required` exists (Debian's flag, set
//! by packages that need a reboot). Planned and run by the power family ([`super::power`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Requirement, Resource};
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// Reboots the host once everything else of the run is done.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebootTask {
    /// The message logged in users' terminals and the journal (default "Reboot initiated by
    /// driftless").
    pub msg: Option<Spanned<String>>,
    /// Reboot this long after the run (rounded up to whole minutes: `shutdown -r +N`);
    /// default at once (`systemctl reboot`).
    pub pre_reboot_delay: Option<Spanned<Duration>>,
    /// The command that reboots, split into words (never run by a shell), instead of
    /// `systemctl reboot` / `shutdown -r +N`.
    pub reboot_command: Option<Spanned<String>>,
}

impl Resource for RebootTask {
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        "reboot".to_owned()
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        super::power::check_msg(self.msg.as_ref(), found);
        let Some(command) = &self.reboot_command else {
            return;
        };
        match super::commands::words::split(&command.value) {
            Ok(words) if !words.is_empty() => {}
            Ok(_) => found.push(Diagnostic::error("`reboot_command` is empty").at(command.span)),
            Err(why) => found.push(
                Diagnostic::error(format!(
                    "`reboot_command` cannot be split into words: {why}"
                ))
                .at(command.span)
                .help("e.g. `reboot_command: \"systemctl reboot --force\"`"),
            ),
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::power::POWER
    }
}
