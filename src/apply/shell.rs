//! `shell`: a command line run by a shell, `/bin/sh -c CMD` (or `executable`): pipes,
//! redirections, variables and `;` mean what they mean to the shell. `unless` and `onlyif` run
//! through the same shell.

use super::commands::{self, CommandType, Program, Shared, command_task};
use super::contract::{CheckContext, Claim, Requirement, Resource};
use super::field_rules::absolute;
use crate::config::ConfigDir;
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// The shell when the task names none.
pub const DEFAULT_SHELL: &str = "/bin/sh";

command_task! {
    /// Runs a command line through a shell.
    pub struct ShellTask {
        /// The command line the shell runs.
        pub cmd: Spanned<String>,
        /// The shell (an absolute path; default /bin/sh), run as `SHELL -c CMD`.
        pub executable: Option<Spanned<String>>,
    }
}

impl ShellTask {
    fn shell(&self) -> &str {
        self.executable
            .as_ref()
            .map_or(DEFAULT_SHELL, |e| e.value.as_str())
    }

    fn through_shell(&self, line: &str) -> Vec<String> {
        vec![self.shell().to_owned(), "-c".to_owned(), line.to_owned()]
    }
}

impl Resource for ShellTask {
    const SECRET_FIELDS: &'static [&'static str] = &["cmd", "env", "stdin"];
    const RESULT_FIELDS: &'static [&'static str] = super::commands::RESULT_FIELDS;

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        commands::requires(&self.common())
    }

    fn default_id(&self) -> String {
        let cmd = if self.cmd.sensitive {
            "(sensitive)"
        } else {
            self.cmd.value.as_str()
        };
        format!("shell:{cmd}")
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        commands::check(&self.common(), found);
        if self.cmd.value.trim().is_empty() {
            found.push(
                Diagnostic::error("`cmd` is empty: there is nothing for the shell to run")
                    .at(self.cmd.span)
                    .help("write the command line, e.g. `cmd: \"ls /tmp | wc -l\"`"),
            );
        }
        if let Some(executable) = &self.executable {
            absolute(executable, "executable", found);
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        commands::carries_secret(&self.common(), self.cmd.sensitive)
    }

    fn family() -> &'static dyn super::Family {
        &commands::COMMANDS
    }
}

impl CommandType for ShellTask {
    fn program(&self, _: &ConfigDir) -> Result<Program, String> {
        let sensitive = [false, false, self.cmd.sensitive];
        Ok(Program {
            argv: self
                .through_shell(&self.cmd.value)
                .into_iter()
                .zip(sensitive)
                .collect(),
            script: None,
        })
    }

    fn guard_argv(&self, line: &str) -> Result<Vec<String>, String> {
        Ok(self.through_shell(line))
    }
}
