//! One run at a time per host: `execute` and `apply` hold an exclusive `flock(2)` on
//! `<state dir>/lock` from before they check the host until their report is written. The
//! kernel releases the lock when the process ends, however it ends, so a killed run never
//! leaves a stale lock behind. A second run waits up to its `--lock-timeout`, then is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How long a waiting run sleeps between attempts.
const POLL: Duration = Duration::from_millis(50);

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// How the run got the lock, or did not: recorded in the run report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockRecord {
    /// The lock file.
    pub path: String,
    pub outcome: LockOutcome,
    /// How long the run waited for another run to finish.
    pub waited_ms: u64,
    /// For a refused run: the process that held the lock, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockOutcome {
    Acquired,
    Refused,
}

/// Takes the lock at `path`, waiting up to `timeout` for a run holding it. `Ok((None, record))`
/// when another run still holds it after that; `Err` when the lock file cannot be used at all.
pub fn acquire(path: &Path, timeout: Duration) -> Result<(Option<RunLock>, LockRecord), String> {
    let fail = |e: std::io::Error| format!("cannot use the run lock {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(fail)?;
    let started = Instant::now();
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let record = |outcome, holder_pid| LockRecord {
        path: shown.display().to_string(),
        outcome,
        waited_ms: started.elapsed().as_millis() as u64,
        holder_pid,
    };
    loop {
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the message of a run that is refused meanwhile.
                let _ = write_holder(&mut file);
                return Ok((
                    Some(RunLock { _file: file }),
                    record(LockOutcome::Acquired, None),
                ));
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok((None, record(LockOutcome::Refused, read_holder(&mut file))));
        }
        std::thread::sleep(left.min(POLL));
    }
}

fn write_holder(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())
}

fn read_holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

impl LockRecord {
    /// The refusal, for stderr and the report's skipped nodes.
    pub fn refusal(&self, timeout: Duration) -> String {
        let holder = match self.holder_pid {
            Some(pid) => format!(" (pid {pid})"),
            None => String::new(),
        };
        let waited = if timeout.is_zero() {
            String::new()
        } else {
            format!(" after waiting {} ms", self.waited_ms)
        };
        format!(
            "another driftless run{holder} holds the run lock {}{waited}; one run at a time \
             changes a host",
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state/lock");
        let (first, record) = acquire(&path, Duration::ZERO).expect("lock");
        assert!(first.is_some());
        assert_eq!(record.outcome, LockOutcome::Acquired);
        let (second, record) = acquire(&path, Duration::from_millis(120)).expect("lock");
        assert!(second.is_none());
        assert_eq!(record.outcome, LockOutcome::Refused);
        assert!(record.waited_ms >= 120, "{record:?}");
        assert_eq!(record.holder_pid, Some(std::process::id()));
        drop(first);
        let (third, record) = acquire(&path, Duration::ZERO).expect("lock");
        assert!(third.is_some());
        assert_eq!(record.outcome, LockOutcome::Acquired);
    }
}
