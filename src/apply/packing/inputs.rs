//! What an archive holds: the paths and globs of `path` expanded (as Python's `glob`: `*` and
//! `?` within one name, names starting with `.` only matched by a pattern starting with `.`),
//! directories walked, `exclude_path` left out, every entry read without following a symbolic
//! link (a link is archived as a link). The result is the manifest — each entry's name in the
//! archive, kind, mode, owner, size and content hash — and its digest, which the archive
//! records and the next plan compares.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apply::fs_state::sha256_hex;

/// The most entries one archive may hold.
pub const MAX_INPUTS: usize = 200_000;

/// One entry of the archive, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The entry's name in the archive (relative; a directory's without a trailing `/`).
    pub name: String,
    /// `file`, `directory` or `link`.
    pub kind: String,
    /// Permission bits, octal.
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// A file's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A file's content hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A link's target, as it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Input {
    /// One line of the listing a plan's diff compares.
    pub fn line(&self) -> String {
        let what = match (&self.sha256, &self.target) {
            (Some(sha), _) => format!("{} bytes sha256:{sha}", self.size.unwrap_or(0)),
            (None, Some(target)) => format!("-> {target}"),
            (None, None) => String::new(),
        };
        format!(
            "{} {} {}:{} {} {what}",
            self.kind, self.mode, self.uid, self.gid, self.name
        )
        .trim_end()
        .to_owned()
    }
}

/// The inputs found: the manifest (sorted by name), where each entry is on the host, and the
/// patterns that matched nothing.
pub struct Found {
    pub manifest: Vec<Input>,
    pub sources: Vec<PathBuf>,
    pub unmatched: Vec<String>,
}

/// The digest of a manifest: what the archive records and the next plan compares.
pub fn digest(manifest: &[Input]) -> String {
    sha256_hex(&serde_json::to_vec(manifest).unwrap_or_default())
}

/// Whether a pattern has glob characters.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Expands `patterns`, walks what they match, leaves out `excluded` (and `dest` itself), and
/// reads every entry.
pub fn collect(patterns: &[String], excluded: &[String], dest: &str) -> Result<Found, String> {
    let mut roots = Vec::new();
    let mut unmatched = Vec::new();
    for pattern in patterns {
        let matched = expand(pattern)?;
        if matched.is_empty() {
            unmatched.push(pattern.clone());
        }
        roots.extend(matched);
    }
    roots.sort();
    roots.dedup();
    let base = common_parent(&roots);
    let skip = |path: &Path| {
        let text = path.to_string_lossy();
        text == dest
            || excluded
                .iter()
                .any(|p| crate::apply::archives::read::matches(p, &text))
    };
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for root in &roots {
        walk(root, &base, &skip, &mut entries)?;
    }
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut manifest = Vec::with_capacity(entries.len());
    let mut sources = Vec::with_capacity(entries.len());
    for (name, path) in entries {
        manifest.push(read_input(&path, name)?);
        sources.push(path);
    }
    Ok(Found {
        manifest,
        sources,
        unmatched,
    })
}

/// The paths a pattern matches, without following a link but the ones its literal part names.
fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    if !is_glob(pattern) {
        return Ok(match fs::symlink_metadata(pattern) {
            Ok(_) => vec![PathBuf::from(pattern)],
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {pattern}: {e}")),
        });
    }
    let mut found = vec![PathBuf::from("/")];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &found {
            if !is_glob(part) {
                let path = dir.join(part);
                if fs::symlink_metadata(&path).is_ok() {
                    next.push(path);
                }
                continue;
            }
            let Ok(listing) = fs::read_dir(dir) else {
                continue;
            };
            for entry in listing {
                let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if crate::apply::archives::read::matches(part, &name) {
                    next.push(entry.path());
                }
            }
        }
        found = next;
    }
    Ok(found)
}

/// The deepest directory holding every root: names in the archive are relative to it (a
/// single directory `/srv/app` is archived as `app/…`).
fn common_parent(roots: &[PathBuf]) -> PathBuf {
    let parent = |p: &PathBuf| {
        p.parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    };
    let Some(first) = roots.first() else {
        return PathBuf::from("/");
    };
    let mut base = parent(first);
    for root in &roots[1..] {
        while !root.starts_with(&base) {
            match base.parent() {
                Some(up) => base = up.to_path_buf(),
                None => break,
            }
        }
    }
    base
}

fn walk(
    path: &Path,
    base: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), String> {
    if skip(path) {
        return Ok(());
    }
    let name = path
        .strip_prefix(base)
        .map_err(|_| format!("{} is not below {}", path.display(), base.display()))?
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 name", path.display()))?
        .to_owned();
    if name.is_empty() {
        return Err(format!(
            "{} is the root of the archive: name what is in it",
            path.display()
        ));
    }
    if out.len() >= MAX_INPUTS {
        return Err(format!("more than {MAX_INPUTS} entries to archive"));
    }
    out.push((name, path.to_path_buf()));
    let metadata =
        fs::symlink_metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if metadata.is_dir() {
        let listing =
            fs::read_dir(path).map_err(|e| format!("cannot list {}: {e}", path.display()))?;
        for entry in listing {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", path.display()))?;
            walk(&entry.path(), base, skip, out)?;
        }
    }
    Ok(())
}

/// One entry as it is now: a regular file is hashed, a link read, a directory listed by name.
fn read_input(path: &Path, name: String) -> Result<Input, String> {
    let shown = path.display();
    let metadata = fs::symlink_metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut input = Input {
        name,
        kind: String::new(),
        mode: format!("{:04o}", metadata.mode() & 0o7777),
        uid: metadata.uid(),
        gid: metadata.gid(),
        size: None,
        sha256: None,
        target: None,
    };
    let kind = metadata.file_type();
    if kind.is_file() {
        let mut file = open_no_follow(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let hashed = crate::fsutil::hash_file(&mut file, 0)
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        input.kind = "file".to_owned();
        input.size = Some(hashed.size);
        input.sha256 = Some(hashed.sha256_hex());
    } else if kind.is_dir() {
        input.kind = "directory".to_owned();
    } else if kind.is_symlink() {
        let target = fs::read_link(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        input.kind = "link".to_owned();
        input.target = Some(
            target
                .to_str()
                .ok_or_else(|| format!("{shown} links to a name that is not UTF-8"))?
                .to_owned(),
        );
    } else {
        return Err(format!(
            "{shown} is a special file (a device, socket or pipe): exclude it with `exclude_path`"
        ));
    }
    Ok(input)
}

/// A regular file opened for reading, never through a link (the entry was seen as a file).
pub fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_per_name_and_skip_hidden_entries() {
        let temp = tempfile::tempdir().expect("temp");
        let dir = temp.path().join("conf");
        fs::create_dir(&dir).expect("mkdir");
        for name in ["a.conf", "b.conf", ".hidden.conf", "c.txt"] {
            fs::write(dir.join(name), name).expect("write");
        }
        let pattern = format!("{}/*.conf", dir.display());
        let found = collect(&[pattern], &[], "/nowhere").expect("collect");
        let names: Vec<&str> = found.manifest.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a.conf", "b.conf"]);
    }

    #[test]
    fn a_directory_is_archived_under_its_own_name_without_excluded_paths() {
        let temp = tempfile::tempdir().expect("temp");
        let app = temp.path().join("app");
        fs::create_dir_all(app.join("logs")).expect("mkdir");
        fs::write(app.join("main.py"), "print()").expect("write");
        fs::write(app.join("logs/x.log"), "log").expect("write");
        std::os::unix::fs::symlink("main.py", app.join("current")).expect("link");
        let excluded = format!("{}/logs", app.display());
        let found =
            collect(&[app.display().to_string()], &[excluded], "/nowhere").expect("collect");
        let lines: Vec<String> = found
            .manifest
            .iter()
            .map(|i| format!("{} {}", i.kind, i.name))
            .collect();
        assert_eq!(
            lines,
            ["directory app", "link app/current", "file app/main.py"]
        );
        let before = digest(&found.manifest);
        fs::write(app.join("main.py"), "print(1)").expect("write");
        let after = collect(
            &[app.display().to_string()],
            &[format!("{}/logs", app.display())],
            "/",
        )
        .expect("collect");
        assert_ne!(digest(&after.manifest), before);
    }
}
