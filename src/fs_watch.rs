//! Waiting for a change to files: inotify on the directories they are in (a directory watch
//! reports writes, creations, renames and deletions of the files in it), and polling every
//! [`POLL_INTERVAL`] when inotify is not available or a directory cannot be watched (it does
//! not exist yet, or the watch limit is reached). The log sources watch the directories their
//! globs look into; the agent watches its config dir.
//!
//! libc directly rather than a crate: three calls and `poll`, which a crate would not spare.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the files are looked at when a change cannot be waited for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

const EVENTS: u32 = libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_CLOSE_WRITE
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// A set of watched directories.
#[derive(Debug)]
pub struct FileWatch {
    inotify: Option<OwnedFd>,
    watches: BTreeMap<PathBuf, i32>,
    /// Some directory that should be watched is not: only polling sees its changes.
    incomplete: bool,
    /// An event arrived since [`take_changed`](Self::take_changed) last said so.
    changed: bool,
}

impl Default for FileWatch {
    fn default() -> Self {
        FileWatch::new()
    }
}

impl FileWatch {
    /// Inotify when the kernel gives it, else polling alone.
    pub fn new() -> FileWatch {
        // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        let inotify = if fd >= 0 {
            // SAFETY: fd is a descriptor just opened and owned by nothing else.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            tracing::debug!("inotify unavailable, polling files every {POLL_INTERVAL:?}");
            None
        };
        FileWatch {
            inotify,
            watches: BTreeMap::new(),
            incomplete: false,
            changed: false,
        }
    }

    /// Watches exactly `dirs` (plus `wanted`, directories that should be watched but may
    /// not exist yet: each one missing makes waiting fall back to polling).
    pub fn watch(&mut self, dirs: &BTreeSet<PathBuf>, wanted: &[&Path]) {
        let Some(fd) = self.inotify.as_ref().map(AsRawFd::as_raw_fd) else {
            self.incomplete = true;
            return;
        };
        let stale: Vec<PathBuf> = (self.watches.keys())
            .filter(|d| !dirs.contains(*d))
            .cloned()
            .collect();
        for dir in stale {
            if let Some(wd) = self.watches.remove(&dir) {
                // SAFETY: fd is our inotify descriptor; a stale wd only makes this fail.
                unsafe { libc::inotify_rm_watch(fd, wd) };
            }
        }
        self.incomplete = wanted.iter().any(|w| !dirs.contains(*w));
        for dir in dirs {
            if self.watches.contains_key(dir) {
                continue;
            }
            let Ok(name) = CString::new(dir.as_os_str().as_bytes()) else {
                self.incomplete = true;
                continue;
            };
            // SAFETY: fd is our inotify descriptor, name a NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(fd, name.as_ptr(), EVENTS) };
            if wd >= 0 {
                self.watches.insert(dir.clone(), wd);
            } else {
                self.incomplete = true;
            }
        }
    }

    /// Whether every directory asked for is watched by inotify (else only polling sees some
    /// changes).
    pub fn complete(&self) -> bool {
        self.inotify.is_some() && !self.incomplete
    }

    /// Blocks until a watched directory reports a change or `timeout` passes (at most
    /// [`POLL_INTERVAL`] when some change could not be reported). May return early.
    pub fn wait(&mut self, timeout: Duration) {
        let Some(fd) = self.inotify.as_ref().map(AsRawFd::as_raw_fd) else {
            std::thread::sleep(timeout.min(POLL_INTERVAL));
            return;
        };
        let timeout = if self.incomplete {
            timeout.min(POLL_INTERVAL)
        } else {
            timeout
        };
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready > 0 {
            self.drain(fd);
        }
    }

    /// Whether a watched directory reported a change since the last call (without
    /// blocking): a file created, renamed, deleted, written or truncated there.
    pub fn take_changed(&mut self) -> bool {
        if let Some(fd) = self.inotify.as_ref().map(AsRawFd::as_raw_fd) {
            self.drain(fd);
        }
        std::mem::take(&mut self.changed)
    }

    /// Reads the pending events; a directory whose watch ended (deleted, unmounted) is
    /// forgotten so that it is watched again once it is back.
    fn drain(&mut self, fd: i32) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                return;
            };
            if n == 0 {
                return;
            }
            self.changed = true;
            let mut at = 0;
            let header = std::mem::size_of::<libc::inotify_event>();
            while at + header <= n {
                let field = |offset: usize| {
                    let mut word = [0u8; 4];
                    word.copy_from_slice(&buf[at + offset..at + offset + 4]);
                    u32::from_ne_bytes(word)
                };
                let (wd, mask, len) = (field(0) as i32, field(4), field(12) as usize);
                if mask & libc::IN_IGNORED != 0 {
                    self.watches.retain(|_, w| *w != wd);
                    self.incomplete = true;
                }
                at += header + len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_write_in_a_watched_directory_ends_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = FileWatch::new();
        if watch.inotify.is_none() {
            // Polling only: the wait is bounded by the poll interval.
            let t = Instant::now();
            watch.wait(Duration::from_secs(5));
            assert!(t.elapsed() < Duration::from_secs(1));
            return;
        }
        let dirs = BTreeSet::from([dir.path().to_path_buf()]);
        watch.watch(&dirs, &[dir.path()]);
        assert!(!watch.incomplete);
        let path = dir.path().join("a.log");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::write(path, b"x\n").unwrap();
        });
        let t = Instant::now();
        watch.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        writer.join().unwrap();
        assert!(watch.take_changed());
        assert!(!watch.take_changed());
    }

    #[test]
    fn a_missing_directory_falls_back_to_polling() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not-yet");
        let mut watch = FileWatch::new();
        watch.watch(&BTreeSet::new(), &[&missing]);
        let t = Instant::now();
        watch.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
