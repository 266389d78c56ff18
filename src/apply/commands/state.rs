//! What a command node runs, as plan.json records it in `after`: the program and its
//! arguments, where, as whom, with what environment and input, for how long, and how its
//! result is judged. Values read from a secret are `(sensitive)` there, with a mask marking
//! them; `execute` takes them from the config again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::contract::{Recorded, SENSITIVE};
use super::{Common, Program};

/// How long a command may run when its task gives no `timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRun {
    /// The program and its arguments, exactly as run (a `shell` task's: the shell, `-c` and
    /// the command line).
    pub argv: Vec<String>,
    /// A `script` task's file, whose path on the host is put at `argv[script.position]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Script>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chdir: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// As a duration is written: `30s`, `1h`.
    pub timeout: String,
    /// `true`, `false` or an expression over rc, stdout and stderr.
    pub changed_when: String,
    pub failed_when: String,
}

/// A file of the config dir that a `script` task runs: its content is in the plan, so what
/// `execute` runs is what was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// As the task names it, relative to the config dir.
    pub src: String,
    pub content: String,
    /// Of `content`.
    pub sha256: String,
    /// Where in `argv` the path of its copy on the host goes.
    pub position: usize,
}

/// A run and which of its values came from a secret.
pub struct Built {
    pub run: CommandRun,
    pub secret_args: Vec<bool>,
    pub secret_env: Vec<String>,
    pub secret_stdin: bool,
}

impl Built {
    pub fn new(program: Program, common: &Common<'_>) -> Built {
        let (argv, secret_args): (Vec<String>, Vec<bool>) = program.argv.into_iter().unzip();
        let run = CommandRun {
            argv,
            script: program.script,
            chdir: common.chdir.map(|c| c.value.clone()),
            env: common
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            user: common.user.map(|u| u.value.clone()),
            stdin: common.stdin.map(|s| s.value.clone()),
            timeout: common.timeout.map_or_else(
                || crate::model::values::Duration(DEFAULT_TIMEOUT).to_string(),
                |t| t.value.to_string(),
            ),
            changed_when: common
                .changed_when
                .map_or_else(|| "true".to_owned(), |c| c.value.recorded()),
            failed_when: common
                .failed_when
                .map_or_else(|| "rc != 0".to_owned(), |c| c.value.recorded()),
        };
        Built {
            run,
            secret_args,
            secret_env: common
                .env
                .iter()
                .filter(|(_, v)| v.sensitive)
                .map(|(k, _)| k.clone())
                .collect(),
            secret_stdin: common.stdin.is_some_and(|s| s.sensitive),
        }
    }

    pub fn sensitive(&self) -> bool {
        self.secret_args.contains(&true) || !self.secret_env.is_empty() || self.secret_stdin
    }

    /// The run as plan.json shows it, and its mask.
    pub fn redacted(&self) -> (CommandRun, Value) {
        let mut run = self.run.clone();
        for (arg, secret) in run.argv.iter_mut().zip(&self.secret_args) {
            if *secret {
                *arg = SENSITIVE.to_owned();
            }
        }
        for key in &self.secret_env {
            run.env.insert(key.clone(), SENSITIVE.to_owned());
        }
        if self.secret_stdin {
            run.stdin = Some(SENSITIVE.to_owned());
        }
        let mask = mask_of(&run);
        (run, mask)
    }
}

/// The mask of a run as shown: `true` at each `(sensitive)` value, `false` when none is.
pub fn mask_of(run: &CommandRun) -> Value {
    let mut mask = serde_json::Map::new();
    if run.argv.iter().any(|a| a == SENSITIVE) {
        let args: Vec<bool> = run.argv.iter().map(|a| a == SENSITIVE).collect();
        mask.insert("argv".into(), json!(args));
    }
    let env: serde_json::Map<String, Value> = run
        .env
        .iter()
        .filter(|(_, v)| *v == SENSITIVE)
        .map(|(k, _)| (k.clone(), Value::Bool(true)))
        .collect();
    if !env.is_empty() {
        mask.insert("env".into(), Value::Object(env));
    }
    if run.stdin.as_deref() == Some(SENSITIVE) {
        mask.insert("stdin".into(), Value::Bool(true));
    }
    if mask.is_empty() {
        Value::Bool(false)
    } else {
        Value::Object(mask)
    }
}

impl CommandRun {
    pub fn decode(recorded: &Recorded, address: &str) -> Result<CommandRun, String> {
        let json = recorded
            .as_json()
            .ok_or_else(|| format!("{address}: `after` is not a command's"))?;
        CommandRun::deserialize(json).map_err(|e| format!("{address}: unreadable `after`: {e}"))
    }

    /// The timeout as a duration.
    pub fn timeout(&self) -> Result<std::time::Duration, String> {
        crate::model::values::Duration::parse(&self.timeout)
            .map(|d| d.0)
            .ok_or_else(|| format!("`{}` is not a duration", self.timeout))
    }

    /// The command line for humans: each word quoted when it must be.
    pub fn command_line(&self) -> String {
        let words: Vec<String> = self.argv.iter().map(|w| quoted(w)).collect();
        words.join(" ")
    }
}

/// A word as a shell would need it written to read it back as one word.
fn quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain || word == SENSITIVE {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
