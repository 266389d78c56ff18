//! The agent's Git source: a bare mirror of the repository in the state directory, fetched
//! with the `git` command (as Argo CD does: the host's credentials, SSH keys and proxies work
//! as for any git), and one checkout per commit, switched to atomically.
//!
//! Layout under `<state dir>/source/`:
//! - `repo.git/`: the bare mirror; the followed branch is fetched into
//!   `refs/driftless/source`, each preview ref into `refs/driftless/previews/<ref>`;
//! - `commits/<commit>/`: a checkout (a `git worktree`) of one commit, never changed after it
//!   is made;
//! - `current`: a symlink to the checkout the agent converges to, replaced by `rename(2)`, so a
//!   reader sees the old commit or the new one, never a mix; the previous checkout is kept, to
//!   roll back to by hand;
//! - `previews/<commit>/`: a checkout of a preview ref's commit while it is planned.
//!
//! Git runs hardened as everywhere in driftless ([`crate::git`]): hooks and fsmonitor off (a
//! checkout would otherwise run the repository's `post-checkout`), no terminal prompt, no
//! inherited `GIT_*` variables.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::settings::GitSource as GitSettings;
use crate::plan::GitOrigin;
use crate::process::{self, Invocation};

/// How long a fetch may take; other git commands are local and quick.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
const LOCAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the followed branch is fetched to in the mirror.
const SOURCE_REF: &str = "refs/driftless/source";

/// The variables git keeps from the agent's environment: where the user's keys, credentials
/// and trust live, and the proxies.
const KEPT_ENV: &[&str] = &[
    "HOME",
    "SSH_AUTH_SOCK",
    "GNUPGHOME",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
];

/// The repository the agent follows, and its copies in the state directory.
pub struct GitSource {
    url: String,
    branch: String,
    pub verify_commits: bool,
    /// Preview refs as given.
    pub preview_refs: Vec<String>,
    root: PathBuf,
}

impl GitSource {
    pub fn new(settings: &GitSettings, state_dir: &Path) -> GitSource {
        GitSource {
            url: settings.url.value.clone(),
            branch: settings
                .branch
                .as_ref()
                .map_or_else(|| "main".to_owned(), |b| b.value.clone()),
            verify_commits: settings.verify_commits,
            preview_refs: settings
                .preview_refs
                .iter()
                .map(|r| r.value.clone())
                .collect(),
            root: state_dir.join("source"),
        }
    }

    fn mirror(&self) -> PathBuf {
        self.root.join("repo.git")
    }

    /// The `current` symlink.
    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    /// The checkout of `commit` the agent converges to.
    pub fn commit_dir(&self, commit: &str) -> PathBuf {
        self.root.join("commits").join(commit)
    }

    /// What a plan of `commit` records as its origin.
    pub fn origin(&self, reference: &str, commit: &str, preview: bool) -> GitOrigin {
        GitOrigin {
            url: without_credentials(&self.url),
            reference: full_ref(reference),
            commit: commit.to_owned(),
            preview,
        }
    }

    /// The followed branch as a full ref.
    pub fn branch_ref(&self) -> String {
        full_ref(&self.branch)
    }

    /// Runs git on the mirror; its trimmed stdout, or why it failed.
    fn git(&self, args: &[&str], timeout: Duration) -> Result<String, String> {
        let mut argv: Vec<OsString> = vec!["git".into(), "--no-pager".into()];
        argv.push(format!("--git-dir={}", self.mirror().display()).into());
        argv.extend(args.iter().map(OsString::from));
        let mut invocation = Invocation::new(argv).timeout(timeout);
        for (key, value) in crate::git::hardening_env_without_repository() {
            invocation = invocation.env(key, value);
        }
        for key in KEPT_ENV {
            if let Some(value) = std::env::var_os(key) {
                invocation = invocation.env(key, value);
            }
        }
        let finished = process::run(&invocation).map_err(|e| format!("cannot run git: {e}"))?;
        if finished.timed_out {
            return Err(format!(
                "git {} took longer than {}s",
                args.first().unwrap_or(&""),
                timeout.as_secs()
            ));
        }
        if !finished.success() {
            return Err(format!(
                "git {} failed: {}",
                args.first().unwrap_or(&""),
                finished.complaint()
            ));
        }
        Ok(finished.stdout_text().trim().to_owned())
    }

    /// Makes the mirror when there is none yet.
    fn ensure_mirror(&self) -> Result<(), String> {
        if self.mirror().join("HEAD").is_file() {
            return Ok(());
        }
        for dir in [self.root.join("commits"), self.root.join("previews")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        self.git(&["init", "--quiet", "--bare"], LOCAL_TIMEOUT)
            .map(drop)
    }

    /// Fetches the followed branch; its commit.
    pub fn fetch(&self) -> Result<String, String> {
        self.ensure_mirror()?;
        self.fetch_ref(&self.branch, SOURCE_REF)
    }

    /// Fetches a preview ref; its commit.
    pub fn fetch_preview(&self, reference: &str) -> Result<String, String> {
        let local = format!("refs/driftless/previews/{}", short_ref(reference));
        self.fetch_ref(reference, &local)
    }

    fn fetch_ref(&self, remote: &str, local: &str) -> Result<String, String> {
        let refspec = format!("+{}:{local}", full_ref(remote));
        // `--` ends the options: the URL is never read as one (check refuses a leading `-`
        // too).
        self.git(
            &["fetch", "--quiet", "--no-tags", "--", &self.url, &refspec],
            FETCH_TIMEOUT,
        )?;
        self.git(
            &["rev-parse", "--verify", &format!("{local}^{{commit}}")],
            LOCAL_TIMEOUT,
        )
    }

    /// Refuses `commit` unless its signature is good and trusted (`git verify-commit`: the
    /// GPG keyring, or `gpg.ssh.allowedSignersFile`, of the agent's user).
    pub fn verify(&self, commit: &str) -> Result<(), String> {
        self.git(&["verify-commit", "--", commit], LOCAL_TIMEOUT)
            .map(drop)
            .map_err(|why| {
                format!("commit {commit} is not signed by a trusted key, and verify_commits is on: {why}")
            })
    }

    /// Checks `commit` out into `dir` (left as it is when it is there already: a checkout is
    /// never changed).
    pub fn check_out(&self, commit: &str, dir: &Path) -> Result<(), String> {
        if dir.join(crate::git::DIR_NAME).exists() {
            return Ok(());
        }
        // A half-made checkout of a crash before: made again.
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
        }
        let _ = self.git(&["worktree", "prune"], LOCAL_TIMEOUT);
        let shown = dir.display().to_string();
        self.git(
            &[
                "worktree", "add", "--quiet", "--detach", "--force", &shown, commit,
            ],
            LOCAL_TIMEOUT,
        )
        .map(drop)
    }

    /// Removes a checkout made by [`GitSource::check_out`].
    pub fn remove_checkout(&self, dir: &Path) {
        let shown = dir.display().to_string();
        if let Err(why) = self.git(&["worktree", "remove", "--force", &shown], LOCAL_TIMEOUT) {
            tracing::debug!(%why, "git worktree remove");
            let _ = std::fs::remove_dir_all(dir);
            let _ = self.git(&["worktree", "prune"], LOCAL_TIMEOUT);
        }
    }

    /// The commit `current` points to, with its checkout.
    pub fn current(&self) -> Option<(String, PathBuf)> {
        let target = std::fs::read_link(self.current_link()).ok()?;
        let commit = target.file_name()?.to_str()?.to_owned();
        let dir = self.commit_dir(&commit);
        dir.join(crate::git::DIR_NAME)
            .exists()
            .then_some((commit, dir))
    }

    /// Points `current` at the checkout of `commit` in one `rename(2)`, then removes the
    /// checkouts older than the one it replaced.
    pub fn switch(&self, commit: &str) -> Result<(), String> {
        let previous = self.current().map(|(c, _)| c);
        let link = self.current_link();
        let staged = self.root.join(format!(
            ".current-{}",
            crate::fsutil::random_hex(6).unwrap_or_else(|_| std::process::id().to_string())
        ));
        let target = Path::new("commits").join(commit);
        std::os::unix::fs::symlink(&target, &staged)
            .and_then(|()| std::fs::rename(&staged, &link))
            .map_err(|e| {
                let _ = std::fs::remove_file(&staged);
                format!("cannot switch {} to {commit}: {e}", link.display())
            })?;
        let keep = [Some(commit.to_owned()), previous];
        if let Ok(entries) = std::fs::read_dir(self.root.join("commits")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !keep.iter().flatten().any(|k| *k == name) {
                    self.remove_checkout(&entry.path());
                }
            }
        }
        Ok(())
    }

    /// Where a preview of `commit` is checked out while it is planned.
    pub fn preview_dir(&self, commit: &str) -> PathBuf {
        self.root.join("previews").join(commit)
    }
}

/// `main` → `refs/heads/main`; a full ref stays.
fn full_ref(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("refs/heads/{name}")
    }
}

/// A ref without its `refs/` (or `refs/heads/`) prefix: the name a preview is kept under.
fn short_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/"))
        .unwrap_or(name)
}

/// The URL without the user name and password of `scheme://user:password@host/…`.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_urls_as_recorded() {
        assert_eq!(full_ref("main"), "refs/heads/main");
        assert_eq!(full_ref("refs/pull/7/head"), "refs/pull/7/head");
        assert_eq!(short_ref("refs/heads/pr-1"), "pr-1");
        assert_eq!(short_ref("refs/pull/7/head"), "pull/7/head");
        assert_eq!(
            without_credentials("https://bot:tok@git.example.com/f.git"),
            "https://git.example.com/f.git"
        );
        assert_eq!(
            without_credentials("git@git.example.com:f.git"),
            "git@git.example.com:f.git"
        );
        assert_eq!(without_credentials("/srv/fleet.git"), "/srv/fleet.git");
    }
}
