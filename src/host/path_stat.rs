//! What one path is, as Ansible's `stat` module reports it: whether it exists, its kind, mode,
//! owner, size, times and (for a regular file) a checksum of its content. Read-only; the
//! `stat` task type observes through it at plan time and again when `execute` checks that the
//! plan is not stale.

use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::users::{self, Db};

/// The digests a checksum can be (Ansible's `checksum_algorithm` names).
pub const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// The digest when none is named: SHA-1, as Ansible's `stat` defaults to.
pub const DEFAULT_ALGORITHM: &str = "sha1";

/// What `stat` found at a path: `exists: false` and nothing else when there is nothing.
/// Field names and formats are Ansible's (`mode` is the octal string `"0644"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
// Compared whole by the stale check; the times are the only floats, read the same way twice.
pub struct PathStat {
    pub exists: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub found: Option<Found>,
}

/// The details of a path that exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    pub path: String,
    pub isdir: bool,
    pub isreg: bool,
    pub islnk: bool,
    pub isfifo: bool,
    pub issock: bool,
    pub isblk: bool,
    pub ischr: bool,
    /// The permission bits, as Ansible writes them: `"0644"`, `"4755"`.
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// The owner's name (the uid as text when it has none).
    pub pw_name: String,
    /// The group's name (the gid as text when it has none).
    pub gr_name: String,
    pub size: u64,
    /// Seconds since the epoch, with their fraction (as Ansible's).
    pub mtime: f64,
    pub ctime: f64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
    /// Where a symbolic link points (only for a link that was not followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lnk_target: Option<String>,
    /// The hex digest of a regular file's content, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// How to look at a path.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// Report what a symbolic link points to instead of the link itself.
    pub follow: bool,
    /// Digest a regular file's content with this algorithm (one of [`ALGORITHMS`]).
    pub checksum: Option<&'a str>,
}

/// What is at `path`. A path that does not exist (or whose parent is not a directory) is
/// `exists: false`; any other failure (permission) is an error.
pub fn stat(path: &Path, look: Look<'_>) -> io::Result<PathStat> {
    let metadata = match if look.follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    } {
        Ok(m) => m,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(PathStat::default());
        }
        Err(e) => return Err(e),
    };
    let kind = metadata.file_type();
    let lnk_target = if kind.is_symlink() {
        Some(std::fs::read_link(path)?.to_string_lossy().into_owned())
    } else {
        None
    };
    let checksum = match look.checksum {
        Some(algorithm) if kind.is_file() => Some(digest_file(path, &metadata, algorithm)?),
        _ => None,
    };
    Ok(PathStat {
        exists: true,
        found: Some(Found {
            path: path.to_string_lossy().into_owned(),
            isdir: kind.is_dir(),
            isreg: kind.is_file(),
            islnk: kind.is_symlink(),
            isfifo: kind.is_fifo(),
            issock: kind.is_socket(),
            isblk: kind.is_block_device(),
            ischr: kind.is_char_device(),
            mode: format!("{:04o}", metadata.mode() & 0o7777),
            uid: metadata.uid(),
            gid: metadata.gid(),
            pw_name: users::name(Db::User, metadata.uid()),
            gr_name: users::name(Db::Group, metadata.gid()),
            size: metadata.size(),
            mtime: seconds(metadata.mtime(), metadata.mtime_nsec()),
            ctime: seconds(metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            dev: metadata.dev(),
            nlink: metadata.nlink(),
            lnk_target,
            checksum,
        }),
    })
}

/// A time as seconds since the epoch with their fraction.
fn seconds(seconds: i64, nanoseconds: i64) -> f64 {
    seconds as f64 + nanoseconds as f64 / 1e9
}

/// The hex digest of the regular file at `path` (the one `metadata` describes: a file swapped
/// in between is refused rather than digested).
fn digest_file(path: &Path, metadata: &Metadata, algorithm: &str) -> io::Result<String> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        // A FIFO swapped in after the look would block the read.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() || opened.ino() != metadata.ino() || opened.dev() != metadata.dev() {
        return Err(io::Error::other(format!(
            "{} changed while it was read",
            path.display()
        )));
    }
    match algorithm {
        "md5" => digest::<Md5>(&mut file),
        "sha1" => digest::<Sha1>(&mut file),
        "sha224" => digest::<Sha224>(&mut file),
        "sha256" => digest::<Sha256>(&mut file),
        "sha384" => digest::<Sha384>(&mut file),
        "sha512" => digest::<Sha512>(&mut file),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown checksum algorithm `{other}`"),
        )),
    }
}

fn digest<D: Digest>(reader: &mut impl Read) -> io::Result<String> {
    let mut hasher = D::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_its_mode_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let look = Look {
            follow: false,
            checksum: Some("sha1"),
        };
        let found = stat(&path, look).unwrap().found.unwrap();
        assert!(found.isreg && !found.isdir && !found.islnk);
        assert_eq!(found.mode, "0640");
        assert_eq!(found.size, 6);
        assert_eq!(
            found.checksum.as_deref(),
            Some("f572d396fae9206628714fb2ce00f72e94f2258f")
        );
    }

    #[test]
    fn a_link_followed_or_not_and_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let unfollowed = Look {
            follow: false,
            checksum: None,
        };
        let found = stat(&link, unfollowed).unwrap().found.unwrap();
        assert!(found.islnk);
        assert_eq!(found.lnk_target.as_deref(), dir.path().to_str());
        let followed = Look {
            follow: true,
            ..unfollowed
        };
        assert!(stat(&link, followed).unwrap().found.unwrap().isdir);
        let missing = stat(&dir.path().join("nope/x"), unfollowed).unwrap();
        assert_eq!(missing, PathStat::default());
        assert_eq!(
            serde_json::to_string(&missing).unwrap(),
            r#"{"exists":false}"#
        );
    }
}
