//! Paths resolved one component at a time, the way the kernel would, but in the open.
//!
//! A path string is resolved again by the kernel at every use, so a directory on it replaced
//! by a symbolic link between two uses sends the second use elsewhere. [`locate`] opens each
//! component with `O_NOFOLLOW` below the directory before it, follows a symbolic link only by
//! reading it, and records every directory passed and every link followed (device and inode; a
//! link also its target) in a [`Route`]. The [`Location`] it returns keeps the directory that
//! holds the final entry open: what is done there happens where the route led, whatever the
//! path names by then. Comparing routes tells whether a path still leads where it led.

use std::collections::{HashMap, VecDeque};
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::at::{self, Stat, cstring, file_type, fstat, open_at};

/// Symbolic links followed in one resolution at most, as the kernel allows (then ELOOP).
const MAX_LINKS: usize = 40;

/// One step of a resolution: a directory passed through, or a symbolic link followed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Directory(Directory),
    Link { dev: u64, ino: u64, target: Vec<u8> },
}

/// A directory passed through: its identity (what the route hashes), and its owner, mode and
/// path, which tell whether it can be trusted when it was not there at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directory {
    stat: Stat,
    path: PathBuf,
}

/// How a path was reached: every directory on it, from `/`, and every symbolic link followed
/// (a link in a directory component, or the final one when asked to follow it); for a hard
/// link, also how its source was reached and the source entry itself (device, inode, type).
/// Directories missing when it was recorded are not in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Shared by clones: a plan keeps a route per task two or three times over (the
    /// observation, the planned node, the state it leaves), and a route is an allocation per
    /// directory on it.
    steps: Arc<Vec<Step>>,
    /// The entry at the end (kept for a hard link's source: which inode gets linked).
    entry: Option<Stat>,
    source: Option<Box<Route>>,
}

/// One way a route observed now can match the digest recorded when planning: that digest, and
/// the directories on the route now that were missing then (made since, at its end).
pub struct Candidate<'a> {
    pub digest: String,
    new_directories: Vec<&'a Directory>,
}

impl Candidate<'_> {
    /// Why one of the directories made since the plan cannot be trusted, naming it: only
    /// directories this run made, or the user it runs as owns and no one else may write, are.
    pub fn untrusted(&self) -> Option<String> {
        self.new_directories.iter().find_map(|directory| {
            at::untrusted_new_directory(&directory.stat).map(|why| {
                format!(
                    "the directory {} was made since the plan {why}",
                    directory.path.display()
                )
            })
        })
    }
}

impl Route {
    /// Adds how a hard link's source was reached.
    pub fn with_source(mut self, source: Route) -> Route {
        self.source = Some(Box::new(source));
        self
    }

    /// Adds the entry the route leads to (a hard link's source: a swap for another inode
    /// changes the route).
    pub fn with_entry(mut self, entry: Stat) -> Route {
        self.entry = Some(entry);
        self
    }

    /// The route without its source's entry: for a hard link whose source an earlier node
    /// rewrites (a new inode, unknown when planning).
    pub fn without_source_entry(mut self) -> Route {
        if let Some(source) = &mut self.source {
            source.entry = None;
        }
        self
    }

    /// Hex SHA-256 of the whole route.
    pub fn digest(&self) -> String {
        self.digest_of(
            self.steps.len(),
            self.entry.as_ref(),
            self.source.as_ref().map(|s| s.digest()),
        )
    }

    /// The digests this route matches: its own, and those of its shorter versions that lack
    /// only directories at the end — as observed before those directories were made (by an
    /// earlier node of the same plan, say), each with the directories it lacks, which must be
    /// trusted. A link at the end cannot be left out: a link there is a change of where the
    /// path leads. An entry kept at the end may be left out only when this run made it (a
    /// source rewritten, or made, by an earlier node).
    pub fn candidates(&self) -> Vec<Candidate<'_>> {
        let shortest = self
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Link { .. }))
            .map_or(1, |i| i + 1);
        let mut entries = vec![self.entry.as_ref()];
        if self.entry.is_some_and(|entry| at::made_by_this_run(&entry)) {
            entries.push(None);
        }
        let sources: Vec<Option<Candidate<'_>>> = match &self.source {
            Some(source) => source.candidates().into_iter().map(Some).collect(),
            None => vec![None],
        };
        let mut candidates = Vec::new();
        for len in (shortest.min(self.steps.len())..=self.steps.len()).rev() {
            for entry in &entries {
                for source in &sources {
                    let mut new_directories: Vec<&Directory> = self.steps[len..]
                        .iter()
                        .filter_map(|step| match step {
                            Step::Directory(directory) => Some(directory),
                            Step::Link { .. } => None,
                        })
                        .collect();
                    if let Some(source) = source {
                        new_directories.extend(source.new_directories.iter().copied());
                    }
                    candidates.push(Candidate {
                        digest: self.digest_of(
                            len,
                            *entry,
                            source.as_ref().map(|s| s.digest.clone()),
                        ),
                        new_directories,
                    });
                }
            }
        }
        candidates
    }

    fn digest_of(&self, len: usize, entry: Option<&Stat>, source: Option<String>) -> String {
        let mut hasher = Sha256::new();
        for step in &self.steps[..len] {
            match step {
                Step::Directory(Directory { stat, .. }) => {
                    hasher.update(b"d");
                    hasher.update(stat.dev.to_le_bytes());
                    hasher.update(stat.ino.to_le_bytes());
                }
                Step::Link { dev, ino, target } => {
                    hasher.update(b"l");
                    hasher.update(dev.to_le_bytes());
                    hasher.update(ino.to_le_bytes());
                    hasher.update((target.len() as u64).to_le_bytes());
                    hasher.update(target);
                }
            }
        }
        if let Some(entry) = entry {
            hasher.update(b"e");
            hasher.update(entry.dev.to_le_bytes());
            hasher.update(entry.ino.to_le_bytes());
            hasher.update((entry.mode & libc::S_IFMT).to_le_bytes());
        }
        if let Some(source) = source {
            hasher.update(b"s");
            hasher.update(source.as_bytes());
        }
        super::hex(&hasher.finalize())
    }

    fn push_directory(&mut self, dir: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
        let stat = fstat(dir)?;
        Arc::make_mut(&mut self.steps).push(Step::Directory(Directory {
            stat: Stat::of(&stat),
            path: path.to_owned(),
        }));
        Ok(())
    }
}

/// Where a path led when it was resolved, held open.
#[derive(Debug)]
pub struct Location {
    /// The deepest directory reached (shared with [`Walked`] when it remembers it).
    dir: Arc<OwnedFd>,
    /// Where `dir` is, as the walk reached it.
    dir_path: PathBuf,
    /// What is left of the path below `dir`, the entry's own name last. More than one name: a
    /// directory on the way is missing, or is not a directory.
    rest: Vec<CString>,
    /// The path's last component was a symbolic link that was followed: the link's directory
    /// and name.
    link: Option<(OwnedFd, CString)>,
    route: Route,
}

impl Location {
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The directory holding the entry and its name, when every directory on the way exists.
    pub fn entry(&self) -> Option<(BorrowedFd<'_>, &CStr)> {
        match self.rest.as_slice() {
            [name] => Some((self.dir.as_fd(), name)),
            _ => None,
        }
    }

    /// The deepest directory that exists on the way, and the names below it to the entry.
    pub fn deepest(&self) -> (BorrowedFd<'_>, &[CString]) {
        (self.dir.as_fd(), &self.rest)
    }

    /// The path of the deepest directory, as the walk reached it (links resolved).
    pub fn deepest_path(&self) -> &Path {
        &self.dir_path
    }

    /// The followed link itself: its directory and name.
    pub fn link(&self) -> Option<(BorrowedFd<'_>, &CStr)> {
        self.link
            .as_ref()
            .map(|(dir, name)| (dir.as_fd(), name.as_c_str()))
    }
}

/// Resolves an absolute `path` component by component from `/`, following symbolic links on
/// the way (and the final one when `follow`), keeping the directory of the final entry open.
/// A missing component ends the walk early: the location then names what is left.
pub fn locate(path: &Path, follow: bool) -> io::Result<Location> {
    if !path.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an absolute path",
        ));
    }
    let dir = Arc::new(at::open_root()?);
    let dir_path = PathBuf::from("/");
    let mut route = Route::default();
    route.push_directory(dir.as_fd(), &dir_path)?;
    walk((dir, dir_path, route), names(path)?, follow)
}

/// Directories a plan already walked to, by path, each held open with the route that reached
/// it. A plan observes thousands of paths in a few directories; through this it walks each
/// directory once, and a path below one starts there, with that route, as it was moments
/// before. Only directories reached without a symbolic link are kept, and only plain paths
/// (no `..`) start from one. `execute` never uses it: it walks every path afresh.
#[derive(Default)]
pub struct Walked {
    reached: Mutex<HashMap<PathBuf, (Arc<OwnedFd>, Route)>>,
}

impl Walked {
    /// [`locate`], starting from the path's directory when it was reached before, and
    /// remembering the directory when it was not.
    pub fn locate(&self, path: &Path, follow: bool) -> io::Result<Location> {
        let parent = plain_parent(path);
        let known = parent.and_then(|p| self.lock().get(p).cloned());
        if let (Some(parent), Some((dir, route))) = (parent, known) {
            let start = (dir, parent.to_path_buf(), route);
            return walk(
                start,
                names(Path::new(path.file_name().unwrap_or_default()))?,
                follow,
            );
        }
        let location = locate(path, follow)?;
        let plain = location.rest.len() == 1
            && location.link.is_none()
            && !location
                .route
                .steps
                .iter()
                .any(|s| matches!(s, Step::Link { .. }));
        if plain && parent == Some(location.dir_path.as_path()) {
            let known = (Arc::clone(&location.dir), location.route.clone());
            self.lock().insert(location.dir_path.clone(), known);
        }
        Ok(location)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Arc<OwnedFd>, Route)>> {
        // A poisoned map is still a map of directories reached.
        self.reached.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The directory of an absolute path written plainly (no `.` or `..` component, no empty
/// one), when it has one: what [`Walked`] may start from.
fn plain_parent(path: &Path) -> Option<&Path> {
    let plain = path.is_absolute()
        && path.file_name().is_some()
        && crate::fsutil::normal_path(path.to_str()?).is_ok();
    plain.then(|| path.parent()).flatten()
}

/// The walk from `start` (a directory held open, where it is, the route to it) through the
/// `pending` names.
fn walk(
    (mut dir, mut dir_path, mut route): (Arc<OwnedFd>, PathBuf, Route),
    mut pending: VecDeque<CString>,
    follow: bool,
) -> io::Result<Location> {
    let mut links = 0;
    let mut link = None;
    while let Some(name) = pending.pop_front() {
        if name.as_bytes() == b".." {
            dir = Arc::new(at::open_directory_at(dir.as_fd(), &name)?);
            dir_path.pop();
            route.push_directory(dir.as_fd(), &dir_path)?;
            continue;
        }
        let last = pending.is_empty();
        if last && !follow {
            return Ok(found((dir, dir_path), vec![name], link, route));
        }
        let entry = match open_component(dir.as_fd(), &name, last) {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(found((dir, dir_path), rest(name, pending), link, route));
            }
            Err(e) => return Err(e),
        };
        let stat = fstat(entry.as_fd())?;
        match file_type(&stat) {
            libc::S_IFLNK => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = at::read_link_at(entry.as_fd(), c"")?;
                Arc::make_mut(&mut route.steps).push(Step::Link {
                    dev: stat.st_dev,
                    ino: stat.st_ino,
                    target: target.clone(),
                });
                let target_path = Path::new(OsStr::from_bytes(&target));
                if last {
                    link = Some((dir.try_clone()?, name));
                }
                if target_path.is_absolute() {
                    dir = Arc::new(at::open_root()?);
                    dir_path = PathBuf::from("/");
                    route.push_directory(dir.as_fd(), &dir_path)?;
                }
                for part in names(target_path)?.into_iter().rev() {
                    pending.push_front(part);
                }
            }
            libc::S_IFDIR if !last => {
                dir_path.push(OsStr::from_bytes(name.as_bytes()));
                Arc::make_mut(&mut route.steps).push(Step::Directory(Directory {
                    stat: Stat::of(&stat),
                    path: dir_path.clone(),
                }));
                dir = Arc::new(entry);
            }
            // The entry itself (followed to something that is not a link).
            _ if last => return Ok(found((dir, dir_path), vec![name], link, route)),
            // A file where a directory should be: nothing below it exists.
            _ => return Ok(found((dir, dir_path), rest(name, pending), link, route)),
        }
    }
    // The path ends on a directory reached by `..` or a link (or is `/`): the entry is `dir`.
    Ok(found((dir, dir_path), vec![c".".to_owned()], link, route))
}

/// Opens one component of a path, a link itself rather than what it points at (`O_PATH` with
/// `O_NOFOLLOW`), so that what is looked at is what is used. A directory on the way is opened
/// as one first: that is what mounts an automounted directory (`/home` on autofs, say), which
/// `O_PATH` alone would see unmounted.
fn open_component(dir: BorrowedFd<'_>, name: &CStr, last: bool) -> io::Result<OwnedFd> {
    if !last {
        match at::open_directory_at(dir, name) {
            Ok(directory) => return Ok(directory),
            // A link (ELOOP under O_NOFOLLOW), or not a directory: looked at below.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {}
            Err(e) => return Err(e),
        }
    }
    open_at(dir, name, libc::O_PATH)
}

fn found(
    (dir, dir_path): (Arc<OwnedFd>, PathBuf),
    rest: Vec<CString>,
    link: Option<(OwnedFd, CString)>,
    route: Route,
) -> Location {
    Location {
        dir,
        dir_path,
        rest,
        link,
        route,
    }
}

fn rest(name: CString, pending: VecDeque<CString>) -> Vec<CString> {
    std::iter::once(name).chain(pending).collect()
}

/// The names of a path's components, `..` kept (it is resolved against the directory reached,
/// as the kernel does), `/` and `.` left out.
fn names(path: &Path) -> io::Result<VecDeque<CString>> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(cstring(name.as_bytes())),
            Component::ParentDir => Some(Ok(c"..".to_owned())),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Opens the directory `path` following no symbolic link at all, in any component: for work
/// on directories a plan only names, where no route was recorded.
pub fn open_directory_without_links(path: &Path) -> io::Result<OwnedFd> {
    let mut dir = at::open_root()?;
    for name in names(path)? {
        dir = at::open_directory_at(dir.as_fd(), &name)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(walked: &Walked) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = walked.lock().keys().cloned().collect();
        dirs.sort();
        dirs
    }

    #[test]
    fn paths_below_a_directory_reached_once_start_there_with_the_same_route() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().canonicalize().expect("canonical");
        std::fs::write(dir.join("a"), "a").expect("write");
        let walked = Walked::default();
        let first = walked.locate(&dir.join("a"), false).expect("locate a");
        let second = walked.locate(&dir.join("b"), false).expect("locate b");
        assert_eq!(remembered(&walked), vec![dir.clone()]);
        // What a walk from `/` records, and where it ends.
        let fresh = locate(&dir.join("b"), false).expect("fresh");
        assert_eq!(second.route().digest(), fresh.route().digest());
        assert_eq!(first.route().digest(), fresh.route().digest());
        assert_eq!(second.deepest_path(), dir.as_path());
        assert!(second.entry().is_some_and(|(_, name)| name == c"b"));
    }

    #[test]
    fn directories_reached_through_a_link_or_by_dot_dot_are_not_remembered() {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp.path().canonicalize().expect("canonical");
        std::fs::create_dir(base.join("real")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).expect("symlink");
        let walked = Walked::default();
        let through_link = walked.locate(&base.join("link/f"), false).expect("locate");
        assert!(
            through_link
                .route()
                .steps
                .iter()
                .any(|s| matches!(s, Step::Link { .. }))
        );
        walked
            .locate(&base.join("real/../real/f"), false)
            .expect("locate");
        assert_eq!(remembered(&walked), Vec::<PathBuf>::new());
    }
}
