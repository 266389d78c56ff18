//! The digest of a config directory: what a plan records of the config it was made from, and
//! what `execute` compares before it renders sensitive values from that config again.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::git;

/// The digest of everything a run may read from `dir`: every entry under it, hidden ones
/// included, except `.git`. Entries are taken in byte order of their relative paths; each
/// feeds its path, a zero byte, its kind and what it holds: a regular file its content's
/// SHA-256; a symbolic link the SHA-256 of its target text and of the regular file it leads to
/// (a re-pointed link changes what a run reads); anything else only its kind (a FIFO or a
/// device is never opened).
pub(super) fn digest_dir(dir: &Path) -> String {
    let mut entries = Vec::new();
    collect(dir, dir, &mut entries);
    entries.sort();
    let mut hasher = Sha256::new();
    for (relative, path) in entries {
        hasher.update(&relative);
        hasher.update([0]);
        hash_entry(&path, &mut hasher);
    }
    crate::fsutil::hex(&hasher.finalize())
}

/// What one entry contributes after its path.
fn hash_entry(path: &Path, hasher: &mut Sha256) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        hasher.update(b"?");
        return;
    };
    if metadata.file_type().is_symlink() {
        hasher.update(b"l");
        let target = std::fs::read_link(path).unwrap_or_default();
        hasher.update(Sha256::digest(target.as_os_str().as_bytes()));
        match std::fs::metadata(path) {
            Ok(followed) if followed.is_file() => hasher.update(file_digest(path)),
            _ => hasher.update([0; 32]),
        }
    } else if metadata.is_file() {
        hasher.update(b"f");
        hasher.update(file_digest(path));
    } else {
        hasher.update(b"o");
    }
}

/// SHA-256 of a regular file's content, streamed; 32 zero bytes when unreadable (the run
/// could not read it either). Opened only as a regular file: a FIFO put in its place between
/// the look and the open must not hang the plan.
fn file_digest(path: &Path) -> [u8; 32] {
    crate::fsutil::open_regular_file(path)
        .and_then(|mut file| crate::fsutil::hash_file(&mut file, 0))
        .map_or([0; 32], |hashed| hashed.sha256)
}

/// Every entry under `dir` but `.git`, with its path relative to `root` as bytes. Only real
/// directories are entered (a symbolic link is an entry of its own), so this ends.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(Vec<u8>, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == git::DIR_NAME {
            continue;
        }
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push((relative.as_os_str().as_bytes().to_vec(), path));
        }
    }
}
