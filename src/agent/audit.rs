//! What the agent sends to the audit sinks besides run reports (which `ops` sends): plans of
//! previews and of plan-mode cycles, and the commits it refused. Each is one JSON document, so
//! a directory sink keeps it as one file and an HTTP or S3 sink as one object.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::json;

use crate::model::Spanned;
use crate::model::sinks::SinkConfig;
use crate::ops::{self, ConfigDir};
use crate::plan::{Plan, json as plan_json};
use crate::secrets::{EnvVarSource, Secrets};
use crate::sinks::{self, Batch};

/// Where the agent's documents go: the `settings.audit` of the last config that passed
/// `check` (never that of a preview or a refused commit: an unreviewed branch must not choose
/// where the host's plans go), else `runs/` in the state directory.
#[derive(Clone)]
pub struct Audit {
    pub sinks: Arc<Mutex<Vec<SinkConfig>>>,
    pub host: String,
    pub state_dir: PathBuf,
    pub env_file: PathBuf,
    /// The agent's own config dir (an env file inside it is refused, as everywhere).
    pub config_dir: ConfigDir,
    pub show: super::ShowPlan,
}

impl Audit {
    /// The sinks of a config that passed `check` become the destination.
    pub fn follow(&self, audit: &[Spanned<SinkConfig>]) {
        *self.sinks.lock().unwrap_or_else(|p| p.into_inner()) =
            audit.iter().map(|s| s.value.clone()).collect();
    }

    /// Sends one document; failures are logged (the next document tries again).
    pub fn send(&self, id: String, document: &serde_json::Value) {
        let configs = self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let needs_secrets = configs.iter().any(|s| !s.secrets().is_empty());
        let secrets = if needs_secrets {
            Secrets::standard(&self.env_file, &[], &self.config_dir).unwrap_or_else(|why| {
                tracing::warn!(%why, "audit sinks read secrets from the environment only");
                Secrets::new(vec![Box::new(EnvVarSource)])
            })
        } else {
            Secrets::new(Vec::new())
        };
        let mut built = Vec::new();
        for sink in ops::audit_sinks(&configs, &self.host, &self.state_dir, &secrets) {
            match sink {
                Ok(sink) => built.push(sink),
                Err(why) => tracing::warn!(%why, "an audit sink cannot be used"),
            }
        }
        let bytes = serde_json::to_vec_pretty(document).unwrap_or_default();
        let batch = Batch::document(bytes, SystemTime::now(), id);
        for why in sinks::send_to_all(&built, &batch) {
            tracing::warn!(%why, "an audit sink did not take a document");
        }
    }

    /// A plan that is not applied (a preview, a plan-mode cycle), as JSON and as `show`
    /// prints it, with `kind` saying which.
    pub fn send_plan(&self, kind: &str, plan: &mut Plan) {
        let show = (self.show)(plan);
        let text = plan_json::to_json(plan);
        let plan_value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        let commit = plan.config.git_commit.clone().unwrap_or_default();
        let short = &commit[..commit.len().min(12)];
        let document = json!({
            "kind": kind,
            "host": plan.host.hostname,
            "origin": plan.config.origin,
            "changes": plan.summary.changes(),
            "plan": plan_value,
            "show": show,
        });
        self.send(format!("{kind}-{short}"), &document);
    }

    /// A commit refused before it was applied, and why.
    pub fn send_refused(&self, origin: &crate::plan::GitOrigin, why: &str) {
        let short = &origin.commit[..origin.commit.len().min(12)];
        let document = json!({
            "kind": "refused-commit",
            "host": self.host,
            "origin": origin,
            "error": why,
        });
        self.send(format!("refused-{short}"), &document);
    }
}
