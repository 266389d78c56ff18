//! File system access shared by the file resources and the sinks: atomic writes, and paths
//! resolved without following symbolic links nobody saw ([`walk`], [`at`]).

pub mod at;
pub mod walk;

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// The largest file driftless reads into memory: a `copy` source (from the config dir or the
/// host), a template file, a managed file whose lines are edited or whose diff is shown.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A fresh name for a temp file beside the entry `name`: `.<name>.driftless-<16 hex digits>`,
/// the leading dot hiding it from globs.
pub fn temp_name(name: &CStr) -> io::Result<CString> {
    let mut temp = b".".to_vec();
    temp.extend_from_slice(name.to_bytes());
    temp.extend_from_slice(format!(".driftless-{}", temp_suffix()?).as_bytes());
    at::cstring(&temp)
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
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(".driftless-").is_some_and(|(_, suffix)| {
            suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Removes temp files left in `dir` by a run killed before its rename, if they are older than
/// `before` (a concurrent run's temp files are younger). A directory reached through a
/// symbolic link is left alone: the sweep removes files, and has no route to check it against.
pub fn remove_stale_temp_files(dir: &Path, before: std::time::SystemTime) {
    let Ok(dir) = walk::open_directory_without_links(dir) else {
        return;
    };
    let Ok(names) = at::entry_names(dir.as_fd()) else {
        return;
    };
    let before = before
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for name in names {
        let ours = name.to_str().is_ok_and(is_temp_name);
        let stale = ours
            && at::stat_at(dir.as_fd(), &name)
                .ok()
                .flatten()
                .is_some_and(|stat| stat.st_mtime < before);
        if stale {
            let _ = at::unlink_at(dir.as_fd(), &name, false);
        }
    }
}

/// `bytes` random bytes from the kernel, as hex.
pub fn random_hex(bytes: usize) -> io::Result<String> {
    let mut random = vec![0u8; bytes];
    random_bytes(&mut random)?;
    Ok(hex(&random))
}

/// Fills `buf` from the OS's randomness.
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    fs::File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, buf))
}

/// Lower-case hex of `bytes`: digests and fingerprints, several per planned task (a
/// `format!` per byte cost more than the hashing).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
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
    use std::os::unix::ffi::OsStrExt;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = fs::File::open(parent)?;
    at::write_at(
        dir.as_fd(),
        &at::cstring(name.as_bytes())?,
        bytes,
        mode,
        owner,
    )
}

/// How an absolute path is not spelled plainly ([`normal_path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotNormal {
    /// A `.` or `..` component.
    Dot,
    /// An empty component: `//` or a trailing `/`.
    Empty,
}

impl NotNormal {
    pub fn why(self) -> &'static str {
        match self {
            NotNormal::Dot => "has a `.` or `..` component",
            NotNormal::Empty => "has an empty component (`//` or a trailing `/`)",
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            NotNormal::Dot => "write the path without `.` or `..` components",
            NotNormal::Empty => {
                "write the path with one `/` between components and none at the end"
            }
        }
    }
}

/// Absolute and plainly spelled, as `check` requires: what a read-back plan's paths must be
/// (`show` prints a path as written, and `.` or `..` after a symbolic link would make the
/// kernel write elsewhere).
pub fn check_plain_absolute(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` is not absolute"));
    }
    normal_path(path).map_err(|not_normal| format!("path `{path}` {}", not_normal.why()))
}

/// Whether an absolute path is spelled plainly: no `.` or `..` component, no empty one (`//`,
/// a trailing `/`). The kernel resolves `..` after following a symbolic link, so a path
/// spelled otherwise may name another file than it reads as.
pub fn normal_path(path: &str) -> Result<(), NotNormal> {
    if path == "/" {
        return Ok(());
    }
    for component in path.split('/').skip(1) {
        match component {
            "." | ".." => return Err(NotNormal::Dot),
            "" => return Err(NotNormal::Empty),
            _ => {}
        }
    }
    Ok(())
}

/// Reads a whole regular file of at most [`MAX_FILE_BYTES`] (a source to copy, a template),
/// by path: see [`open_regular_file`].
pub fn read_regular_file(path: &Path) -> io::Result<Vec<u8>> {
    at::read_bounded(&mut open_regular_file(path)?)
}

/// An open file's SHA-256 and size, and its bytes when there are at most `keep` of them.
pub struct Hashed {
    pub sha256: [u8; 32],
    pub size: u64,
    pub content: Option<Vec<u8>>,
}

impl Hashed {
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// Streams an open file through SHA-256: a file of any size is hashed in constant memory, and
/// its bytes are kept only up to `keep`.
pub fn hash_file(file: &mut fs::File, keep: u64) -> io::Result<Hashed> {
    use sha2::{Digest, Sha256};
    use std::cell::RefCell;
    use std::io::Read;
    // One read buffer per thread: a fresh zeroed 64 KiB for every file cost more than hashing
    // a small one.
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 64 * 1024]);
    }
    BUFFER.with_borrow_mut(|buffer| {
        let mut hasher = Sha256::new();
        let mut content = Some(Vec::new());
        let mut size = 0u64;
        loop {
            let n = match file.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buffer[..n]);
            size += n as u64;
            if size > keep {
                content = None;
            } else if let Some(content) = &mut content {
                content.extend_from_slice(&buffer[..n]);
            }
        }
        Ok(Hashed {
            sha256: hasher.finalize().into(),
            size,
            content,
        })
    })
}

/// Why [`copy_hashed`] stopped.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the source failed (a download cut, a corrupt archive).
    Read(io::Error),
    /// Writing the copy failed.
    Write(io::Error),
    /// The source holds more than the limit.
    TooLarge,
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => write!(f, "{e}"),
            CopyError::TooLarge => f.write_str("larger than allowed"),
        }
    }
}

/// Copies `from` into `to` — at most `limit` bytes — hashing it on the way (a download, an
/// archive's entry): the SHA-256 and size of what was copied.
pub fn copy_hashed(
    from: &mut dyn io::Read,
    to: &mut dyn io::Write,
    limit: u64,
) -> Result<Hashed, CopyError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        size += n as u64;
        if size > limit {
            return Err(CopyError::TooLarge);
        }
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n]).map_err(CopyError::Write)?;
    }
    Ok(Hashed {
        sha256: hasher.finalize().into(),
        size,
        content: None,
    })
}

/// Opens a regular file for reading, by path (links followed): a FIFO, device or directory is
/// refused without being opened or, should it take the name meanwhile, read (`O_NONBLOCK`: a
/// FIFO does not even block the open).
pub fn open_regular_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    // Looked at before it is opened: opening a device can have effects of its own.
    let metadata = fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(at::not_regular(metadata.mode()));
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let stat = at::fstat(file.as_fd())?;
    if at::file_type(&stat) != libc::S_IFREG {
        return Err(at::not_regular(stat.st_mode));
    }
    Ok(file)
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
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_plainly_written_paths_are_normal() {
        for plain in ["/", "/etc", "/etc/motd", "/srv/..data/.hidden", "/a/.../b"] {
            assert_eq!(normal_path(plain), Ok(()), "{plain}");
        }
        for dotted in ["/etc/./motd", "/tmp/x/lk/../f", "/..", "/etc/."] {
            assert_eq!(normal_path(dotted), Err(NotNormal::Dot), "{dotted}");
        }
        for empty in ["//etc", "/etc//motd", "/etc/"] {
            assert_eq!(normal_path(empty), Err(NotNormal::Empty), "{empty}");
        }
    }

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
