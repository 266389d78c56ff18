//! The state of one path — what the file family observes and wants — and the one place that
//! changes the file system for all of them.
//!
//! Every file-family type reduces to a wanted [`FsState`]: a regular file with exact content,
//! a directory, a symbolic or hard link, or nothing. `lineinfile` and `blockinfile` compute the
//! whole new content at plan time, so what `execute` writes is exactly what the plan showed.

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ResourceError;
use crate::fsutil::walk::{self, Location, Route, Walked};
use crate::fsutil::{MAX_FILE_BYTES, at, hash_file};
use crate::host::users::{self, Db};

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

// The fields are in alphabetical order: plan.json writes the keys of a state sorted, and
// serializing the struct in this order writes them so without a detour through a map.
/// One path's state as plan.json shows it in `before` and `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FsState {
    /// Only in `after`: before new content replaces an existing file, the old file is kept as
    /// `<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (UTC), as Ansible names backups.
    #[serde(default, skip_serializing_if = "is_false")]
    pub backup: bool,
    /// Wanted content (only in `after`), UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Wanted content that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// The path is a symlink the task asked to follow: manage what it points at.
    #[serde(default, skip_serializing_if = "is_false")]
    pub follow: bool,
    /// Removal of a non-empty directory, or replacement of something that is not a link.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Directories: create missing parents.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parents: bool,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub state: EntryKind,
    /// What a link points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Only in `after`: the command run on new content before it replaces the file, one
    /// argument per element, `%s` standing for a temporary copy of the content; a non-zero
    /// exit keeps the old file and fails the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Box<[String]>>,
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
            backup: false,
            validate: None,
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

    /// The state plan.json records in `value`, if it is one.
    pub fn deserialize_from(value: &serde_json::Value) -> Option<FsState> {
        FsState::deserialize(value).ok()
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
        self.owner = Some(users::name(Db::User, uid));
    }

    /// The owner and group named without an id: not on the host when the plan was made, to
    /// be made by a task of the plan and looked up when the node runs.
    pub fn pending_principals(&self) -> impl Iterator<Item = (Db, &str)> {
        let user = self.owner.as_deref().filter(|_| self.uid.is_none());
        let group = self.group.as_deref().filter(|_| self.gid.is_none());
        let user = user.map(|name| (Db::User, name));
        user.into_iter().chain(group.map(|name| (Db::Group, name)))
    }

    /// Looks up the ids of [`pending_principals`](Self::pending_principals), now that the tasks
    /// making them ran.
    pub fn resolve_pending_principals(&mut self) -> Result<(), String> {
        if let (Some(name), None) = (&self.owner, self.uid) {
            self.uid = Some(users::resolve(Db::User, name)?);
        }
        if let (Some(name), None) = (&self.group, self.gid) {
            self.gid = Some(users::resolve(Db::Group, name)?);
        }
        Ok(())
    }

    pub fn set_group(&mut self, gid: u32) {
        self.gid = Some(gid);
        self.group = Some(users::name(Db::Group, gid));
    }

    /// The state without what a sensitive node hides: the content, and the hashes that would
    /// let a guess of it be confirmed.
    pub fn redacted(&self) -> FsState {
        FsState {
            content: None,
            content_base64: None,
            sha256: None,
            size: None,
            ..self.clone()
        }
    }

    /// The state without the wanted content (nor how it is written): what `before` shows,
    /// what fingerprints hash and what a chained edit starts from.
    pub fn without_content(&self) -> FsState {
        FsState {
            content: None,
            content_base64: None,
            backup: false,
            validate: None,
            ..self.clone()
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::fsutil::hex(&Sha256::digest(bytes))
}

/// What observing a path found: its state, the content of a regular file (for diffs and line
/// edits; `None` when larger than [`MAX_FILE_BYTES`], whose hash is still taken), and how the
/// path was reached.
#[derive(Debug, Clone)]
pub struct Observed {
    pub state: FsState,
    pub content: Option<Vec<u8>>,
    /// The directories and links that led to the path: part of the fingerprint, so that a
    /// directory replaced by a link (or a followed link re-pointed) makes the plan stale.
    pub route: Route,
}

/// Where an observation was made, held open for the change that follows it: [`converge`]
/// acts in the directories the observation went through, never where the path names now.
#[derive(Debug)]
pub struct Place {
    entry: Location,
    /// A hard link's source, and the entry found there (`None`: missing).
    source: Option<(Location, Option<at::Stat>)>,
}

impl Place {
    /// The directory holding the observed entry and its name, when every directory on the
    /// way exists: where a type that writes its own content (a download) writes it.
    pub fn entry(&self) -> Option<(BorrowedFd<'_>, &CStr)> {
        self.entry.entry()
    }
}

/// Reads the state of `path` without changing anything. A symlink is reported as a link unless
/// `follow` asks for its target. `hard_link_to` makes a regular file that shares its inode with
/// that path read as a hard link to it.
/// Planning: the directories already walked to are started from (`walked`).
pub fn observe(
    path: &str,
    follow: bool,
    hard_link_to: Option<&str>,
    walked: &Walked,
) -> io::Result<Observed> {
    let locate = |path: &Path, follow| walked.locate(path, follow);
    observe_with(path, follow, hard_link_to, &locate).map(|(observed, _)| observed)
}

/// [`observe`] afresh, every path walked from `/`, keeping the place it looked at open for
/// [`converge`]: what `execute` checks a node's precondition with.
pub fn observe_in_place(
    path: &str,
    follow: bool,
    hard_link_to: Option<&str>,
) -> io::Result<(Observed, Place)> {
    observe_with(path, follow, hard_link_to, &walk::locate)
}

fn observe_with(
    path: &str,
    follow: bool,
    hard_link_to: Option<&str>,
    locate: &dyn Fn(&Path, bool) -> io::Result<Location>,
) -> io::Result<(Observed, Place)> {
    let entry = locate(Path::new(path), follow)?;
    // A relative source (allowed only for `state: absent`) names nothing to compare with.
    let source = hard_link_to
        .map(Path::new)
        .filter(|source| source.is_absolute())
        .map(|source| locate_source(source, locate))
        .transpose()?;
    let mut route = entry.route().clone();
    if let Some((location, found)) = &source {
        // The source entry itself is part of the route: another inode swapped in under its
        // name makes the link's node stale.
        let mut source_route = location.route().clone();
        if let Some(found) = found {
            source_route = source_route.with_entry(*found);
        }
        route = route.with_source(source_route);
    }
    let mut state = FsState::absent(path);
    state.follow = entry.link().is_some();
    let mut content = None;
    // Without an entry (a missing directory on the way, or a regular file where one should
    // be) nothing is there, and making it fails when executed.
    if let Some((dir, name)) = entry.entry()
        && let Some(stat) = at::stat_at(dir, name)?
    {
        let source_entry = source.as_ref().and_then(|(_, found)| found.as_ref());
        content = read_entry(&mut state, (dir, name), stat, source_entry)?;
        if state.state == EntryKind::HardLink {
            state.target = hard_link_to.map(str::to_owned);
        }
    }
    let observed = Observed {
        state,
        content,
        route,
    };
    Ok((observed, Place { entry, source }))
}

/// Resolves a hard link's source (a link there is the source itself, not followed) and
/// looks at the entry it names.
fn locate_source(
    source: &Path,
    locate: &dyn Fn(&Path, bool) -> io::Result<Location>,
) -> io::Result<(Location, Option<at::Stat>)> {
    let location = locate(source, false)?;
    let found = match location.entry() {
        Some((dir, name)) => at::stat_at(dir, name)?.map(|stat| at::Stat::of(&stat)),
        None => None,
    };
    Ok((location, found))
}

/// Fills `state` from the entry `name` in `dir` (whose `stat` was just taken) and returns a
/// regular file's content. `source` is a hard link's source entry, as found.
fn read_entry(
    state: &mut FsState,
    (dir, name): (BorrowedFd<'_>, &CStr),
    stat: libc::stat,
    source: Option<&at::Stat>,
) -> io::Result<Option<Vec<u8>>> {
    let mut content = None;
    let stat = match at::file_type(&stat) {
        libc::S_IFLNK => {
            let target = at::read_link_at(dir, name)?;
            state.target = Some(String::from_utf8_lossy(&target).into_owned());
            state.state = EntryKind::Link;
            stat
        }
        libc::S_IFDIR => {
            state.state = EntryKind::Directory;
            stat
        }
        libc::S_IFREG if source.is_some_and(|s| (s.dev, s.ino) == (stat.st_dev, stat.st_ino)) => {
            state.state = EntryKind::HardLink;
            stat
        }
        libc::S_IFREG => {
            let mut file = at::open_regular_at(dir, name)?;
            // Mode and owner of the file whose content is read, should it change meanwhile.
            let opened = at::fstat(file.as_fd())?;
            let hashed = hash_file(&mut file, MAX_FILE_BYTES)?;
            state.sha256 = Some(hashed.sha256_hex());
            state.size = Some(hashed.size);
            content = hashed.content;
            state.state = EntryKind::File;
            opened
        }
        _ => {
            state.state = EntryKind::Other;
            stat
        }
    };
    if state.state != EntryKind::Link {
        state.set_mode(stat.st_mode & 0o7777);
    }
    state.set_owner(stat.st_uid);
    state.set_group(stat.st_gid);
    Ok(content)
}

/// The fingerprint of an observed state reached by the route whose digest is `route`: what
/// `execute` compares to refuse a stale plan. Only what observing can see counts (not the
/// wanted-state flags), so the state a planned change leaves fingerprints like the same state
/// observed after the change.
///
/// For a sensitive node (`with_content` false) the content hash is left out: a hash of a file
/// holding a secret would let anyone with the plan confirm a guess of the secret. Such a node
/// is re-rendered against the file as it is when it runs, so a content change since the plan
/// is still handled; only the refusal is lost.
pub fn fingerprint(state: &FsState, route: &str, with_content: bool) -> String {
    let observable = (
        &state.path,
        state.state,
        state.sha256.as_ref().filter(|_| with_content),
        state.size.filter(|_| with_content),
        &state.target,
        &state.mode,
        state.uid,
        state.gid,
        route,
    );
    sha256_hex(&serde_json::to_vec(&observable).unwrap_or_default())
}

/// Why an observation does not match a plan's fingerprint.
#[derive(Debug, PartialEq, Eq)]
pub enum Stale {
    /// The state, or the way to it, changed ([`describe_change`] says how).
    Changed,
    /// The way to it only gained directories, and this one of them cannot be trusted.
    UntrustedDirectory(String),
}

/// Whether what is observed now is what a plan's `fingerprint` recorded: the same state,
/// reached through the same directories and links — or through a route that only adds
/// directories at its end, made since (by an earlier node of the plan, say), no links, each
/// made by this run or owned by the user it runs as and writable by no one else.
pub fn check_fingerprint(
    fingerprint: &str,
    now: &Observed,
    with_content: bool,
) -> Result<(), Stale> {
    let candidates = now.route.candidates();
    let matched = candidates
        .iter()
        .find(|route| self::fingerprint(&now.state, &route.digest, with_content) == fingerprint)
        .ok_or(Stale::Changed)?;
    match matched.untrusted() {
        Some(why) => Err(Stale::UntrustedDirectory(why)),
        None => Ok(()),
    }
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
        // All that is left is the route.
        "the way to it changed: a directory on its path was replaced, or a symbolic link on \
         it was made or re-pointed, or a hard link's source is another file now"
            .to_owned()
    } else {
        changes.join(", ")
    }
}

/// Makes `want` true of the file system at `place` (where `have` was observed just before).
/// Every call acts in the directories that observation went through, by name below them, and
/// never follows a link there: a directory replaced by a link since cannot redirect it.
/// Writes are atomic: a temp file in the same directory, fsync, rename; a crash leaves the old
/// file or the new one, never a mix. The caller syncs the parent directory (once per batch).
pub fn converge(have: &FsState, want: &FsState, place: &Place) -> Result<(), ResourceError> {
    let fail =
        |what: &str, e: io::Error| ResourceError::io(format_args!("{what} {}", want.path), &e);
    let entry = || {
        place
            .entry
            .entry()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    };
    match want.state {
        EntryKind::Absent => remove(have, want, place).map_err(|e| fail("cannot remove", e)),
        EntryKind::File => {
            let content = want.content_bytes()?;
            let rewrite =
                have.state != EntryKind::File || (content.is_some() && have.sha256 != want.sha256);
            let (dir, name) = entry().map_err(|e| fail("cannot write", e))?;
            if rewrite {
                let bytes = content.unwrap_or_default();
                // The old file stays until the new content passed the check, and its backup
                // is made only now that it will be replaced.
                if let Some(argv) = &want.validate {
                    super::files::write_checks::validate(argv, &bytes, &want.path)?;
                }
                if want.backup && have.state == EntryKind::File {
                    super::files::write_checks::backup(dir, name, &want.path)?;
                }
                let owner = (want.uid, want.gid);
                let mode = want.mode_bits().unwrap_or(0o644);
                at::write_at(dir, name, &bytes, mode, owner).map_err(|e| fail("cannot write", e))
            } else {
                set_attributes(dir, name, at::Kind::File, have, want)
                    .map_err(|e| fail("cannot set attributes of", e))
            }
        }
        EntryKind::Directory => {
            let made;
            let (dir, name) = if have.state == EntryKind::Absent {
                made = make_directory(&place.entry, want.parents)
                    .map_err(|e| fail("cannot create directory", e))?;
                (made.0.as_fd(), made.1)
            } else if have.state != EntryKind::Directory {
                return Err(format!(
                    "{} exists and is not a directory ({:?})",
                    want.path, have.state
                )
                .to_lowercase()
                .into());
            } else {
                entry().map_err(|e| fail("cannot set attributes of", e))?
            };
            set_attributes(dir, name, at::Kind::Directory, have, want)
                .map_err(|e| fail("cannot set attributes of", e))
        }
        EntryKind::Link | EntryKind::HardLink => {
            let target = want.target.as_deref().unwrap_or_default();
            let wrong = have.state != want.state || have.target.as_deref() != Some(target);
            let (dir, name) = entry().map_err(|e| fail("cannot link", e))?;
            // Replacing something that is not a link was refused by the plan unless forced
            // (or foreseen, for a hard link whose target is rewritten), and the precondition
            // check made sure the path is still what the plan saw.
            if wrong {
                link(dir, name, target, want.state, place).map_err(|e| fail("cannot link", e))?;
            }
            set_link_owner(dir, name, have, want).map_err(|e| fail("cannot set owner of", e))
        }
        EntryKind::Other => Err(format!("{}: cannot create special files", want.path).into()),
    }
}

/// Creates the directory a location names, with the missing directories above it when
/// `parents`, each below the one before, none followed if a link appears there. Returns the
/// directory it is in, and its name.
fn make_directory(location: &Location, parents: bool) -> io::Result<(OwnedFd, &CStr)> {
    let (deepest, names) = location.deepest();
    let Some((name, above)) = names.split_last() else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    if !above.is_empty() && !parents {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let mut dir = at::open_directory_at(deepest, c".")?;
    let mut path = location.deepest_path().to_owned();
    for missing in above {
        path.push(OsStr::from_bytes(missing.as_bytes()));
        dir = make_or_open_trusted(dir.as_fd(), missing, &path)?;
    }
    path.push(OsStr::from_bytes(name.as_bytes()));
    match at::make_directory_at(dir.as_fd(), name) {
        // As `mkdir -p`: one that exists is fine when it can be trusted
        // (`set_attributes` checks it is a directory).
        Err(e) if parents && e.kind() == io::ErrorKind::AlreadyExists => {
            make_or_open_trusted(dir.as_fd(), name, &path)?;
            Ok((dir, name.as_c_str()))
        }
        Err(e) => Err(e),
        Ok(_) => Ok((dir, name.as_c_str())),
    }
}

/// The directory `name` in `dir`, made now, or already there when it can be trusted: it
/// was missing when checked, so someone made it since — only this run, or the user it runs as
/// with no one else able to write to it, may have (the same rule as for a route).
fn make_or_open_trusted(dir: BorrowedFd<'_>, name: &CStr, path: &Path) -> io::Result<OwnedFd> {
    match at::make_directory_at(dir, name) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        made => return made,
    }
    let existing = at::open_directory_at(dir, name)?;
    match at::untrusted_new_directory(&at::Stat::of(&at::fstat(existing.as_fd())?)) {
        None => Ok(existing),
        Some(why) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the directory {} was made since the plan {why}",
                path.display()
            ),
        )),
    }
}

fn link(
    dir: BorrowedFd<'_>,
    name: &CStr,
    target: &str,
    kind: EntryKind,
    place: &Place,
) -> io::Result<()> {
    if kind == EntryKind::HardLink {
        let checked = place.source.as_ref().and_then(|(location, found)| {
            let (dir, name) = location.entry()?;
            found.map(|found| at::HardLinkSource {
                dir,
                name,
                dev: found.dev,
                ino: found.ino,
            })
        });
        let source = checked.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        at::link_at(dir, name, at::LinkTo::Hard(source))
    } else {
        let target = at::cstring(target.as_bytes())?;
        at::link_at(dir, name, at::LinkTo::Symbolic(&target))
    }
}

fn remove(have: &FsState, want: &FsState, place: &Place) -> io::Result<()> {
    if have.state == EntryKind::Absent {
        return Ok(());
    }
    // A followed link is removed itself, not what it points at.
    let (dir, name) = match place.entry.link() {
        Some(link) if have.follow => link,
        _ => place
            .entry
            .entry()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?,
    };
    match have.state {
        EntryKind::Directory if have.follow => at::unlink_at(dir, name, false),
        EntryKind::Directory if want.force => at::remove_tree_at(dir, name),
        EntryKind::Directory => at::unlink_at(dir, name, true),
        _ => at::unlink_at(dir, name, false),
    }
}

fn set_attributes(
    dir: BorrowedFd<'_>,
    name: &CStr,
    kind: at::Kind,
    have: &FsState,
    want: &FsState,
) -> io::Result<()> {
    let uid = want.uid.filter(|u| have.uid != Some(*u));
    let gid = want.gid.filter(|g| have.gid != Some(*g));
    let chown = uid.is_some() || gid.is_some();
    // With the owner: a chown clears the setuid and setgid bits, which the mode sets again.
    let mode = want
        .mode_bits()
        .filter(|mode| chown || have.mode_bits() != Some(*mode));
    if chown || mode.is_some() {
        at::set_attributes_at(dir, name, kind, (uid, gid), mode)?;
    }
    Ok(())
}

fn set_link_owner(
    dir: BorrowedFd<'_>,
    name: &CStr,
    have: &FsState,
    want: &FsState,
) -> io::Result<()> {
    let uid = want.uid.filter(|u| have.uid != Some(*u));
    let gid = want.gid.filter(|g| have.gid != Some(*g));
    if uid.is_some() || gid.is_some() {
        at::chown_link_at(dir, name, uid, gid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! A directory on the path swapped for a link between the observation and the change (a
    //! run racing an attacker): the change lands where the observation was made, never in the
    //! link's target.

    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::path::{Path, PathBuf};

    use super::*;

    /// `base/real` (the observed directory) and `base/decoy`, both made by `prepare`.
    struct Swap {
        _temp: tempfile::TempDir,
        base: PathBuf,
    }

    impl Swap {
        fn new(prepare: impl Fn(&Path)) -> Swap {
            let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let base = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
            for dir in ["real", "decoy"] {
                fs::create_dir(base.join(dir)).unwrap_or_else(|e| panic!("{e}"));
                prepare(&base.join(dir));
            }
            Swap { _temp: temp, base }
        }

        fn path(&self, relative: &str) -> String {
            self.base.join("real").join(relative).display().to_string()
        }

        /// Observes `relative`, moves `real` to `moved` and links `real` to `decoy`, then
        /// converges to what `want` makes of the observed state.
        fn run(
            &self,
            relative: &str,
            hard_link_to: Option<&str>,
            want: impl Fn(&FsState) -> FsState,
        ) -> Result<(), String> {
            let source = hard_link_to.map(|s| self.path(s));
            let (observed, place) =
                observe_in_place(&self.path(relative), false, source.as_deref())
                    .unwrap_or_else(|e| panic!("{e}"));
            let want = want(&observed.state);
            fs::rename(self.base.join("real"), self.base.join("moved"))
                .unwrap_or_else(|e| panic!("{e}"));
            symlink(self.base.join("decoy"), self.base.join("real"))
                .unwrap_or_else(|e| panic!("{e}"));
            converge(&observed.state, &want, &place).map_err(|e| e.message)
        }

        fn moved(&self, relative: &str) -> PathBuf {
            self.base.join("moved").join(relative)
        }

        fn decoy(&self, relative: &str) -> PathBuf {
            self.base.join("decoy").join(relative)
        }
    }

    fn old_file(dir: &Path) {
        fs::write(dir.join("f"), "old\n").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(dir.join("f"), fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).map_or(0, |m| m.permissions().mode() & 0o7777)
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn content_is_written_in_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(old_file);
        let result = swap.run("f", None, |have| {
            let mut want = have.clone();
            want.set_content(b"new\n");
            want
        });
        assert_eq!(result, Ok(()));
        assert_eq!(read(&swap.moved("f")), "new\n");
        assert_eq!(read(&swap.decoy("f")), "old\n");
    }

    #[test]
    fn mode_and_owner_are_set_in_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(old_file);
        let result = swap.run("f", None, |have| {
            let mut want = have.clone();
            want.set_mode(0o600);
            want.uid = Some(1234);
            want
        });
        assert_eq!(result, Ok(()));
        assert_eq!(mode(&swap.moved("f")), 0o600);
        assert_eq!(mode(&swap.decoy("f")), 0o644);
        let decoy_uid = fs::metadata(swap.decoy("f")).map(|m| m.uid()).ok();
        assert_ne!(decoy_uid, Some(1234));
    }

    #[test]
    fn directories_are_made_in_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(|_| {});
        let result = swap.run("sub/deeper", None, |_| {
            let mut want = FsState::absent(&swap.path("sub/deeper"));
            want.state = EntryKind::Directory;
            want.parents = true;
            want.set_mode(0o750);
            want
        });
        assert_eq!(result, Ok(()));
        assert!(swap.moved("sub/deeper").is_dir());
        assert_eq!(mode(&swap.moved("sub/deeper")), 0o750);
        assert!(!swap.decoy("sub").exists());
    }

    #[test]
    fn links_are_made_in_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(old_file);
        let symbolic = swap.run("ln", None, |_| {
            let mut want = FsState::absent(&swap.path("ln"));
            want.state = EntryKind::Link;
            want.target = Some("/nowhere".to_owned());
            want
        });
        assert_eq!(symbolic, Ok(()));
        assert!(fs::symlink_metadata(swap.moved("ln")).is_ok_and(|m| m.is_symlink()));
        assert!(fs::symlink_metadata(swap.decoy("ln")).is_err());
    }

    #[test]
    fn hard_links_are_made_from_the_observed_source_when_its_directory_is_swapped() {
        let swap = Swap::new(old_file);
        let source = swap.path("f");
        let result = swap.run("hard", Some("f"), |_| {
            let mut want = FsState::absent(&swap.path("hard"));
            want.state = EntryKind::HardLink;
            want.target = Some(source.clone());
            want
        });
        assert_eq!(result, Ok(()));
        let inode = |p: &Path| fs::metadata(p).map(|m| m.ino()).ok();
        assert_eq!(inode(&swap.moved("hard")), inode(&swap.moved("f")));
        assert!(!swap.decoy("hard").exists());
    }

    #[test]
    fn files_are_removed_from_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(old_file);
        let result = swap.run("f", None, |_| FsState::absent(&swap.path("f")));
        assert_eq!(result, Ok(()));
        assert!(!swap.moved("f").exists());
        assert_eq!(read(&swap.decoy("f")), "old\n");
    }

    #[test]
    fn trees_are_removed_from_the_observed_directory_when_it_is_swapped_for_a_link() {
        let swap = Swap::new(|dir| {
            fs::create_dir_all(dir.join("t/inner")).unwrap_or_else(|e| panic!("{e}"));
            fs::write(dir.join("t/inner/x"), "x").unwrap_or_else(|e| panic!("{e}"));
        });
        let result = swap.run("t", None, |_| {
            let mut want = FsState::absent(&swap.path("t"));
            want.force = true;
            want
        });
        assert_eq!(result, Ok(()));
        assert!(!swap.moved("t").exists());
        assert_eq!(read(&swap.decoy("t/inner/x")), "x");
    }

    #[test]
    fn missing_parents_made_by_another_user_after_the_check_are_not_made_into() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        let path = base.join("a/b/c").display().to_string();
        let (observed, place) =
            observe_in_place(&path, false, None).unwrap_or_else(|e| panic!("{e}"));
        // Between the check and the mkdir: another user makes the first missing parent.
        fs::create_dir(base.join("a")).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::chown(base.join("a"), Some(65534), Some(65534))
            .unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(base.join("a"), fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut want = FsState::absent(&path);
        want.state = EntryKind::Directory;
        want.parents = true;
        want.set_mode(0o700);
        let result = converge(&observed.state, &want, &place);
        let error = result.err().map(|e| e.message).unwrap_or_default();
        assert!(
            error.contains(&format!(
                "{} was made since the plan by uid 65534",
                base.join("a").display()
            )),
            "{error}"
        );
        assert!(!base.join("a/b").exists());
    }

    #[test]
    fn hard_link_is_not_made_to_a_source_swapped_after_the_check() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        fs::write(base.join("s"), "mine\n").unwrap_or_else(|e| panic!("{e}"));
        fs::write(base.join("victim"), "victim\n").unwrap_or_else(|e| panic!("{e}"));
        let path = base.join("hl").display().to_string();
        let source = base.join("s").display().to_string();
        let (observed, place) =
            observe_in_place(&path, false, Some(&source)).unwrap_or_else(|e| panic!("{e}"));
        fs::remove_file(base.join("s")).unwrap_or_else(|e| panic!("{e}"));
        fs::hard_link(base.join("victim"), base.join("s")).unwrap_or_else(|e| panic!("{e}"));
        let mut want = FsState::absent(&path);
        want.state = EntryKind::HardLink;
        want.target = Some(source);
        assert!(converge(&observed.state, &want, &place).is_err());
        assert!(!base.join("hl").exists(), "linked to the swapped-in inode");
    }

    #[test]
    fn a_file_replaced_by_a_link_after_observing_keeps_its_attributes_off_the_target() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = temp.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        old_file(&base);
        let outside = base.join("outside");
        fs::write(&outside, "x").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let path = base.join("f").display().to_string();
        let (observed, place) =
            observe_in_place(&path, false, None).unwrap_or_else(|e| panic!("{e}"));
        fs::remove_file(base.join("f")).unwrap_or_else(|e| panic!("{e}"));
        symlink(&outside, base.join("f")).unwrap_or_else(|e| panic!("{e}"));
        let mut want = observed.state.clone();
        want.set_mode(0o666);
        assert!(converge(&observed.state, &want, &place).is_err());
        assert_eq!(mode(&outside), 0o644);
    }
}
