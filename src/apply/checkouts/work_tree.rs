//! What is at `dest` (observed read-only: the plan and the stale check), and the two changes
//! a node makes: a clone into a temp directory beside `dest` renamed into place, or a fetch
//! and checkout of the planned commit in the work tree there.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::git_cli::Git;
use super::remote::Resolved;
use crate::error::ResourceError;

/// What `dest` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    Absent,
    /// An empty directory: a clone replaces it.
    EmptyDirectory,
    /// A git work tree whose top is `dest`.
    Checkout,
}

/// `dest` as observed: a node's `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkTree {
    pub dest: String,
    pub state: Presence,
    /// The commit HEAD is at (none in a repository without commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch HEAD is on; none when detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Changes to tracked files, as `git status --porcelain` lists them (untracked files are
    /// not local changes: they are left alone, as Ansible's module does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_changes: Vec<String>,
}

/// Observes `dest`: absent, an empty directory or a git work tree; anything else is an error
/// (a checkout goes nowhere else).
pub fn observe(dest: &str, timeout: Duration) -> Result<WorkTree, String> {
    let absent = |state| WorkTree {
        dest: dest.to_owned(),
        state,
        commit: None,
        branch: None,
        local_changes: Vec::new(),
    };
    let path = Path::new(dest);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(absent(Presence::Absent)),
        Err(e) => return Err(format!("cannot read {dest}: {e}")),
    };
    let not_a_checkout = |what: &str| {
        format!(
            "{dest} is {what}: a git checkout goes only where nothing is, in an empty directory, \
             or over a checkout"
        )
    };
    if meta.file_type().is_symlink() {
        return Err(not_a_checkout("a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(not_a_checkout("not a directory"));
    }
    let mut entries = std::fs::read_dir(path).map_err(|e| format!("cannot read {dest}: {e}"))?;
    if entries.next().is_none() {
        return Ok(absent(Presence::EmptyDirectory));
    }
    if std::fs::symlink_metadata(path.join(crate::git::DIR_NAME)).is_err() {
        return Err(not_a_checkout("a directory that is not a git checkout"));
    }
    let (commit, branch, local_changes) = read_head(path, dest, timeout).map_err(|e| e.message)?;
    Ok(WorkTree {
        commit,
        branch,
        local_changes,
        ..absent(Presence::Checkout)
    })
}

/// The commit and branch of the work tree at `path`, and its local changes to tracked files.
#[allow(clippy::type_complexity)]
fn read_head(
    path: &Path,
    dest: &str,
    timeout: Duration,
) -> Result<(Option<String>, Option<String>, Vec<String>), ResourceError> {
    let git = Git::in_work_tree(path, timeout, false);
    let what = format!("cannot read the checkout in {dest}");
    let top = git.output(&what, &["rev-parse", "--show-toplevel"])?;
    let same_dir = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same_dir(Path::new(top.trim_end()), path) {
        return Err(ResourceError::permanent(format!(
            "{dest} is inside the git work tree of {}, not the top of one",
            top.trim_end()
        )));
    }
    let commit = git.answer(&what, &["rev-parse", "-q", "--verify", "HEAD^{commit}"], 1)?;
    let branch = git.answer(&what, &["symbolic-ref", "-q", "--short", "HEAD"], 1)?;
    let status = git.output(&what, &["status", "--porcelain", "--untracked-files=no"])?;
    Ok((
        commit.map(|c| c.trim_end().to_owned()),
        branch.map(|b| b.trim_end().to_owned()),
        status.lines().map(str::to_owned).collect(),
    ))
}

/// What a node fetches and checks out.
pub struct Target<'a> {
    pub repo: &'a str,
    /// How messages name the repository (`(sensitive)` for a secret).
    pub shown: &'a str,
    pub remote: &'a str,
    pub resolved: &'a Resolved,
    pub depth: Option<u32>,
    pub timeout: Duration,
    /// `repo` is a secret: git's messages are not quoted, and a clone's `.git/config`
    /// (which records the URL) is readable by its owner only.
    pub secret: bool,
}

/// Clones into a temp directory beside `dest` and renames it into place (over an empty
/// directory, or where nothing is): a run killed midway leaves no half checkout at `dest`,
/// only the temp directory, which the next run removes.
pub fn clone_into(dest: &Path, target: &Target<'_>) -> Result<(), ResourceError> {
    let shown_dest = dest.display();
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(ResourceError::permanent(format!(
            "{shown_dest} has no parent directory"
        )));
    };
    let name = crate::fsutil::at::cstring(name.as_encoded_bytes())
        .map_err(|e| ResourceError::io(format_args!("bad name {shown_dest}"), &e))?;
    let temp_name = crate::fsutil::temp_name(&name)
        .map_err(|e| ResourceError::io("cannot name a temp directory", &e))?;
    let temp = parent.join(std::ffi::OsStr::from_bytes(temp_name.to_bytes()));
    std::fs::create_dir(&temp).map_err(|e| {
        ResourceError::io(
            format_args!("cannot make a directory in {}", parent.display()),
            &e,
        )
    })?;
    let made = fill(&temp, target).and_then(|()| {
        std::fs::rename(&temp, dest).map_err(|e| {
            ResourceError::io(format_args!("cannot move the clone to {shown_dest}"), &e)
        })
    });
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    made?;
    crate::fsutil::sync_parent(dest).map_err(|e| {
        ResourceError::io(
            format_args!("cannot sync the directory of {shown_dest}"),
            &e,
        )
    })
}

/// A new repository in `dir` recording `repo` as its remote, at the planned commit.
fn fill(dir: &Path, target: &Target<'_>) -> Result<(), ResourceError> {
    let outside = Git::outside(target.timeout, target.secret);
    let dir_text = dir.to_string_lossy();
    outside.output(
        "cannot make a repository",
        &["init", "--quiet", "--", &dir_text],
    )?;
    if target.secret {
        use std::os::unix::fs::PermissionsExt;
        let config = dir.join(crate::git::DIR_NAME).join("config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            ResourceError::io(format_args!("cannot protect {}", config.display()), &e)
        })?;
    }
    let git = Git::in_work_tree(dir, target.timeout, target.secret);
    git.output(
        &format!("cannot record {} as remote {}", target.shown, target.remote),
        &["remote", "add", "--", target.remote, target.repo],
    )?;
    fetch_and_check_out(dir, target, false)
}

/// Moves the work tree at `dest` to the planned commit, discarding its local changes first
/// when `discard` (the task's `force`).
pub fn move_to(dest: &Path, target: &Target<'_>, discard: bool) -> Result<(), ResourceError> {
    if discard {
        Git::in_work_tree(dest, target.timeout, target.secret).output(
            &format!("cannot discard the local changes in {}", dest.display()),
            &["reset", "--hard", "--quiet"],
        )?;
    }
    fetch_and_check_out(dest, target, discard)
}

/// Fetches the planned ref (or commit) from `repo` itself — never through the remote the
/// work tree's config names — checks the remote gave the planned commit, and checks it out:
/// on the planned branch reset to it, or detached.
fn fetch_and_check_out(dir: &Path, target: &Target<'_>, force: bool) -> Result<(), ResourceError> {
    let git = Git::in_work_tree(dir, target.timeout, target.secret);
    let commit = target.resolved.commit.as_str();
    let fetch_what = format!("cannot fetch from {}", target.shown);
    let depth = target.depth.map(|d| format!("--depth={d}"));
    let fetch = |spec: &str| {
        let mut args = vec!["fetch", "--quiet", "--no-tags"];
        args.extend(depth.as_deref());
        args.extend(["--", target.repo, spec]);
        git.output(&fetch_what, &args)
    };
    let local_ref = match target.resolved.ref_name.as_deref() {
        Some(name) => {
            let local = match name.strip_prefix("refs/heads/") {
                Some(branch) => format!("refs/remotes/{}/{branch}", target.remote),
                None if name.starts_with("refs/tags/") => name.to_owned(),
                None => "FETCH_HEAD".to_owned(),
            };
            let spec = if local == "FETCH_HEAD" {
                name.to_owned()
            } else {
                format!("+{name}:{local}")
            };
            fetch(&spec)?;
            local
        }
        None => {
            let here = git.answer(
                &fetch_what,
                &[
                    "rev-parse",
                    "-q",
                    "--verify",
                    &format!("{commit}^{{commit}}"),
                ],
                1,
            )?;
            if here.is_none() {
                fetch(commit)?;
            }
            commit.to_owned()
        }
    };
    let got = git
        .answer(
            &fetch_what,
            &[
                "rev-parse",
                "-q",
                "--verify",
                &format!("{local_ref}^{{commit}}"),
            ],
            1,
        )?
        .map(|c| c.trim_end().to_owned());
    if got.as_deref() != Some(commit) {
        let version = target.resolved.ref_name.as_deref().unwrap_or(commit);
        return Err(ResourceError::permanent(format!(
            "{} {version} is at {} now, not at {commit} as planned: make a new plan",
            target.shown,
            got.as_deref().unwrap_or("no commit")
        )));
    }
    let mut checkout = vec!["checkout", "--quiet"];
    if force {
        checkout.push("--force");
    }
    match target.resolved.branch.as_deref() {
        Some(branch) => checkout.extend(["-B", branch, commit]),
        None => checkout.extend(["--detach", commit]),
    }
    git.output(
        &format!("cannot check out {commit} in {}", dir.display()),
        &checkout,
    )?;
    Ok(())
}

/// Removes the temp directories of clones killed before their rename, beside `dest`, if
/// older than `before` (a concurrent run's are younger).
pub fn remove_stale_clones(dest: &Path, before: std::time::SystemTime) {
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(name.as_encoded_bytes());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let ours = file_name.as_encoded_bytes().starts_with(&prefix)
            && file_name.to_str().is_some_and(crate::fsutil::is_temp_name);
        let stale = ours
            && entry.metadata().is_ok_and(|m| {
                m.is_dir() && !m.file_type().is_symlink() && m.modified().is_ok_and(|t| t < before)
            });
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
