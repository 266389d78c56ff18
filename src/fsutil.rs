//! Atomic file writes, shared by the file resources and the sinks.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A fresh name in `path`'s directory for a temp file; the leading dot hides it from globs.
pub fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    Ok(path.with_file_name(format!(
        ".{}.driftless-{}",
        name.to_string_lossy(),
        temp_suffix()?
    )))
}

/// 16 hex digits unique in this process: a random base read once, plus a counter. The file
/// is created with `create_new`, so a name that exists anyway is an error, never a clobber.
fn temp_suffix() -> io::Result<String> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = match BASE.get() {
        Some(base) => *base,
        None => {
            let hex = random_hex(8)?;
            *BASE.get_or_init(|| {
                u64::from_str_radix(&hex, 16).unwrap_or(u64::from(std::process::id()))
            })
        }
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(format!("{:016x}", base.wrapping_add(n)))
}

/// Whether `name` is one of our temp names: `.<name>.driftless-<16 hex digits>`.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(".driftless-").is_some_and(|(_, suffix)| {
            suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Removes temp files left in `dir` by a run killed before its rename, if they are older than
/// `before` (a concurrent run's temp files are younger).
pub fn remove_stale_temp_files(dir: &Path, before: std::time::SystemTime) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = name.to_str().is_some_and(is_temp_name)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < before);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// `bytes` random bytes from the kernel, as hex.
pub fn random_hex(bytes: usize) -> io::Result<String> {
    let mut random = vec![0u8; bytes];
    fs::File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut random))?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `path` so that a crash at any point leaves the old file or the new one: a temp file
/// in the same directory with the final mode and owner, fsync, rename, fsync of the directory.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (Option<u32>, Option<u32>),
) -> io::Result<()> {
    replace_file(path, bytes, mode, owner)?;
    sync_parent(path)
}

/// [`write_atomic`] without the directory fsync: the caller syncs each directory once after a
/// batch (the rename is atomic either way; the directory sync only makes it durable).
///
/// The file is written as an unnamed `O_TMPFILE` inode where the filesystem has them, then
/// linked in: a new file costs one directory operation instead of two (create, rename) — the
/// directory's lock is what parallel writes into one directory wait for — and a run killed
/// mid-write leaves nothing behind. Elsewhere (no `O_TMPFILE`, no `/proc`), a named temp file.
pub fn replace_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (Option<u32>, Option<u32>),
) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(mut file) = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(parent)
    {
        fill(&mut file, bytes, mode, owner)?;
        match link_unnamed(&file, path) {
            Ok(()) => return Ok(()),
            // Replacing a file: link under a temp name, then rename over it (atomic).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let temp = temp_path(path)?;
                link_unnamed(&file, &temp)?;
                return rename_or_remove(&temp, path);
            }
            // No /proc to name the inode by: write a named temp file instead.
            Err(_) => {}
        }
    }
    let temp = temp_path(path)?;
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| fill(&mut file, bytes, mode, owner));
    match written {
        Ok(()) => rename_or_remove(&temp, path),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Content, owner and mode of a file not yet under its final name, flushed to disk.
fn fill(
    file: &mut fs::File,
    bytes: &[u8],
    mode: u32,
    (uid, gid): (Option<u32>, Option<u32>),
) -> io::Result<()> {
    file.write_all(bytes)?;
    // Owner first: a chown clears the setuid and setgid bits the mode may set.
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&*file, uid, gid)?;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    // The data (and the size, which fdatasync includes) must be on disk before the new
    // name is, or a power loss could leave an empty file under the new name.
    file.sync_data()
}

fn rename_or_remove(temp: &Path, path: &Path) -> io::Result<()> {
    fs::rename(temp, path).inspect_err(|_| {
        let _ = fs::remove_file(temp);
    })
}

/// Gives an `O_TMPFILE` inode the name `path` (never replacing an existing entry).
fn link_unnamed(file: &fs::File, path: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let fd_path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let target = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A rename is durable only once its directory is synced.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_temp_names_are_swept() {
        assert!(is_temp_name(".motd.driftless-0123456789abcdef"));
        assert!(!is_temp_name("motd.driftless-0123456789abcdef"));
        assert!(!is_temp_name(".motd.driftless-0123"));
        assert!(!is_temp_name(".motd.swp"));
    }

    #[test]
    fn replace_file_creates_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f");
        replace_file(&path, b"one", 0o640, (None, None)).unwrap_or_else(|e| panic!("{e}"));
        replace_file(&path, b"two", 0o600, (None, None)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&path).unwrap_or_default(), b"two");
        let mode = fs::metadata(&path).map(|m| m.permissions().mode() & 0o7777);
        assert_eq!(mode.ok(), Some(0o600));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f")]);
    }

    #[test]
    fn replace_file_replaces_a_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        fs::write(&target, "kept").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        replace_file(&link, b"new", 0o644, (None, None)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&target).unwrap_or_default(), b"kept");
        assert!(fs::symlink_metadata(&link).is_ok_and(|m| m.is_file()));
        assert_eq!(fs::read(&link).unwrap_or_default(), b"new");
    }

    #[test]
    fn stale_temp_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let temp = dir.path().join(".f.driftless-00112233aabbccdd");
        let other = dir.path().join("f");
        fs::write(&temp, "partial").unwrap_or_else(|e| panic!("{e}"));
        fs::write(&other, "whole").unwrap_or_else(|e| panic!("{e}"));
        remove_stale_temp_files(
            dir.path(),
            std::time::SystemTime::now() + std::time::Duration::from_secs(1),
        );
        assert!(!temp.exists());
        assert!(other.exists());
    }
}
