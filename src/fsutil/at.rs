//! File system calls relative to an open directory, never following a symbolic link in the
//! name they are given (`openat` with `O_NOFOLLOW`, `fstatat` with `AT_SYMLINK_NOFOLLOW`, …).
//!
//! The directory is one a [`super::walk::Location`] pinned: whatever the path names by the time
//! a call runs, it acts in that directory, on the entry of that name.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

use super::MAX_FILE_BYTES;
use crate::host::users;

/// The result of a libc call that returns -1 and sets `errno` on failure.
fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

pub fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

/// Opens `name` in `dir`; `flags` always gain `O_NOFOLLOW` and `O_CLOEXEC`.
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; a returned fd is new and owned by nobody else.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o600) })?;
    // SAFETY: `fd` was just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The root directory, as the start of every walk.
pub fn open_root() -> io::Result<OwnedFd> {
    let root = c"/";
    // SAFETY: a NUL-terminated constant; the fd is new.
    let fd = check(unsafe {
        libc::open(
            root.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a valid out pointer for the call.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) })?;
    Ok(stat)
}

/// The entry `name` in `dir` itself (a link is not followed), or `None` when it is missing.
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: as in `fstat`.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated, `stat` a valid out pointer.
    let result = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(result) {
        Ok(_) => Ok(Some(stat)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn file_type(stat: &libc::stat) -> libc::mode_t {
    stat.st_mode & libc::S_IFMT
}

/// The target of the symbolic link `name` in `dir` (an empty `name` with an `O_PATH` fd of the
/// link itself reads that link).
pub fn read_link_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; 256];
    loop {
        // SAFETY: the buffer is valid for `len` bytes; `name` is NUL-terminated.
        let len = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = len as usize;
        if len < buffer.len() {
            buffer.truncate(len);
            return Ok(buffer);
        }
        // Possibly cut: try again with more room (a target is at most PATH_MAX).
        if buffer.len() >= 1 << 16 {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        buffer.resize(buffer.len() * 4, 0);
    }
}

/// The regular file `name` in `dir`, opened for reading. `O_NONBLOCK` keeps a FIFO that took
/// the name since it was looked at from blocking the open; it is refused after.
pub fn open_regular_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<File> {
    let fd = open_at(
        dir,
        name,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
    )?;
    let stat = fstat(fd.as_fd())?;
    if file_type(&stat) != libc::S_IFREG {
        return Err(not_regular(stat.st_mode));
    }
    Ok(File::from(fd))
}

/// Why a file that should be regular is refused, naming what it is.
pub fn not_regular(st_mode: libc::mode_t) -> io::Error {
    let what = match st_mode & libc::S_IFMT {
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        _ => "a special file",
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file (it is {what})"),
    )
}

/// Reads an open regular file of at most [`MAX_FILE_BYTES`], the limit checked against both
/// its size and what is actually read (a file can grow while it is read).
pub fn read_bounded(file: &mut File) -> io::Result<Vec<u8>> {
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

pub fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "larger than {} MiB, the most driftless reads of one file",
            MAX_FILE_BYTES >> 20
        ),
    )
}

/// Writes `name` in `dir` atomically: an unnamed `O_TMPFILE` inode (or, where the file system
/// has none, a new temp file) gets the content, owner and mode, is synced, and is linked in —
/// under a temp name renamed over `name` when `name` exists. Whatever `name` is (a link
/// included) is replaced, never written through.
pub fn write_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    bytes: &[u8],
    mode: u32,
    owner: (Option<u32>, Option<u32>),
) -> io::Result<()> {
    write_with_at(dir, name, mode, owner, &mut |file| file.write_all(bytes))
}

/// [`write_at`] with the content written by `content` (a download, an archive's entry,
/// streamed): an error it returns — a checksum that does not match, say — leaves `name` as it
/// was and no temp file behind.
pub fn write_with_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    mode: u32,
    owner: (Option<u32>, Option<u32>),
    content: &mut dyn FnMut(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    if let Ok(fd) = open_at(dir, c".", libc::O_TMPFILE | libc::O_WRONLY) {
        let mut file = File::from(fd);
        fill(&mut file, content, mode, owner)?;
        match link_unnamed(&file, dir, name) {
            Ok(()) => return remember_written(&file),
            // Replacing a file: link under a temp name, then rename over it (atomic).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let temp = super::temp_name(name)?;
                link_unnamed(&file, dir, &temp)?;
                rename_or_remove(dir, &temp, name)?;
                return remember_written(&file);
            }
            // No /proc to name the inode by: write a named temp file instead.
            Err(_) => {}
        }
    }
    let temp = super::temp_name(name)?;
    let written = open_at(
        dir,
        &temp,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY,
    )
    .map(File::from)
    .and_then(|mut file| fill(&mut file, content, mode, owner).map(|()| file));
    match written {
        Ok(file) => {
            rename_or_remove(dir, &temp, name)?;
            remember_written(&file)
        }
        Err(e) => {
            let _ = unlink_at(dir, &temp, false);
            Err(e)
        }
    }
}

/// A file this run wrote may be the source of a hard link planned before it was rewritten.
fn remember_written(file: &File) -> io::Result<()> {
    remember_made(&Stat::of(&fstat(file.as_fd())?));
    Ok(())
}

/// Content, owner and mode of a file not yet under its final name, flushed to disk.
fn fill(
    file: &mut File,
    content: &mut dyn FnMut(&mut File) -> io::Result<()>,
    mode: u32,
    (uid, gid): (Option<u32>, Option<u32>),
) -> io::Result<()> {
    content(file)?;
    // Owner first: a chown clears the setuid and setgid bits the mode may set.
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&*file, uid, gid)?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    // The data (and the size, which fdatasync includes) must be on disk before the new
    // name is, or a power loss could leave an empty file under the new name.
    file.sync_data()
}

/// Gives an `O_TMPFILE` inode the name `name` in `dir` (never replacing an existing entry).
fn link_unnamed(file: &File, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let fd_path = proc_fd_path(file.as_raw_fd())?;
    // SAFETY: both names are NUL-terminated strings that outlive the call.
    check(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr(),
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

/// `/proc/self/fd/N`: the open file itself, whatever names it has now.
fn proc_fd_path(fd: libc::c_int) -> io::Result<CString> {
    cstring(format!("/proc/self/fd/{fd}").as_bytes())
}

fn rename_or_remove(dir: BorrowedFd<'_>, temp: &CStr, name: &CStr) -> io::Result<()> {
    rename_at(dir, temp, name).inspect_err(|_| {
        let _ = unlink_at(dir, temp, false);
    })
}

pub fn rename_at(dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated.
    check(unsafe { libc::renameat(dir.as_raw_fd(), from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) })
        .map(drop)
}

/// Removes the entry `name` (a link itself, not what it points at); `directory` for an empty
/// directory.
pub fn unlink_at(dir: BorrowedFd<'_>, name: &CStr, directory: bool) -> io::Result<()> {
    let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// Creates the directory `name` (mode 0777 less the umask, as `mkdir` does; the caller sets
/// the wanted mode after) and opens it, remembering it as made by this run when it is ours.
pub fn make_directory_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o777) })?;
    let made = open_directory_at(dir, name)?;
    let stat = fstat(made.as_fd())?;
    // Another user's directory that took the name between the two calls is not ours.
    if stat.st_uid == users::current().0 {
        remember_made(&Stat::of(&stat));
    }
    Ok(made)
}

/// The parts of a `stat` that tell which inode an entry is, its type, and who may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    pub uid: u32,
}

impl Stat {
    pub fn of(stat: &libc::stat) -> Stat {
        Stat {
            dev: stat.st_dev,
            ino: stat.st_ino,
            mode: stat.st_mode,
            uid: stat.st_uid,
        }
    }
}

/// The inodes (device, inode) this run made: directories it created and files it wrote.
/// A directory or file that appears on a route after the plan is trusted when it is one of
/// them, whoever may write to it.
static MADE_BY_THIS_RUN: Mutex<BTreeSet<(u64, u64)>> = Mutex::new(BTreeSet::new());

fn remember_made(stat: &Stat) {
    if let Ok(mut made) = MADE_BY_THIS_RUN.lock() {
        made.insert((stat.dev, stat.ino));
    }
}

/// Remembers the directory at `path` as made by this run, when a tool the run called made it
/// (`useradd --create-home` makes the new user's home, owned by that user): the tasks after it
/// put files in it. A link there is not a directory and is not remembered.
pub fn remember_made_by_tool(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_dir()
    {
        remember_made(&Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
            uid: meta.uid(),
        });
    }
}

/// Starts a run: nothing is made by it yet.
pub fn forget_made_by_this_run() {
    if let Ok(mut made) = MADE_BY_THIS_RUN.lock() {
        made.clear();
    }
}

/// Whether this run made the inode `stat` describes.
pub fn made_by_this_run(stat: &Stat) -> bool {
    MADE_BY_THIS_RUN
        .lock()
        .is_ok_and(|made| made.contains(&(stat.dev, stat.ino)))
}

/// Why a directory made since the plan cannot be trusted to hold what this run puts there,
/// or `None` when it can ("by uid 65534 and is writable by others (mode 0777)", to follow
/// "made since the plan"): this run made it, or it belongs to the user this runs as and no
/// one else may write to it. Anyone else who could make or write it could have put links or
/// files in it that the plan never saw.
pub fn untrusted_new_directory(stat: &Stat) -> Option<String> {
    if made_by_this_run(stat) {
        return None;
    }
    let mut reasons = Vec::new();
    if stat.uid != users::current().0 {
        reasons.push(format!("by uid {}", stat.uid));
    }
    let writable = match (stat.mode & 0o020 != 0, stat.mode & 0o002 != 0) {
        (true, true) => Some("group and others"),
        (true, false) => Some("group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    if let Some(who) = writable {
        reasons.push(format!(
            "and is writable by {who} (mode {:04o})",
            stat.mode & 0o7777
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join(" "))
}

/// Opens the directory `name` as a base for further calls; a link there is refused (ELOOP or
/// ENOTDIR), not followed.
pub fn open_directory_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_at(dir, name, libc::O_PATH | libc::O_DIRECTORY)
}

/// Makes `target` (a symbolic link) or the file `source` names (a hard link) appear as `name`
/// atomically: created under a temp name, renamed over whatever `name` is.
pub fn link_at(dir: BorrowedFd<'_>, name: &CStr, target: LinkTo<'_>) -> io::Result<()> {
    let temp = super::temp_name(name)?;
    match target {
        LinkTo::Symbolic(text) => {
            // SAFETY: both names are NUL-terminated.
            check(unsafe { libc::symlinkat(text.as_ptr(), dir.as_raw_fd(), temp.as_ptr()) })?;
        }
        LinkTo::Hard(source) => hard_link_checked(&source, dir, &temp)?,
    }
    rename_or_remove(dir, &temp, name)
}

pub enum LinkTo<'a> {
    Symbolic(&'a CStr),
    Hard(HardLinkSource<'a>),
}

/// A hard link's source as it was checked: the entry `name` in `dir`, which must still be the
/// inode `dev`/`ino` when it is linked.
pub struct HardLinkSource<'a> {
    pub dir: BorrowedFd<'a>,
    pub name: &'a CStr,
    pub dev: u64,
    pub ino: u64,
}

/// Links the checked source as `temp` in `dir`. The source entry is opened (never followed)
/// and linked through that descriptor, so what is linked is the inode that was compared, not
/// whatever the name holds a moment later; without /proc, the name is linked and the result
/// compared instead (and removed when it is another inode).
fn hard_link_checked(
    source: &HardLinkSource<'_>,
    dir: BorrowedFd<'_>,
    temp: &CStr,
) -> io::Result<()> {
    let entry = open_at(source.dir, source.name, libc::O_PATH)?;
    let stat = fstat(entry.as_fd())?;
    if !source.is(&stat) {
        return Err(source_replaced());
    }
    let fd_path = proc_fd_path(entry.as_raw_fd())?;
    // SAFETY: both names are NUL-terminated strings that outlive the call.
    let linked = check(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr(),
            dir.as_raw_fd(),
            temp.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    });
    match linked {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    // Flags 0: a link named as the source is linked itself, not followed.
    // SAFETY: both names are NUL-terminated.
    check(unsafe {
        libc::linkat(
            source.dir.as_raw_fd(),
            source.name.as_ptr(),
            dir.as_raw_fd(),
            temp.as_ptr(),
            0,
        )
    })?;
    match stat_at(dir, temp) {
        Ok(Some(made)) if source.is(&made) => Ok(()),
        other => {
            let _ = unlink_at(dir, temp, false);
            other.and(Err(source_replaced()))
        }
    }
}

impl HardLinkSource<'_> {
    fn is(&self, stat: &libc::stat) -> bool {
        (stat.st_dev, stat.st_ino) == (self.dev, self.ino)
    }
}

fn source_replaced() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "its source changed while being applied (the name now holds another file)",
    )
}

/// What an entry whose attributes are set must be: a change of kind since it was observed
/// means someone else is changing the path, and nothing is done.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
}

/// Sets owner and/or mode of the regular file or directory `name` in `dir`, through an
/// `O_PATH` descriptor of that very entry: a link that took the name is refused, not followed.
pub fn set_attributes_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    kind: Kind,
    (uid, gid): (Option<u32>, Option<u32>),
    mode: Option<u32>,
) -> io::Result<()> {
    let entry = open_at(dir, name, libc::O_PATH)?;
    let stat = fstat(entry.as_fd())?;
    let expected = match kind {
        Kind::File => libc::S_IFREG,
        Kind::Directory => libc::S_IFDIR,
    };
    if file_type(&stat) != expected {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "changed while being applied (it is no longer what was observed)",
        ));
    }
    if uid.is_some() || gid.is_some() {
        chown_fd(entry.as_fd(), uid, gid)?;
    }
    if let Some(mode) = mode {
        chmod_fd(dir, name, &entry, &stat, mode)?;
    }
    Ok(())
}

/// `fchownat(fd, "", AT_EMPTY_PATH)`: works on an `O_PATH` descriptor.
fn chown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let keep = u32::MAX; // -1: leave as is
    // SAFETY: an empty NUL-terminated name with AT_EMPTY_PATH acts on `fd` itself.
    check(unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            uid.unwrap_or(keep),
            gid.unwrap_or(keep),
            libc::AT_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// chmod of the inode an `O_PATH` descriptor holds: through `/proc/self/fd/N` (which names that
/// inode, not a path), else by opening the entry again and checking it is the same inode.
fn chmod_fd(
    dir: BorrowedFd<'_>,
    name: &CStr,
    entry: &OwnedFd,
    stat: &libc::stat,
    mode: u32,
) -> io::Result<()> {
    let fd_path = proc_fd_path(entry.as_raw_fd())?;
    // SAFETY: a NUL-terminated name.
    match check(unsafe { libc::chmod(fd_path.as_ptr(), mode as libc::mode_t) }) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let reopened = open_at(
        dir,
        name,
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
    )?;
    let again = fstat(reopened.as_fd())?;
    if (again.st_dev, again.st_ino) != (stat.st_dev, stat.st_ino) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "changed while being applied (replaced by another file)",
        ));
    }
    // SAFETY: `reopened` is an open descriptor.
    check(unsafe { libc::fchmod(reopened.as_raw_fd(), mode as libc::mode_t) }).map(drop)
}

/// Owner of the entry `name` itself (a symbolic link's own owner).
pub fn chown_link_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    uid: Option<u32>,
    gid: Option<u32>,
) -> io::Result<()> {
    let keep = u32::MAX;
    // SAFETY: `name` is NUL-terminated.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid.unwrap_or(keep),
            gid.unwrap_or(keep),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// The names in a directory, `.` and `..` left out.
pub fn entry_names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let listing = open_at(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY)?;
    let raw = listing.as_raw_fd();
    // SAFETY: `raw` is an open directory descriptor; fdopendir takes it over (closedir closes
    // it), so it is released from `listing` first.
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(listing);
    let mut names = Vec::new();
    let result = loop {
        // errno tells the end of the directory (unchanged) from an error (set).
        // SAFETY: errno is thread-local.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is open until closedir below.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let errno = io::Error::last_os_error();
            break if errno.raw_os_error() == Some(0) {
                Ok(())
            } else {
                Err(errno)
            };
        }
        // SAFETY: d_name is a NUL-terminated array inside the entry readdir returned.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    };
    // SAFETY: `stream` came from fdopendir and is closed once.
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Removes the directory `name` with everything in it, never following a link: links inside
/// are removed as links, and a directory replaced by a link while this runs is an error.
pub fn remove_tree_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let inner = open_directory_at(dir, name)?;
    for child in entry_names(inner.as_fd())? {
        let is_dir =
            stat_at(inner.as_fd(), &child)?.is_some_and(|stat| file_type(&stat) == libc::S_IFDIR);
        if is_dir {
            remove_tree_at(inner.as_fd(), &child)?;
        } else {
            match unlink_at(inner.as_fd(), &child, false) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    unlink_at(dir, name, true)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn remove_tree_removes_links_inside_it_not_what_they_point_at() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = temp.path();
        std::fs::create_dir_all(base.join("tree/sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(base.join("outside")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(base.join("outside/kept"), "x").unwrap_or_else(|e| panic!("{e}"));
        symlink(base.join("outside"), base.join("tree/sub/link")).unwrap_or_else(|e| panic!("{e}"));
        let dir = File::open(base).unwrap_or_else(|e| panic!("{e}"));
        remove_tree_at(dir.as_fd(), c"tree").unwrap_or_else(|e| panic!("{e}"));
        assert!(!base.join("tree").exists());
        assert!(base.join("outside/kept").exists());
    }

    #[test]
    fn a_new_directory_is_trusted_only_when_made_by_this_run_or_owned_and_writable_by_us_alone() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = File::open(temp.path()).unwrap_or_else(|e| panic!("{e}"));
        let stat_of = |name: &str| {
            let path = temp.path().join(name);
            std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{e}"));
            let made = File::open(&path).unwrap_or_else(|e| panic!("{e}"));
            move |mode: u32, uid: u32| {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .unwrap_or_else(|e| panic!("{e}"));
                std::os::unix::fs::chown(&path, Some(uid), None).unwrap_or_else(|e| panic!("{e}"));
                Stat::of(&fstat(made.as_fd()).unwrap_or_else(|e| panic!("{e}")))
            }
        };
        let me = users::current().0;
        let other = stat_of("other");
        assert_eq!(untrusted_new_directory(&other(0o755, me)), None);
        assert_eq!(
            untrusted_new_directory(&other(0o775, me)).as_deref(),
            Some("and is writable by group (mode 0775)")
        );
        assert_eq!(
            untrusted_new_directory(&other(0o1777, me)).as_deref(),
            Some("and is writable by group and others (mode 1777)")
        );
        if me == 0 {
            assert_eq!(
                untrusted_new_directory(&other(0o700, 65534)).as_deref(),
                Some("by uid 65534")
            );
        }
        // What this run made is trusted whatever its mode.
        let made = make_directory_at(base.as_fd(), c"made").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(
            temp.path().join("made"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let stat = Stat::of(&fstat(made.as_fd()).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(untrusted_new_directory(&stat), None);
    }

    #[test]
    fn set_attributes_refuses_a_link_at_the_name() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = temp.path();
        std::fs::write(base.join("target"), "x").unwrap_or_else(|e| panic!("{e}"));
        symlink(base.join("target"), base.join("link")).unwrap_or_else(|e| panic!("{e}"));
        let before = std::fs::metadata(base.join("target")).map(|m| m.permissions().mode());
        let dir = File::open(base).unwrap_or_else(|e| panic!("{e}"));
        let set = set_attributes_at(dir.as_fd(), c"link", Kind::File, (None, None), Some(0o600));
        assert!(set.is_err());
        let after = std::fs::metadata(base.join("target")).map(|m| m.permissions().mode());
        assert_eq!(before.ok(), after.ok());
    }
}
