//! `script`: a file of the config dir (named like `copy`'s `src`, refused outside it) run with
//! `args` — directly (its `#!` line says how) or by `executable`. The plan holds the script's
//! content (`show` prints it): `execute` runs that content, copied into a private temporary
//! directory, whatever the file holds by then.

use super::commands::{self, CommandType, Program, Shared, command_task, words};
use super::contract::{CheckContext, Claim, Requirement, Resource};
use super::field_rules::{absolute, config_file};
use crate::config::ConfigDir;
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

command_task! {
    /// Runs a script of the config dir.
    pub struct ScriptTask {
        /// The script, a file of the config dir, e.g. `files/setup.sh`.
        pub src: Spanned<String>,
        /// Its arguments.
        #[serde(default)]
        pub args: Vec<Spanned<String>>,
        /// The program that runs the script (an absolute path, e.g. /usr/bin/python3); by
        /// default the script runs itself, by its `#!` line.
        pub executable: Option<Spanned<String>>,
    }
}

impl Resource for ScriptTask {
    const SECRET_FIELDS: &'static [&'static str] = &["args", "env", "stdin"];
    const RESULT_FIELDS: &'static [&'static str] = super::commands::RESULT_FIELDS;

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        commands::requires(&self.common())
    }

    fn default_id(&self) -> String {
        format!("script:{}", self.src.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        commands::check(&self.common(), found);
        config_file(Some(&self.src), cx.config_dir, found);
        if let Some(executable) = &self.executable {
            absolute(executable, "executable", found);
        }
        for (field, line) in [("unless", &self.unless), ("onlyif", &self.onlyif)] {
            commands::check_guard_line(line.as_ref(), field, words::split, found);
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        let own = self.args.iter().any(|a| a.sensitive);
        commands::carries_secret(&self.common(), own)
    }

    fn family() -> &'static dyn super::Family {
        &commands::COMMANDS
    }
}

impl CommandType for ScriptTask {
    fn program(&self, config_dir: &ConfigDir) -> Result<Program, String> {
        let path = config_dir.resolve_asset(&self.src.value)?;
        let content = crate::fsutil::read_regular_file(&path)
            .map_err(|e| format!("cannot read {}: {e}", self.src.value))?;
        let content = String::from_utf8(content)
            .map_err(|_| format!("{} is not text (UTF-8): a script is", self.src.value))?;
        let mut argv: Vec<(String, bool)> = self
            .executable
            .iter()
            .map(|e| (e.value.clone(), false))
            .collect();
        let position = argv.len();
        argv.push((self.src.value.clone(), false));
        argv.extend(self.args.iter().map(|a| (a.value.clone(), a.sensitive)));
        Ok(Program {
            argv,
            script: Some(commands::state::Script {
                src: self.src.value.clone(),
                sha256: super::fs_state::sha256_hex(content.as_bytes()),
                content,
                position,
            }),
        })
    }

    fn guard_argv(&self, line: &str) -> Result<Vec<String>, String> {
        words::split(line)
    }
}
