//! Where a plan comes from: the host it was made on and the config it was made from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::ConfigDir;
pub use crate::config::GitOrigin;
use crate::facts::HostFacts;

/// The host a plan is for; `execute` refuses a plan made on another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostIdentity {
    pub hostname: String,
    /// `/etc/machine-id`; empty when the host has none.
    pub machine_id: String,
}

impl HostIdentity {
    pub fn of(facts: &HostFacts) -> Self {
        HostIdentity {
            hostname: facts.hostname.clone(),
            machine_id: facts.machine_id.clone(),
        }
    }
}

/// The config a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigSource {
    /// The config directory, absolute.
    pub dir: String,
    /// `HEAD` when the directory is in a Git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes under the config dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// SHA-256 over every entry of the config dir but `.git` (config, templates, files,
    /// hidden ones too).
    pub digest: String,
    /// `-e` vars given to `plan`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_vars: Vec<String>,
    /// `--secret NAME=@PATH` given to `plan`: each secret's name and the file it is read from
    /// (absolute), never its value; `execute` reads the same files (format 1.3).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secret_files: std::collections::BTreeMap<String, String>,
    /// `--tags` given to `plan` (format 1.4); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `--skip-tags` given to `plan` (format 1.4); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_tags: Vec<String>,
    /// The config's plugins (`settings.plugins`): each name with the SHA-256 the config pins
    /// and the plan's tasks were expanded with; absent when none. `execute` of a plan with
    /// plugins checks the config digest, so a plugin changed since is refused.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub plugins: std::collections::BTreeMap<String, String>,
    /// The Git repository the agent pulled the config from, for a plan the agent made
    /// (format 1.6); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<GitOrigin>,
}

impl ConfigSource {
    pub fn of(
        dir: &ConfigDir,
        extra_vars: &[String],
        secret_files: &[(String, std::path::PathBuf)],
        selection: &crate::model::meta::TagSelection,
    ) -> Self {
        ConfigSource {
            dir: dir.absolute().to_string_lossy().into_owned(),
            git_commit: dir.git_commit().map(str::to_owned),
            git_dirty: dir.git_dirty(),
            digest: dir.digest().to_owned(),
            extra_vars: extra_vars.to_vec(),
            secret_files: secret_files
                .iter()
                .map(|(name, path)| {
                    let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                    (name.clone(), path.to_string_lossy().into_owned())
                })
                .collect(),
            tags: selection.tags.clone(),
            skip_tags: selection.skip_tags.clone(),
            plugins: std::collections::BTreeMap::new(),
            origin: dir.origin().cloned(),
        }
    }
}
