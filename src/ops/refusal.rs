//! Why a run was refused before it changed anything.

use std::fmt;
use std::path::PathBuf;

use super::compile::Compiled;

/// A run refused before anything on the host changed. Each variant says what was refused, with
/// what a caller needs to tell the user; `Display` is the one-line reason.
pub enum Refusal {
    /// The plan file cannot be read, or is not a plan this driftless runs.
    Unreadable(String),
    /// The plan was made on another host.
    OtherHost(String),
    /// Another run holds the host's run lock. The refused run's report (every node skipped)
    /// was written; `report_failures` says why a sink did not take it.
    LockHeld {
        why: String,
        report_failures: Vec<String>,
    },
    /// The run lock in the state directory cannot be used at all.
    LockUnusable(String),
    /// The plan needs its config again (sensitive values, collectors), but the config at
    /// `config_dir` is not the one it was made from.
    ConfigChanged { config_dir: PathBuf },
    /// The config the plan was made from has errors now; its diagnostics are in it.
    ConfigErrors(Box<Compiled>),
    /// Sensitive nodes of the plan that are not those of its config, one message each.
    SensitivityMismatch(Vec<String>),
    /// Nodes whose observed state changed since the plan, one line each.
    Stale(Vec<String>),
    /// The plan's nodes cannot be run (the scheduler refused them).
    NotRun(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unreadable(why)
            | Refusal::OtherHost(why)
            | Refusal::LockHeld { why, .. }
            | Refusal::LockUnusable(why)
            | Refusal::NotRun(why) => f.write_str(why),
            Refusal::ConfigChanged { config_dir } => write!(
                f,
                "the plan has sensitive values, collectors or plugins, which come again from the config \
                 at {}, but that config is not the one the plan was made from; make a new plan",
                config_dir.display()
            ),
            Refusal::ConfigErrors(_) => f.write_str("the config the plan was made from has errors"),
            Refusal::SensitivityMismatch(mismatches) => write!(
                f,
                "the plan's sensitive nodes are not those of the config it names: {}",
                mismatches.join("; ")
            ),
            Refusal::Stale(lines) => write!(f, "the plan is stale: {}", lines.join("; ")),
        }
    }
}
