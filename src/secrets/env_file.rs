use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use secrecy::SecretString;

use super::{SecretError, SecretSource};

/// A dotenv file (`NAME=value` lines), read on the first lookup that needs it. A file that
/// group or others may read is refused: secrets belong to the user running driftless.
pub struct EnvFileSource {
    path: PathBuf,
    values: OnceLock<Result<HashMap<String, SecretString>, SecretError>>,
}

impl EnvFileSource {
    pub fn new(path: PathBuf) -> Self {
        EnvFileSource {
            path,
            values: OnceLock::new(),
        }
    }

    fn read(&self) -> Result<HashMap<String, SecretString>, SecretError> {
        let path = self.path.display();
        let metadata = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(format!("cannot read the env file {path}: {e}")),
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            return Err(format!(
                "the env file {path} is readable by group or others (mode {mode:04o}); \
                 run `chmod 600 {path}`"
            ));
        }
        let iter = dotenvy::from_path_iter(&self.path)
            .map_err(|e| format!("cannot read the env file {path}: {}", describe(&e)))?;
        let mut values = HashMap::new();
        for item in iter {
            let (name, value) =
                item.map_err(|e| format!("the env file {path} is malformed: {}", describe(&e)))?;
            values.insert(name, SecretString::from(value));
        }
        Ok(values)
    }
}

/// dotenvy's messages for a bad line quote the line, which may hold a secret: keep only where.
fn describe(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(_, index) => format!("syntax error at character {index}"),
        dotenvy::Error::Io(e) => e.to_string(),
        _ => "unreadable".to_owned(),
    }
}

impl SecretSource for EnvFileSource {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        match self.values.get_or_init(|| self.read()) {
            Ok(values) => Ok(values.get(name).cloned()),
            Err(e) => Err(e.clone()),
        }
    }

    fn describe(&self) -> String {
        format!("the env file {}", self.path.display())
    }
}
