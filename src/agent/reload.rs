//! What makes the agent reload: SIGHUP, and a change of its config dir. The dir is polled
//! (its entries' sizes, modification times and inodes, hashed), not watched with inotify: the
//! agent's own config dir is a handful of files, a walk of it every second costs well under a
//! millisecond, and polling works on every filesystem (NFS, overlays) inotify misses.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::signals::{reload_on_sighup, take_hangup};

/// How often the config dir is looked at.
const POLL: Duration = Duration::from_secs(1);

/// A config dir, looked at every [`POLL`] for a change.
pub struct DirWatch {
    dir: PathBuf,
    seen: u64,
    looked: Instant,
}

impl DirWatch {
    pub fn new(dir: &Path) -> DirWatch {
        DirWatch {
            dir: dir.to_path_buf(),
            seen: fingerprint(dir),
            looked: Instant::now(),
        }
    }

    /// Whether the dir changed since the last time this said so (or since it was made);
    /// looks at most every [`POLL`].
    pub fn changed(&mut self) -> bool {
        if self.looked.elapsed() < POLL {
            return false;
        }
        self.looked = Instant::now();
        let now = fingerprint(&self.dir);
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

/// A hash of every entry under `dir` (hidden ones and `.git` left out, as the loader does):
/// path, size, modification time and inode, so an edit, a rename over and a new file all
/// change it.
fn fingerprint(dir: &Path) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(at) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in read.flatten() {
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            entries.push((
                path,
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ino(),
            ));
        }
    }
    entries.sort();
    entries.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_a_new_file_and_a_removal_are_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.yaml"), "vars: {}\n").expect("write");
        let first = fingerprint(dir.path());
        assert_eq!(first, fingerprint(dir.path()));
        std::fs::write(dir.path().join("b.yaml"), "vars: {}\n").expect("write");
        let second = fingerprint(dir.path());
        assert_ne!(first, second);
        std::fs::write(dir.path().join("b.yaml"), "vars: {x: 1}\n").expect("write");
        let third = fingerprint(dir.path());
        assert_ne!(second, third);
        std::fs::remove_file(dir.path().join("a.yaml")).expect("remove");
        assert_ne!(third, fingerprint(dir.path()));
        // Hidden entries are not config.
        let now = fingerprint(dir.path());
        std::fs::write(dir.path().join(".swp"), "x").expect("write");
        assert_eq!(now, fingerprint(dir.path()));
    }
}
