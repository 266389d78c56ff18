//! Where a plan comes from: the host it was made on and the config it was made from.

use std::path::Path;
use std::process::Command;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// SHA-256 over every file of the config dir (config, templates, files), by path.
    pub digest: String,
    /// `-e` vars given to `plan`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_vars: Vec<String>,
}

impl ConfigSource {
    pub fn of(dir: &Path, extra_vars: &[String]) -> Self {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let git_commit = git(&["rev-parse", "--verify", "-q", "HEAD"]).filter(|c| !c.is_empty());
        let git_dirty = git_commit
            .as_ref()
            .and_then(|_| git(&["status", "--porcelain", "--", "."]))
            .map(|s| !s.is_empty());
        ConfigSource {
            digest: digest_dir(&dir),
            dir: dir.to_string_lossy().into_owned(),
            git_commit,
            git_dirty,
            extra_vars: extra_vars.to_vec(),
        }
    }
}

/// Every non-hidden file under `dir`, sorted by relative path, hashed with its path.
pub fn digest_dir(dir: &Path) -> String {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for (relative, path) in files {
        // Streamed, and only a regular file: a FIFO in the config dir must not hang the plan.
        let content_sha256 = crate::fsutil::open_regular_file(&path)
            .and_then(|mut file| crate::fsutil::hash_file(&mut file, 0))
            .map_or_else(|_| Sha256::digest(b"").into(), |hashed| hashed.sha256);
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update(content_sha256);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(root, &path, out),
            Ok(_) => {
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.push((relative, path));
            }
            Err(_) => {}
        }
    }
}
