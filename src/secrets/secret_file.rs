use std::path::PathBuf;

use secrecy::SecretString;

use super::{SecretError, SecretSource};

/// A secret file is one value: small.
const MAX_SIZE: u64 = 64 * 1024;

/// `--secret NAME=@PATH`: one secret per file, named on the command line — a password for one
/// run without an env file, and never on the command line itself (`ps` and shell history would
/// show it). The file is read when a template asks for the name; it must not be readable by
/// group or others; its text is the value, one final newline removed (as `echo … > file`
/// leaves one). The plan records the path, never the value.
pub struct SecretFileSource {
    files: Vec<(String, PathBuf)>,
}

impl SecretFileSource {
    pub fn new(files: Vec<(String, PathBuf)>) -> Self {
        SecretFileSource { files }
    }
}

impl SecretSource for SecretFileSource {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let Some((_, path)) = self.files.iter().rev().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        let what = format!("the secret file of `{name}`");
        match super::private_file::read(path, &what, MAX_SIZE)? {
            Some(mut text) => {
                if text.ends_with('\n') {
                    text.pop();
                }
                Ok(Some(SecretString::from(text)))
            }
            None => Err(format!("{what} {} does not exist", path.display())),
        }
    }

    fn describe(&self) -> String {
        match self.files.as_slice() {
            [] => String::new(),
            [(name, _)] => format!("the file of --secret {name}"),
            _ => "the files of --secret".to_owned(),
        }
    }
}
