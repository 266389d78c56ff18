//! A change of the agent's config dir: inotify on the dir and every subdirectory (hidden ones
//! and `.git` left out, as the loader does; a new subdirectory is watched as soon as it
//! appears), a burst of events debounced into one reload, and polling every [`POLL`] when
//! inotify is not there or cannot watch everything (the watch limit). With inotify the dir is
//! still polled every [`POLL_BESIDE_INOTIFY`]: a change made on another host of a network
//! filesystem sends no event here. Either way the reload happens only when the dir's fingerprint — its entries' paths,
//! sizes, modification times and inodes, hashed — changed, so an editor's swap file in a
//! hidden name, or an event for nothing, reloads nothing.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fs_watch::FileWatch;

/// How often the config dir is looked at when inotify cannot tell.
const POLL: Duration = Duration::from_secs(1);

/// How often the config dir is looked at while inotify watches all of it.
const POLL_BESIDE_INOTIFY: Duration = Duration::from_secs(10);

/// How long the dir must be quiet after an event before it is read: an editor's save, a
/// `git checkout` or a `cp -r` is many events and one reload.
const QUIET: Duration = Duration::from_millis(150);

/// The longest a burst of events delays the reload.
const MOST_DELAY: Duration = Duration::from_secs(2);

/// How the change was seen, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenBy {
    Inotify,
    Polling,
}

/// The agent's config dir, watched.
pub struct ConfigWatch {
    dir: PathBuf,
    seen: u64,
    watch: FileWatch,
    looked: Instant,
    /// The first and the last event of a burst not yet looked at.
    burst: Option<(Instant, Instant)>,
}

impl ConfigWatch {
    pub fn new(dir: &Path) -> ConfigWatch {
        let mut watch = FileWatch::new();
        let scan = scan(dir);
        watch.watch(&scan.dirs, &[dir]);
        ConfigWatch {
            dir: dir.to_path_buf(),
            seen: scan.fingerprint,
            watch,
            looked: Instant::now(),
            burst: None,
        }
    }

    /// Whether the dir changed since the last time this said so (or since it was made), and
    /// how that was seen. Never blocks; called on every tick of the agent's loop.
    pub fn changed(&mut self) -> Option<SeenBy> {
        let now = Instant::now();
        if self.watch.take_changed() {
            let first = self.burst.map_or(now, |(first, _)| first);
            self.burst = Some((first, now));
        }
        let seen_by = match self.burst {
            Some((first, last))
                if now.duration_since(last) >= QUIET || now.duration_since(first) >= MOST_DELAY =>
            {
                SeenBy::Inotify
            }
            _ if self.looked.elapsed() >= self.poll_interval() => SeenBy::Polling,
            _ => return None,
        };
        self.burst = None;
        self.looked = now;
        let scan = scan(&self.dir);
        // New subdirectories are watched, removed ones dropped.
        self.watch.watch(&scan.dirs, &[&self.dir]);
        let changed = scan.fingerprint != self.seen;
        self.seen = scan.fingerprint;
        changed.then_some(seen_by)
    }

    fn poll_interval(&self) -> Duration {
        if self.watch.complete() {
            POLL_BESIDE_INOTIFY
        } else {
            POLL
        }
    }
}

/// The config dir as this module looks at it.
struct Scan {
    /// A hash of every entry (hidden ones and `.git` left out): path, size, modification time
    /// and inode, so an edit, a rename over and a new file all change it.
    fingerprint: u64,
    /// The dir and its subdirectories, to watch.
    dirs: BTreeSet<PathBuf>,
}

fn scan(dir: &Path) -> Scan {
    let mut hasher = DefaultHasher::new();
    let mut dirs = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(at) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&at) else {
            continue;
        };
        dirs.insert(at);
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
    Scan {
        fingerprint: hasher.finish(),
        dirs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_a_new_file_and_a_removal_are_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.yaml"), "vars: {}\n").expect("write");
        let first = scan(dir.path()).fingerprint;
        assert_eq!(first, scan(dir.path()).fingerprint);
        std::fs::write(dir.path().join("b.yaml"), "vars: {}\n").expect("write");
        let second = scan(dir.path()).fingerprint;
        assert_ne!(first, second);
        std::fs::write(dir.path().join("b.yaml"), "vars: {x: 1}\n").expect("write");
        let third = scan(dir.path()).fingerprint;
        assert_ne!(second, third);
        std::fs::remove_file(dir.path().join("a.yaml")).expect("remove");
        assert_ne!(third, scan(dir.path()).fingerprint);
        // Hidden entries are not config.
        let now = scan(dir.path()).fingerprint;
        std::fs::write(dir.path().join(".swp"), "x").expect("write");
        assert_eq!(now, scan(dir.path()).fingerprint);
    }

    /// Polls `watch` every 20 ms for up to 3 s; how the change was seen, and when.
    fn next_change(watch: &mut ConfigWatch) -> Option<(SeenBy, Duration)> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            if let Some(by) = watch.changed() {
                return Some((by, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    #[test]
    fn inotify_sees_a_change_in_a_new_subdirectory_at_once_and_a_hidden_file_is_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.yaml"), "vars: {}\n").expect("write");
        let mut watch = ConfigWatch::new(dir.path());
        if !watch.watch.complete() {
            // No inotify here: polling sees it within its interval.
            std::fs::write(dir.path().join("b.yaml"), "vars: {}\n").expect("write");
            assert_eq!(next_change(&mut watch).map(|c| c.0), Some(SeenBy::Polling));
            return;
        }
        std::fs::create_dir(dir.path().join("roles")).expect("mkdir");
        assert_eq!(next_change(&mut watch).map(|c| c.0), Some(SeenBy::Inotify));
        // The new subdirectory is watched: a file written in it is seen after the quiet time,
        // well before the poll interval.
        std::fs::write(dir.path().join("roles/web.yaml"), "vars: {}\n").expect("write");
        let (by, after) = next_change(&mut watch).expect("a change");
        assert_eq!(by, SeenBy::Inotify);
        assert!(after < POLL, "{after:?}");
        // A hidden file sends events, but changes no config.
        std::fs::write(dir.path().join("roles/.web.yaml.swp"), "x").expect("write");
        std::thread::sleep(QUIET * 3);
        assert_eq!(watch.changed(), None);
    }
}
