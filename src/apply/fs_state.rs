//! The state of one path — what the file family observes and wants — and the one place that
//! changes the file system for all of them.
//!
//! Every file-family type reduces to a wanted [`FsState`]: a regular file with exact content,
//! a directory, a symbolic or hard link, or nothing. `lineinfile` and `blockinfile` compute the
//! whole new content at plan time, so what `execute` writes is exactly what the plan showed.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::principals::{self, Db};
use crate::fsutil::{replace_file, temp_path};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Absent,
    File,
    Directory,
    Link,
    HardLink,
    /// A socket, device or fifo: never created, only reported.
    Other,
}

/// One path's state as plan.json shows it in `before` and `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FsState {
    pub path: String,
    pub state: EntryKind,
    /// Wanted content (only in `after`), UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Wanted content that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// What a link points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Directories: create missing parents.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parents: bool,
    /// Removal of a non-empty directory, or replacement of something that is not a link.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// The path is a symlink the task asked to follow: manage what it points at.
    #[serde(default, skip_serializing_if = "is_false")]
    pub follow: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl FsState {
    pub fn absent(path: &str) -> Self {
        FsState {
            path: path.to_owned(),
            state: EntryKind::Absent,
            content: None,
            content_base64: None,
            sha256: None,
            size: None,
            target: None,
            mode: None,
            owner: None,
            uid: None,
            group: None,
            gid: None,
            parents: false,
            force: false,
            follow: false,
        }
    }

    /// Sets the wanted content: text when it is UTF-8, base64 otherwise.
    pub fn set_content(&mut self, bytes: &[u8]) {
        self.sha256 = Some(sha256_hex(bytes));
        self.size = Some(bytes.len() as u64);
        match std::str::from_utf8(bytes) {
            Ok(text) => self.content = Some(text.to_owned()),
            Err(_) => {
                self.content_base64 = Some(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }

    pub fn content_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(text) = &self.content {
            return Ok(Some(text.as_bytes().to_vec()));
        }
        match &self.content_base64 {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(Some)
                .map_err(|e| format!("content_base64 of {} is not base64: {e}", self.path)),
            None => Ok(None),
        }
    }

    pub fn mode_bits(&self) -> Option<u32> {
        self.mode
            .as_deref()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
    }

    pub fn set_mode(&mut self, bits: u32) {
        self.mode = Some(format!("{bits:04o}"));
    }

    pub fn set_owner(&mut self, uid: u32) {
        self.uid = Some(uid);
        self.owner = Some(principals::name(Db::User, uid));
    }

    pub fn set_group(&mut self, gid: u32) {
        self.gid = Some(gid);
        self.group = Some(principals::name(Db::Group, gid));
    }

    /// The state without the wanted content: what `before` shows and what fingerprints hash.
    pub fn without_content(&self) -> FsState {
        FsState {
            content: None,
            content_base64: None,
            ..self.clone()
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What observing a path found: its state, and the content of a regular file (for diffs and
/// line edits).
#[derive(Debug, Clone)]
pub struct Observed {
    pub state: FsState,
    pub content: Option<Vec<u8>>,
}

/// Reads the state of `path` without changing anything. A symlink is reported as a link unless
/// `follow` asks for its target. `hard_link_to` makes a regular file that shares its inode with
/// that path read as a hard link to it.
pub fn observe(path: &str, follow: bool, hard_link_to: Option<&str>) -> io::Result<Observed> {
    let mut state = FsState::absent(path);
    let metadata = match fs::symlink_metadata(path) {
        Ok(m) => m,
        // Under a regular file nothing exists either; making it fails when executed, like
        // under a missing directory.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Observed {
                state,
                content: None,
            });
        }
        Err(e) => return Err(e),
    };
    let metadata = if metadata.file_type().is_symlink() && follow {
        state.follow = true;
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Observed {
                    state,
                    content: None,
                });
            }
            Err(e) => return Err(e),
        }
    } else {
        metadata
    };
    let file_type = metadata.file_type();
    let mut content = None;
    state.state = if file_type.is_symlink() {
        state.target = Some(fs::read_link(path)?.to_string_lossy().into_owned());
        EntryKind::Link
    } else if file_type.is_dir() {
        EntryKind::Directory
    } else if file_type.is_file() {
        let same_inode = hard_link_to
            .and_then(|other| fs::metadata(other).ok())
            .is_some_and(|o| o.dev() == metadata.dev() && o.ino() == metadata.ino());
        if same_inode {
            state.target = hard_link_to.map(str::to_owned);
            EntryKind::HardLink
        } else {
            let bytes = fs::read(path)?;
            state.sha256 = Some(sha256_hex(&bytes));
            state.size = Some(bytes.len() as u64);
            content = Some(bytes);
            EntryKind::File
        }
    } else {
        EntryKind::Other
    };
    if !file_type.is_symlink() {
        state.set_mode(metadata.permissions().mode() & 0o7777);
    }
    state.set_owner(metadata.uid());
    state.set_group(metadata.gid());
    Ok(Observed { state, content })
}

/// The fingerprint of an observed state: what `execute` compares to refuse a stale plan. Only
/// what observing can see counts (not the wanted-state flags), so the state a planned change
/// leaves fingerprints like the same state observed after the change.
///
/// For a sensitive node (`with_content` false) the content hash is left out: a hash of a file
/// holding a secret would let anyone with the plan confirm a guess of the secret. Such a node
/// is re-rendered against the file as it is when it runs, so a content change since the plan
/// is still handled; only the refusal is lost.
pub fn fingerprint(state: &FsState, with_content: bool) -> String {
    let observable = (
        &state.path,
        state.state,
        state.sha256.as_ref().filter(|_| with_content),
        state.size.filter(|_| with_content),
        &state.target,
        &state.mode,
        state.uid,
        state.gid,
    );
    sha256_hex(&serde_json::to_vec(&observable).unwrap_or_default())
}

/// What differs between two observations, for "stale plan" messages.
pub fn describe_change(planned: &FsState, now: &FsState) -> String {
    if planned.state != now.state {
        return format!("{:?} → {:?}", planned.state, now.state).to_lowercase();
    }
    let mut changes = Vec::new();
    // A sensitive node's `before` has no hash: its content is not compared.
    if planned.sha256.is_some() && planned.sha256 != now.sha256 {
        changes.push("content changed".to_owned());
    }
    let fields = [
        ("mode", &planned.mode, &now.mode),
        ("owner", &planned.owner, &now.owner),
        ("group", &planned.group, &now.group),
        ("link target", &planned.target, &now.target),
    ];
    for (name, before, after) in fields {
        if before != after {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
            changes.push(format!("{name} {} → {}", show(before), show(after)));
        }
    }
    if changes.is_empty() {
        "changed".to_owned()
    } else {
        changes.join(", ")
    }
}

/// Makes `want` true of the file system, given `have` (observed just before). Writes are
/// atomic: a temp file in the same directory, fsync, rename; a crash leaves the old file or
/// the new one, never a mix. The caller syncs the parent directory (once per batch).
pub fn converge(have: &FsState, want: &FsState) -> Result<(), String> {
    let path = Path::new(&want.path);
    let fail = |what: &str, e: io::Error| format!("{what} {}: {e}", want.path);
    match want.state {
        EntryKind::Absent => remove(have, want).map_err(|e| fail("cannot remove", e)),
        EntryKind::File => {
            let content = want.content_bytes()?;
            let rewrite =
                have.state != EntryKind::File || (content.is_some() && have.sha256 != want.sha256);
            if rewrite {
                let bytes = content.unwrap_or_default();
                let target = if want.follow {
                    followed(path)
                } else {
                    path.to_path_buf()
                };
                let owner = (want.uid, want.gid);
                let mode = want.mode_bits().unwrap_or(0o644);
                replace_file(&target, &bytes, mode, owner).map_err(|e| fail("cannot write", e))
            } else {
                set_attributes(path, have, want).map_err(|e| fail("cannot set attributes of", e))
            }
        }
        EntryKind::Directory => {
            if have.state == EntryKind::Absent {
                let made = if want.parents {
                    fs::create_dir_all(path)
                } else {
                    fs::create_dir(path)
                };
                made.map_err(|e| fail("cannot create directory", e))?;
            } else if have.state != EntryKind::Directory {
                return Err(format!(
                    "{} exists and is not a directory ({:?})",
                    want.path, have.state
                )
                .to_lowercase());
            }
            set_attributes(path, have, want).map_err(|e| fail("cannot set attributes of", e))
        }
        EntryKind::Link | EntryKind::HardLink => {
            let target = want.target.as_deref().unwrap_or_default();
            let wrong = have.state != want.state || have.target.as_deref() != Some(target);
            // Replacing something that is not a link was refused by the plan unless forced
            // (or foreseen, for a hard link whose target is rewritten), and the precondition
            // check made sure the path is still what the plan saw.
            if wrong {
                link_atomic(path, target, want.state == EntryKind::HardLink)
                    .map_err(|e| fail("cannot link", e))?;
            }
            set_link_owner(path, have, want).map_err(|e| fail("cannot set owner of", e))
        }
        EntryKind::Other => Err(format!("{}: cannot create special files", want.path)),
    }
}

/// Where a followed symlink leads: the file it resolves to, or for a dangling link the path it
/// names (relative to the link's directory), which the write creates.
fn followed(path: &Path) -> std::path::PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| match fs::read_link(path) {
        Ok(target) => path.parent().unwrap_or(Path::new("/")).join(target),
        Err(_) => path.to_path_buf(),
    })
}

fn remove(have: &FsState, want: &FsState) -> io::Result<()> {
    let path = Path::new(&want.path);
    match have.state {
        EntryKind::Absent => Ok(()),
        EntryKind::Directory if have.follow => fs::remove_file(path),
        EntryKind::Directory if want.force => fs::remove_dir_all(path),
        EntryKind::Directory => fs::remove_dir(path),
        _ => fs::remove_file(path),
    }
}

fn link_atomic(path: &Path, target: &str, hard: bool) -> io::Result<()> {
    let temp = temp_path(path)?;
    if hard {
        fs::hard_link(target, &temp)?;
    } else {
        std::os::unix::fs::symlink(target, &temp)?;
    }
    fs::rename(&temp, path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

fn set_attributes(path: &Path, have: &FsState, want: &FsState) -> io::Result<()> {
    let uid = want.uid.filter(|u| have.uid != Some(*u));
    let gid = want.gid.filter(|g| have.gid != Some(*g));
    let chown = uid.is_some() || gid.is_some();
    if chown {
        std::os::unix::fs::chown(path, uid, gid)?;
    }
    // After the owner: a chown clears the setuid and setgid bits, which the mode sets again.
    if let Some(mode) = want.mode_bits()
        && (chown || have.mode_bits() != Some(mode))
    {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

fn set_link_owner(path: &Path, have: &FsState, want: &FsState) -> io::Result<()> {
    let uid = want.uid.filter(|u| have.uid != Some(*u));
    let gid = want.gid.filter(|g| have.gid != Some(*g));
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::lchown(path, uid, gid)?;
    }
    Ok(())
}
