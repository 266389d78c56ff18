//! Secrets: `secrets.NAME` in a template reads the file given as `--secret NAME=@PATH`, else
//! environment variable `NAME`, else the env file.
//!
//! Only names a template references are read. Values are held as [`SecretString`] and exposed
//! only to the template engine, which marks every value it renders from them as sensitive.
//! Remote providers (a vault) plug in later as more [`SecretSource`]s.

mod env_file;
mod private_file;
mod secret_file;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use secrecy::SecretString;

use crate::config::ConfigDir;

pub use env_file::EnvFileSource;
pub use secret_file::SecretFileSource;

/// Why a secret could not be read; the text never contains a secret value.
pub type SecretError = String;

/// Where secret values come from.
pub trait SecretSource: Send + Sync {
    /// Looks one name up; `Ok(None)` when this source does not have it.
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError>;
    /// For messages: "environment", "env file /root/.config/driftless/env"; empty for a source
    /// that holds nothing.
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

    /// The standard chain: the `--secret` files (given for this run, so they come first), the
    /// environment, then the env file. A secret or env file inside the config dir is refused
    /// here, before anything is read: it would be committed to Git with the config.
    pub fn standard(
        env_file: &Path,
        secret_files: &[(String, PathBuf)],
        config_dir: &ConfigDir,
    ) -> Result<Self, SecretError> {
        let config_abs = config_dir.absolute();
        let config_real = config_dir.real().unwrap_or(config_abs);
        let outside = |path: &Path, what: &str| {
            let abs = absolute(path);
            let real = std::fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
            if abs.starts_with(config_abs) || real.starts_with(config_real) {
                return Err(format!(
                    "{what} {} is inside the config directory {}: it would be committed with \
                     the config",
                    path.display(),
                    config_dir.path().display()
                ));
            }
            Ok(abs)
        };
        let env_abs = outside(env_file, "the env file")?;
        let secret_files = secret_files
            .iter()
            .map(|(name, path)| {
                Ok((
                    name.clone(),
                    outside(path, &format!("the secret file of `{name}`"))?,
                ))
            })
            .collect::<Result<Vec<_>, SecretError>>()?;
        Ok(Secrets::new(vec![
            Box::new(SecretFileSource::new(secret_files)),
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
        // A source with nothing to offer (no --secret given) is not worth naming.
        let names: Vec<String> = (self.sources.iter().map(|s| s.describe()))
            .filter(|d| !d.is_empty())
            .collect();
        names.join(" or ")
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
