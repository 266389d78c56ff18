//! `debug` (Ansible's): a message in the plan (`show` prints it) and in the run output, from a
//! text (`msg`) or the value of a var or expression (`var`). It changes nothing: its node is
//! `no-op`, run by `execute` to report the message ([`super::control`]). A message read from a
//! secret is `(sensitive)` everywhere it would be printed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Family, Requirement, Resource};
use super::control::{CONTROLS, ControlRun, shown_message};
use super::field_rules::exclusive;
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// The most `-v` a `verbosity` may ask for (Ansible's scale: 0 to 4).
const MAX_VERBOSITY: u8 = 4;

/// A message for whoever reads the plan or the run's output.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebugTask {
    /// The message (templated). Without `msg` and `var`, the message is `Hello world!`, as
    /// in Ansible.
    pub msg: Option<Spanned<String>>,
    /// A var's name or an expression (without braces: `facts.os`, `ports | length`): the
    /// message is `EXPRESSION: VALUE`, the value as JSON. Evaluated when the config is
    /// planned, like `when`.
    pub var: Option<Spanned<String>>,
    /// The run output prints the message only with at least this many `-v` (0 to 4; default
    /// 0: always). The plan, `show` and the run report always have it.
    pub verbosity: Option<Spanned<u8>>,
}

impl DebugTask {
    /// The message the task reports.
    fn message(&self) -> (&str, bool) {
        match (&self.msg, &self.var) {
            (Some(text), _) | (None, Some(text)) => (&text.value, text.sensitive),
            (None, None) => ("Hello world!", false),
        }
    }

    /// What its node does.
    pub fn run(&self) -> ControlRun {
        let (text, sensitive) = self.message();
        ControlRun::Debug {
            msg: shown_message(text, sensitive),
            verbosity: self.verbosity.as_ref().map_or(0, |v| v.value),
        }
    }
}

impl Resource for DebugTask {
    const SECRET_FIELDS: &'static [&'static str] = &["msg", "var"];

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        let (text, sensitive) = self.message();
        format!("debug:{}", shown_message(text, sensitive))
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        exclusive(
            &[("msg", self.msg.as_ref()), ("var", self.var.as_ref())],
            found,
        );
        if let Some(verbosity) = self.verbosity.as_ref().filter(|v| v.value > MAX_VERBOSITY) {
            found.push(
                Diagnostic::error(format!(
                    "`verbosity` is at most {MAX_VERBOSITY}, found {}",
                    verbosity.value
                ))
                .at(verbosity.span)
                .help("0 prints the message always; 1 to 4 only with as many `-v`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.message().1
    }

    fn family() -> &'static dyn Family {
        &CONTROLS
    }
}
