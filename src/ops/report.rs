//! Run reports: their ids and where they go.

use std::path::Path;
use std::sync::Arc;

use super::execute::RunOptions;
use crate::config::ConfigDir;
use crate::execute::{self, RunReport};
use crate::model::sinks::SinkConfig;
use crate::plan::Plan;
use crate::secrets::{EnvVarSource, Secrets};
use crate::sinks::{self, BuildContext, DirectorySink, Retention, Sink};

/// A new run's id: 16 random hex digits.
pub fn run_id() -> String {
    crate::fsutil::random_hex(8).unwrap_or_else(|_| "run".to_owned())
}

/// The plan's `settings.audit` (recorded in it: a plan executes without its config), built
/// with their credentials read again from the secrets, else `runs/` in the state directory,
/// bounded ([`Retention::DEFAULT_REPORTS`]) so that frequent runs never fill the disk. A sink
/// that cannot be built is a failure of its own, named.
pub fn report_sinks(
    plan: &Plan,
    state_dir: &Path,
    secrets: &Secrets,
) -> Vec<Result<Arc<dyn Sink>, String>> {
    audit_sinks(&plan.audit, &plan.host.hostname, state_dir, secrets)
}

/// The sinks of `settings.audit` (`audit`), else the bounded `runs/` in the state directory:
/// where the run reports of host `host` go, and what the agent sends besides them (previews,
/// refused commits).
pub fn audit_sinks(
    audit: &[SinkConfig],
    host: &str,
    state_dir: &Path,
    secrets: &Secrets,
) -> Vec<Result<Arc<dyn Sink>, String>> {
    if audit.is_empty() {
        let sink = DirectorySink::reports(state_dir.join("runs"), Some(Retention::DEFAULT_REPORTS))
            .map(|s| Arc::new(s) as Arc<dyn Sink>)
            .map_err(|e| e.message);
        return vec![sink];
    }
    let cx = BuildContext { secrets, host };
    audit
        .iter()
        .map(|config| {
            sinks::build(config, &cx)
                .map_err(|e| format!("{}: {}", config.destination(), e.message))
        })
        .collect()
}

/// The secrets the plan's report sinks read: the environment, the env file and the plan's
/// `--secret` files, as when the plan was made.
fn report_secrets(plan: &Plan, env_file: &Path) -> Secrets {
    let secret_files: Vec<_> = (plan.config.secret_files.iter())
        .map(|(name, path)| (name.clone(), path.into()))
        .collect();
    let config_dir = ConfigDir::new(std::path::PathBuf::from(&plan.config.dir));
    Secrets::standard(env_file, &secret_files, &config_dir).unwrap_or_else(|why| {
        tracing::warn!(%why, "report sinks read secrets from the environment only");
        Secrets::new(vec![Box::new(EnvVarSource)])
    })
}

/// Sends the report to every sink of the plan; returns why each sink that failed did.
pub fn save_report(report: &RunReport, plan: &Plan, options: &RunOptions) -> Vec<String> {
    let needs_secrets = plan.audit.iter().any(|s| !s.secrets().is_empty());
    let secrets = if needs_secrets {
        report_secrets(plan, &options.env_file)
    } else {
        Secrets::new(Vec::new())
    };
    let mut failures = Vec::new();
    let mut built = Vec::new();
    for sink in report_sinks(plan, &options.state_dir(), &secrets) {
        match sink {
            Ok(sink) => built.push(sink),
            Err(why) => failures.push(why),
        }
    }
    failures.extend(execute::write_report(report, &built));
    failures
}
