//! The destination of an extraction, walked below its directory one component at a time
//! without following a link (`O_NOFOLLOW` on every name): what is there for an entry's path
//! when planning, and the directory an entry is written into when running. A symbolic link on
//! the way — put there by anyone, the archive included — is refused, never followed.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::at;
use crate::fsutil::walk;

/// What is at an entry's path below `dest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Found {
    pub path: String,
    /// `file`, `directory`, `link` or `other`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
}

/// The destination directory, held open.
pub struct Dest {
    pub dir: OwnedFd,
    /// How `dest` was reached from `/` (into the fingerprint).
    pub route: String,
}

/// Opens `dest`, which must be a directory and not a link; `None` when it does not exist.
pub fn open_dest(dest: &str) -> Result<Option<Dest>, String> {
    let location =
        walk::locate(Path::new(dest), false).map_err(|e| format!("cannot read {dest}: {e}"))?;
    let route = location.route().digest();
    let Some((dir, name)) = location.entry() else {
        return Ok(None);
    };
    let Some(stat) = at::stat_at(dir, name).map_err(|e| format!("cannot read {dest}: {e}"))? else {
        return Ok(None);
    };
    match at::file_type(&stat) {
        libc::S_IFDIR => {}
        libc::S_IFLNK => {
            return Err(format!(
                "{dest} is a symbolic link; archives are not extracted through links"
            ));
        }
        _ => return Err(format!("{dest} is not a directory")),
    }
    let dir = at::open_directory_at(dir, name).map_err(|e| format!("cannot open {dest}: {e}"))?;
    Ok(Some(Dest { dir, route }))
}

fn name(part: &str) -> Result<CString, String> {
    at::cstring(part.as_bytes()).map_err(|e| e.to_string())
}

/// The directory on `path`'s way at `parts[..n]`, refused when it is a link or not a
/// directory; `None` when missing.
fn step(dir: BorrowedFd<'_>, part: &str, shown: &str) -> Result<Option<OwnedFd>, String> {
    let c = name(part)?;
    match at::stat_at(dir, &c).map_err(|e| format!("cannot read {shown}: {e}"))? {
        None => Ok(None),
        Some(stat) => match at::file_type(&stat) {
            libc::S_IFDIR => at::open_directory_at(dir, &c)
                .map(Some)
                .map_err(|e| format!("cannot open {shown}: {e}")),
            libc::S_IFLNK => Err(format!(
                "{shown} is a symbolic link; entries are not extracted through links"
            )),
            _ => Err(format!("{shown} is in the way: it is not a directory")),
        },
    }
}

/// What is at `path` (relative) below `dest`, without following any link.
pub fn look(dest: &Dest, dest_path: &str, path: &str) -> Result<Option<Found>, String> {
    let parts: Vec<&str> = path.split('/').collect();
    let Some((last, above)) = parts.split_last() else {
        return Ok(None);
    };
    let mut current: Option<OwnedFd> = None;
    for (n, part) in above.iter().enumerate() {
        let shown = format!("{dest_path}/{}", parts[..=n].join("/"));
        let dir = current.as_ref().map_or(dest.dir.as_fd(), |d| d.as_fd());
        match step(dir, part, &shown)? {
            Some(next) => current = Some(next),
            None => return Ok(None),
        }
    }
    let dir = current.as_ref().map_or(dest.dir.as_fd(), |d| d.as_fd());
    let shown = format!("{dest_path}/{path}");
    let c = name(last)?;
    let Some(stat) = at::stat_at(dir, &c).map_err(|e| format!("cannot read {shown}: {e}"))? else {
        return Ok(None);
    };
    let mut found = Found {
        path: path.to_owned(),
        kind: "other".to_owned(),
        sha256: None,
        size: None,
        target: None,
        mode: format!("{:04o}", stat.st_mode & 0o7777),
        uid: stat.st_uid,
        gid: stat.st_gid,
    };
    match at::file_type(&stat) {
        libc::S_IFDIR => found.kind = "directory".to_owned(),
        libc::S_IFLNK => {
            found.kind = "link".to_owned();
            found.mode = "0777".to_owned();
            let target =
                at::read_link_at(dir, &c).map_err(|e| format!("cannot read {shown}: {e}"))?;
            found.target = Some(String::from_utf8_lossy(&target).into_owned());
        }
        libc::S_IFREG => {
            found.kind = "file".to_owned();
            let mut file =
                at::open_regular_at(dir, &c).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let hashed = crate::fsutil::hash_file(&mut file, 0)
                .map_err(|e| format!("cannot read {shown}: {e}"))?;
            found.sha256 = Some(hashed.sha256_hex());
            found.size = Some(hashed.size);
        }
        _ => {}
    }
    Ok(Some(found))
}

/// The directory an entry goes into and its name: each directory on the way opened without
/// following a link, the missing ones made (mode `0755`, `owner` given to them).
pub fn parent_of(
    dest: &Dest,
    dest_path: &str,
    path: &str,
    owner: (Option<u32>, Option<u32>),
) -> Result<(Option<OwnedFd>, CString), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let Some((last, above)) = parts.split_last() else {
        return Err("an empty path".to_owned());
    };
    let mut current: Option<OwnedFd> = None;
    for (n, part) in above.iter().enumerate() {
        let shown = format!("{dest_path}/{}", parts[..=n].join("/"));
        let dir = current.as_ref().map_or(dest.dir.as_fd(), |d| d.as_fd());
        let next = match step(dir, part, &shown)? {
            Some(next) => next,
            None => make_directory(dir, part, 0o755, owner, &shown)?,
        };
        current = Some(next);
    }
    Ok((current, name(last)?))
}

/// Makes the directory `part` in `dir` with `mode` and `owner`.
pub fn make_directory(
    dir: BorrowedFd<'_>,
    part: &str,
    mode: u32,
    owner: (Option<u32>, Option<u32>),
    shown: &str,
) -> Result<OwnedFd, String> {
    let c = name(part)?;
    let made = at::make_directory_at(dir, &c).map_err(|e| format!("cannot make {shown}: {e}"))?;
    at::set_attributes_at(dir, &c, at::Kind::Directory, owner, Some(mode))
        .map_err(|e| format!("cannot set the mode of {shown}: {e}"))?;
    Ok(made)
}
