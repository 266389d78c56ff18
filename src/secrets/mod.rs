//! Secrets: `secrets.NAME` in a template reads environment variable `NAME`, else the env file.
//!
//! Only names a template references are read. Values are held as [`SecretString`] and exposed
//! only to the template engine, which marks every value it renders from them as sensitive.
//! Remote providers (a vault) plug in later as more [`SecretSource`]s.

mod env_file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use secrecy::SecretString;

use crate::config::ConfigDir;

pub use env_file::EnvFileSource;

/// Why a secret could not be read; the text never contains a secret value.
pub type SecretError = String;

/// Where secret values come from.
pub trait SecretSource: Send + Sync {
    /// Looks one name up; `Ok(None)` when this source does not have it.
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError>;
    /// For messages: "environment", "env file /root/.config/driftless/env".
    fn describe(&self) -> String;
}

/// The process environment.
pub struct EnvVarSource;

impl SecretSource for EnvVarSource {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        Ok(std::env::var(name).ok().map(SecretString::from))
    }

    fn describe(&self) -> String {
        "the environment".to_owned()
    }
}

/// The sources in order, with a cache so each name is looked up once per run.
pub struct Secrets {
    sources: Vec<Box<dyn SecretSource>>,
    cache: Mutex<HashMap<String, Result<Option<SecretString>, SecretError>>>,
}

impl Secrets {
    pub fn new(sources: Vec<Box<dyn SecretSource>>) -> Self {
        Secrets {
            sources,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The standard chain: environment, then the env file. An env file inside the config dir
    /// is refused here, before anything is read: it would be committed to Git with the config.
    pub fn standard(env_file: &Path, config_dir: &ConfigDir) -> Result<Self, SecretError> {
        let env_abs = absolute(env_file);
        let config_abs = config_dir.absolute();
        let config_real = config_dir.real().unwrap_or(config_abs);
        let env_real = std::fs::canonicalize(&env_abs).unwrap_or_else(|_| env_abs.clone());
        if env_abs.starts_with(config_abs) || env_real.starts_with(config_real) {
            return Err(format!(
                "the env file {} is inside the config directory {}: it would be committed with \
                 the config",
                env_file.display(),
                config_dir.path().display()
            ));
        }
        Ok(Secrets::new(vec![
            Box::new(EnvVarSource),
            Box::new(EnvFileSource::new(env_abs)),
        ]))
    }

    /// The value of `name`, `Ok(None)` when no source has it.
    pub fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(name) {
            return hit.clone();
        }
        let mut found = Ok(None);
        for source in &self.sources {
            match source.get(name) {
                Ok(None) => continue,
                other => {
                    found = other;
                    break;
                }
            }
        }
        cache.insert(name.to_owned(), found.clone());
        found
    }

    /// "the environment or env file …", for "secret X is not set" messages.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self.sources.iter().map(|s| s.describe()).collect();
        names.join(" or ")
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
