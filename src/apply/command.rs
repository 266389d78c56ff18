//! `command`: a program and its arguments, never run through a shell — `cmd` split into words
//! by a shell's quoting rules (`echo hi; rm -rf /` runs `echo` with four arguments), or `argv`
//! as a list. The fields every command type shares are the family's ([`super::commands`]).

use super::commands::{self, CommandType, Program, Shared, command_task, words};
use super::contract::{CheckContext, Claim, Requirement, Resource};
use crate::config::ConfigDir;
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

command_task! {
    /// Runs a program with its arguments, never through a shell.
    pub struct CommandTask {
        /// The command line, split into words as a shell would quote them — but never run by
        /// one: no variables, globs, pipes, redirections or `;`.
        pub cmd: Option<Spanned<String>>,
        /// The program and its arguments as a list, instead of `cmd`.
        pub argv: Option<Vec<Spanned<String>>>,
    }
}

impl CommandTask {
    /// The words as given: `argv`'s, or `cmd` split (empty when it cannot be).
    fn words(&self) -> Vec<(String, bool)> {
        match (&self.argv, &self.cmd) {
            (Some(argv), _) => argv
                .iter()
                .map(|a| (a.value.clone(), a.sensitive))
                .collect(),
            (None, Some(cmd)) => words::split(&cmd.value)
                .unwrap_or_default()
                .into_iter()
                .map(|w| (w, cmd.sensitive))
                .collect(),
            (None, None) => Vec::new(),
        }
    }
}

impl Resource for CommandTask {
    const SECRET_FIELDS: &'static [&'static str] = &["cmd", "argv", "env", "stdin"];
    const RESULT_FIELDS: &'static [&'static str] = super::commands::RESULT_FIELDS;

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        commands::requires(&self.common())
    }

    fn default_id(&self) -> String {
        let words = self.words();
        let shown: Vec<&str> = words
            .iter()
            .map(|(w, secret)| if *secret { "(sensitive)" } else { w.as_str() })
            .map(|w| if w.is_empty() { "''" } else { w })
            .collect();
        format!("command:{}", shown.join(" "))
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        commands::check(&self.common(), found);
        match (&self.cmd, &self.argv) {
            (Some(cmd), Some(_)) => found.push(
                Diagnostic::error("`cmd` and `argv` cannot both be set")
                    .at(cmd.span)
                    .help("keep only one: `cmd: \"ls -l /tmp\"` or `argv: [ls, -l, /tmp]`"),
            ),
            (None, None) => found.push(
                Diagnostic::error("a command needs `cmd` or `argv`")
                    .at(cx.task)
                    .help("add `cmd: \"ls -l /tmp\"` or `argv: [ls, -l, /tmp]`"),
            ),
            (Some(cmd), None) => match words::split(&cmd.value) {
                Ok(words) if words.is_empty() => found.push(
                    Diagnostic::error("`cmd` is empty: there is no program to run")
                        .at(cmd.span)
                        .help("write the program and its arguments, e.g. `cmd: \"ls -l /tmp\"`"),
                ),
                Ok(_) => {}
                Err(why) => found.push(
                    Diagnostic::error(format!("`cmd` cannot be split into words: {why}"))
                        .at(cmd.span)
                        .help("close the quote, or give the words as a list with `argv`"),
                ),
            },
            (None, Some(argv)) => match argv.first() {
                None => found.push(
                    Diagnostic::error("`argv` is empty: there is no program to run")
                        .at(cx.task)
                        .help("write the program and its arguments, e.g. `argv: [ls, -l, /tmp]`"),
                ),
                Some(program) if program.value.is_empty() => found.push(
                    Diagnostic::error("the program, `argv`'s first word, is empty")
                        .at(program.span)
                        .help("name the program, e.g. `argv: [ls, -l, /tmp]`"),
                ),
                Some(_) => {}
            },
        }
        for (field, line) in [("unless", &self.unless), ("onlyif", &self.onlyif)] {
            commands::check_guard_line(line.as_ref(), field, words::split, found);
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        let own = self.cmd.as_ref().is_some_and(|c| c.sensitive)
            || self.argv.iter().flatten().any(|a| a.sensitive);
        commands::carries_secret(&self.common(), own)
    }

    fn family() -> &'static dyn super::Family {
        &commands::COMMANDS
    }
}

impl CommandType for CommandTask {
    fn program(&self, _: &ConfigDir) -> Result<Program, String> {
        if let Some(Err(why)) = self.cmd.as_ref().map(|c| words::split(&c.value)) {
            return Err(format!("`cmd` cannot be split into words: {why}"));
        }
        let argv = self.words();
        if argv.is_empty() {
            return Err("no program to run".to_owned());
        }
        Ok(Program { argv, script: None })
    }

    fn guard_argv(&self, line: &str) -> Result<Vec<String>, String> {
        words::split(line)
    }
}
