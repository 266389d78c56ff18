//! What goes wrong in a log pipeline, said for people: a file that cannot be read, a
//! checkpoint that cannot be written, an output that cannot be opened.

use std::fmt;

/// An error of a log part, with what it was doing and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogError {
    pub message: String,
}

impl LogError {
    pub fn new(message: impl Into<String>) -> LogError {
        LogError {
            message: message.into(),
        }
    }

    /// An I/O error on a path: "cannot read /var/log/app.log: Permission denied (os error 13)".
    pub fn io(doing: &str, path: &std::path::Path, error: &std::io::Error) -> LogError {
        LogError::new(format!("cannot {doing} {}: {error}", path.display()))
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LogError {}
