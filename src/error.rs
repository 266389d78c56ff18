//! Errors that say whether trying again can help.
//!
//! A resource that cannot be changed, or a sink that cannot take a report, fails either
//! **transiently** — a busy lock, a timeout, a refused or reset connection, a full queue: the
//! same action may succeed later, so the agent retries it with backoff — or **permanently** —
//! bad input, a permission, a missing program: retrying changes nothing, so it is reported
//! once.

use std::fmt;
use std::io;

/// Whether a failure may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Retry {
    /// Try again later: it may succeed.
    Transient,
    /// Trying again changes nothing until something else changes.
    Permanent,
}

/// A failure of a resource or a sink, with whether a retry can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    pub message: String,
    pub retry: Retry,
    /// What the program that failed printed (a command task's), for the run report.
    pub output: Option<Box<crate::process::Output>>,
}

impl ResourceError {
    pub fn permanent(message: impl Into<String>) -> Self {
        ResourceError {
            message: message.into(),
            retry: Retry::Permanent,
            output: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        ResourceError {
            message: message.into(),
            retry: Retry::Transient,
            output: None,
        }
    }

    /// `what` failed with `error`, classified by the error's kind.
    pub fn io(what: impl fmt::Display, error: &io::Error) -> Self {
        ResourceError {
            message: format!("{what}: {error}"),
            retry: retry_of(error),
            output: None,
        }
    }

    /// The failure with what the failing program printed.
    pub fn with_output(mut self, output: crate::process::Output) -> Self {
        self.output = Some(Box::new(output));
        self
    }

    pub fn is_transient(&self) -> bool {
        self.retry == Retry::Transient
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ResourceError {}

/// Bad input and refusals are permanent: the messages built for them are.
impl From<String> for ResourceError {
    fn from(message: String) -> Self {
        ResourceError::permanent(message)
    }
}

/// Whether an I/O error may go away by itself: contention, timeouts, interrupted or dropped
/// connections and exhausted (but recoverable) resources; everything else — permissions,
/// missing files, invalid arguments, a full disk or a read-only file system — needs a change
/// first.
pub fn retry_of(error: &io::Error) -> Retry {
    use io::ErrorKind as K;
    let transient_kind = matches!(
        error.kind(),
        K::WouldBlock
            | K::TimedOut
            | K::Interrupted
            | K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::ResourceBusy
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
    );
    let transient_errno = matches!(
        error.raw_os_error(),
        Some(
            libc::EAGAIN | libc::EBUSY | libc::ETXTBSY | libc::EMFILE | libc::ENFILE | libc::ENOMEM
        )
    );
    if transient_kind || transient_errno {
        Retry::Transient
    } else {
        Retry::Permanent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_and_timeouts_are_transient() {
        for errno in [
            libc::EAGAIN,
            libc::EBUSY,
            libc::ETIMEDOUT,
            libc::ECONNREFUSED,
            libc::EINTR,
        ] {
            let error = io::Error::from_raw_os_error(errno);
            assert_eq!(retry_of(&error), Retry::Transient, "{error}");
        }
    }

    #[test]
    fn bad_input_and_permissions_are_permanent() {
        for errno in [
            libc::EACCES,
            libc::EPERM,
            libc::ENOENT,
            libc::EINVAL,
            libc::EROFS,
            libc::ENOSPC,
        ] {
            let error = io::Error::from_raw_os_error(errno);
            assert_eq!(retry_of(&error), Retry::Permanent, "{error}");
        }
        assert!(!ResourceError::from("bad field".to_owned()).is_transient());
    }
}
