//! Which file is which, and how far each was delivered: the fingerprint that identifies a
//! file across renames and restarts, and the checkpoints file that keeps each file's
//! acknowledged position, written atomically.
//!
//! A file is identified by a hash of its first [`HEAD_BYTES`] bytes once it has that many:
//! a renamed file keeps it, a new file that happens to reuse a deleted file's inode does not.
//! Until then, by its device and inode together with a hash of the bytes it has so far.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::LogError;

/// How many first bytes of a file identify it.
pub const HEAD_BYTES: u64 = 256;

/// The checkpoints file in a pipeline's checkpoints directory.
pub const FILE_NAME: &str = "file-source.json";

/// The checkpoints as last acknowledged, replaced at each acknowledgement without waiting for
/// the disk (no fsync): what a process started after a kill reads, so a kill sends again only
/// what was delivered after it. [`FILE_NAME`] holds the same, synced, at most every
/// [`SYNC_INTERVAL`]: after a power cut this one may be an older version or cut short (then it
/// does not parse), and that one is read — an older position, never a later one.
pub const LATEST_FILE_NAME: &str = "file-source.latest.json";

/// How often the synced checkpoints file is written while acknowledgements come.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// How long a checkpoint no file claims is kept (while the source runs): a rotated file
/// that is out of the globs, or a file that went away while driftless was stopped.
pub const UNCLAIMED_RETENTION: Duration = Duration::from_secs(24 * 3600);

const FORMAT_VERSION: u32 = 1;

/// What identifies a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub dev: u64,
    pub ino: u64,
    /// How many first bytes `head` hashes: [`HEAD_BYTES`], or fewer while the file is
    /// shorter (then `dev` and `ino` are part of the identity).
    pub head_len: u64,
    /// SHA-256 (hex) of the first `head_len` bytes.
    pub head: String,
}

impl Fingerprint {
    /// The fingerprint of an open file of `size` bytes.
    pub fn of(file: &File, dev: u64, ino: u64, size: u64) -> io::Result<Fingerprint> {
        let head_len = size.min(HEAD_BYTES);
        Ok(Fingerprint {
            dev,
            ino,
            head_len,
            head: head_hash(file, head_len)?.unwrap_or_default(),
        })
    }

    pub fn is_full(&self) -> bool {
        self.head_len == HEAD_BYTES
    }

    /// Whether the open file (`dev`, `ino`) still is the file this fingerprint was taken of:
    /// its first bytes are unchanged (and, short of a full head, it is the same inode).
    pub fn matches(&self, file: &File, dev: u64, ino: u64) -> io::Result<bool> {
        if !self.is_full() && (self.dev, self.ino) != (dev, ino) {
            return Ok(false);
        }
        Ok(head_hash(file, self.head_len)?.is_some_and(|h| h == self.head))
    }
}

/// The hex SHA-256 of the first `len` bytes; `None` when the file is shorter.
fn head_hash(file: &File, len: u64) -> io::Result<Option<String>> {
    let mut head = [0u8; HEAD_BYTES as usize];
    let want = len.min(HEAD_BYTES) as usize;
    let mut got = 0;
    while got < want {
        match file.read_at(&mut head[got..want], got as u64) {
            Ok(0) => return Ok(None),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(crate::fsutil::hex(&Sha256::digest(&head[..want]))))
}

/// One file's delivered position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub fingerprint: Fingerprint,
    /// Where the file was when the checkpoint was written (for people; identity is the
    /// fingerprint).
    pub path: PathBuf,
    /// Every line before this byte offset was acknowledged by all outputs.
    pub position: u64,
}

#[derive(Serialize, Deserialize)]
struct CheckpointsFile {
    version: u32,
    files: Vec<Checkpoint>,
}

/// The checkpoints in `dir`: the latest when it reads whole, else the synced ones; none when
/// it has no checkpoints file yet.
pub fn load(dir: &Path) -> Result<Vec<Checkpoint>, LogError> {
    match read(&dir.join(LATEST_FILE_NAME)) {
        Ok(Some(files)) => return Ok(files),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "reading the synced checkpoints instead"),
    }
    Ok(read(&dir.join(FILE_NAME))?.unwrap_or_default())
}

/// One checkpoints file; `None` when there is none.
fn read(path: &Path) -> Result<Option<Vec<Checkpoint>>, LogError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io("read", path, &e)),
    };
    let file: CheckpointsFile = serde_json::from_slice(&bytes).map_err(|e| {
        LogError::new(format!(
            "cannot read the checkpoints {}: {e} (delete it to read the files again by `start_at`)",
            path.display()
        ))
    })?;
    if file.version != FORMAT_VERSION {
        return Err(LogError::new(format!(
            "the checkpoints {} are of format {}, this driftless knows {FORMAT_VERSION}",
            path.display(),
            file.version
        )));
    }
    Ok(Some(file.files))
}

/// The checkpoints file's bytes.
pub fn encode(files: Vec<Checkpoint>) -> Vec<u8> {
    let file = CheckpointsFile {
        version: FORMAT_VERSION,
        files,
    };
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

/// Replaces the latest checkpoints ([`LATEST_FILE_NAME`]: written aside, renamed in, not
/// synced) and, when `synced`, the synced ones too (written atomically and synced: the old
/// file or the new one survives a power cut).
pub fn save(dir: &Path, bytes: &[u8], synced: bool) -> Result<(), LogError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| LogError::io("create", dir, &e))?;
    let latest = dir.join(LATEST_FILE_NAME);
    let aside = dir.join(format!(".{LATEST_FILE_NAME}.partial"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&aside)
        .and_then(|mut f| io::Write::write_all(&mut f, bytes))
        .and_then(|()| std::fs::rename(&aside, &latest));
    written.map_err(|e| LogError::io("write", &latest, &e))?;
    if synced {
        let path = dir.join(FILE_NAME);
        crate::fsutil::write_atomic(&path, bytes, 0o600, (None, None))
            .map_err(|e| LogError::io("write", &path, &e))?;
    }
    Ok(())
}

/// Checkpoints no open file has claimed yet: loaded at start, or left by a file that went
/// out of the globs. A file found later takes its own from here.
#[derive(Debug, Default)]
pub struct Unclaimed {
    entries: Vec<(Checkpoint, Instant)>,
}

impl Unclaimed {
    pub fn new(entries: Vec<Checkpoint>, now: Instant) -> Unclaimed {
        Unclaimed {
            entries: entries.into_iter().map(|c| (c, now)).collect(),
        }
    }

    pub fn add(&mut self, checkpoint: Checkpoint, now: Instant) {
        self.entries.push((checkpoint, now));
    }

    /// Whether some checkpoint was of a file at `path`: a file there now, without a
    /// checkpoint of its own, appeared while the source was not running.
    pub fn knows_path(&self, path: &Path) -> bool {
        self.entries.iter().any(|(c, _)| c.path == path)
    }

    /// Takes the checkpoint of the open file (`dev`, `ino`, at `path`), if it has one. Two
    /// files with the same first bytes are told apart by inode, then by path.
    pub fn claim(
        &mut self,
        file: &File,
        dev: u64,
        ino: u64,
        path: &Path,
    ) -> io::Result<Option<Checkpoint>> {
        let mut best: Option<(usize, u8)> = None;
        for (i, (c, _)) in self.entries.iter().enumerate() {
            if !c.fingerprint.matches(file, dev, ino)? {
                continue;
            }
            let rank = if (c.fingerprint.dev, c.fingerprint.ino) == (dev, ino) {
                0
            } else if c.path == path {
                1
            } else {
                2
            };
            if best.is_none_or(|(_, r)| rank < r) {
                best = Some((i, rank));
            }
        }
        Ok(best.map(|(i, _)| self.entries.swap_remove(i).0))
    }

    /// Forgets checkpoints unclaimed for [`UNCLAIMED_RETENTION`].
    pub fn prune(&mut self, now: Instant) {
        self.entries
            .retain(|(_, since)| now.duration_since(*since) < UNCLAIMED_RETENTION);
    }

    pub fn checkpoints(&self) -> impl Iterator<Item = &Checkpoint> {
        self.entries.iter().map(|(c, _)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn file_with(dir: &Path, name: &str, bytes: &[u8]) -> (File, u64, u64) {
        let path = dir.join(name);
        let mut f = File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        let m = f.metadata().unwrap();
        (File::open(&path).unwrap(), m.dev(), m.ino())
    }

    #[test]
    fn a_full_head_identifies_a_file_wherever_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let text = vec![b'a'; 300];
        let (f, dev, ino) = file_with(dir.path(), "a", &text);
        let fp = Fingerprint::of(&f, dev, ino, 300).unwrap();
        assert!(fp.is_full());
        let (copy, dev2, ino2) = file_with(dir.path(), "b", &text);
        assert!(fp.matches(&copy, dev2, ino2).unwrap());
        let (other, dev3, ino3) = file_with(dir.path(), "c", &[b'b'; 300]);
        assert!(!fp.matches(&other, dev3, ino3).unwrap());
    }

    #[test]
    fn a_short_head_needs_the_same_inode_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (f, dev, ino) = file_with(dir.path(), "a", b"short\n");
        let fp = Fingerprint::of(&f, dev, ino, 6).unwrap();
        assert!(!fp.is_full());
        assert!(fp.matches(&f, dev, ino).unwrap());
        let (copy, dev2, ino2) = file_with(dir.path(), "b", b"short\n");
        assert!(!fp.matches(&copy, dev2, ino2).unwrap());
        let (other, _, _) = file_with(dir.path(), "c", b"other\n");
        // The same inode (as if reused) with other first bytes is another file.
        assert!(!fp.matches(&other, dev, ino).unwrap());
    }

    #[test]
    fn claims_prefer_the_same_inode_then_path_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let text = vec![b'x'; 400];
        let (a, dev_a, ino_a) = file_with(dir.path(), "a", &text);
        let (b, dev_b, ino_b) = file_with(dir.path(), "b", &text);
        let entry = |f: &File, dev, ino, name: &str, position| Checkpoint {
            fingerprint: Fingerprint::of(f, dev, ino, 400).unwrap(),
            path: dir.path().join(name),
            position,
        };
        let saved = vec![
            entry(&a, dev_a, ino_a, "a", 10),
            entry(&b, dev_b, ino_b, "b", 20),
        ];
        save(dir.path(), &encode(saved.clone()), true).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded, saved);
        let mut pool = Unclaimed::new(loaded, Instant::now());
        assert!(pool.knows_path(&dir.path().join("b")));
        let got = pool.claim(&b, dev_b, ino_b, &dir.path().join("b")).unwrap();
        assert_eq!(got.map(|c| c.position), Some(20));
        let got = pool.claim(&a, dev_a, ino_a, &dir.path().join("a")).unwrap();
        assert_eq!(got.map(|c| c.position), Some(10));
        assert_eq!(pool.checkpoints().count(), 0);
    }

    #[test]
    fn the_latest_checkpoints_win_and_when_cut_short_the_synced_ones_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let at = |position| {
            encode(vec![Checkpoint {
                fingerprint: Fingerprint {
                    dev: 1,
                    ino: 2,
                    head_len: 1,
                    head: "h".to_owned(),
                },
                path: dir.path().join("a"),
                position,
            }])
        };
        let positions = || -> Vec<u64> {
            load(dir.path())
                .unwrap()
                .iter()
                .map(|c| c.position)
                .collect()
        };
        save(dir.path(), &at(10), true).unwrap();
        save(dir.path(), &at(20), false).unwrap();
        assert_eq!(positions(), [20]);
        // A power cut left the unsynced file cut short: the synced one is read.
        let latest = at(30);
        std::fs::write(
            dir.path().join(LATEST_FILE_NAME),
            &latest[..latest.len() / 2],
        )
        .unwrap();
        assert_eq!(positions(), [10]);
    }

    #[test]
    fn a_damaged_checkpoints_file_is_an_error_and_none_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(
            error.message.contains("cannot read the checkpoints"),
            "{error}"
        );
    }
}
