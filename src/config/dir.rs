//! The config directory as one value, made once per run and handed to every stage: its root,
//! the files it names (assets), its digest and its Git revision.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::git;

/// A config directory. Made once ([`ConfigDir::new`]) and passed by reference through load,
/// template, check, plan and execute, so that each asks the same value instead of resolving
/// a path again. What is costly (the digest, the Git revision) is computed on first use and
/// kept: a value stands for the directory as one run reads it, so a process that reads the
/// directory again after it changed (the agent after a pull) makes a new one. Clones share
/// the cache.
#[derive(Clone)]
pub struct ConfigDir(Arc<Inner>);

struct Inner {
    /// As given: config and asset paths are joined to it, and messages show it.
    path: PathBuf,
    /// Absolute, links not resolved: what a plan records as `config.dir`.
    absolute: PathBuf,
    /// The canonical root (links resolved); `None` when it cannot be resolved (a missing
    /// directory, which loading reports). Config files and assets must lie inside it.
    real: Option<PathBuf>,
    digest: OnceLock<String>,
    git: OnceLock<Option<GitRevision>>,
    /// Where the agent pulled the directory from; plans record it.
    origin: Option<GitOrigin>,
}

/// The Git commit a config directory is at, when it is in a Git work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRevision {
    /// `HEAD`.
    pub commit: String,
    /// Whether the work tree had uncommitted changes under the config dir; `None` when git
    /// could not say.
    pub dirty: Option<bool>,
}

impl ConfigDir {
    /// The config directory at `path`. Nothing is read yet: a directory that cannot be read is
    /// reported by [`crate::config::load`] as a diagnostic.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigDir::pulled(path, None)
    }

    /// The config directory at `path`, checked out by the agent from `origin`.
    pub fn pulled(path: impl Into<PathBuf>, origin: Option<GitOrigin>) -> Self {
        let path = path.into();
        let absolute = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let real = std::fs::canonicalize(&path).ok();
        ConfigDir(Arc::new(Inner {
            path,
            absolute,
            real,
            digest: OnceLock::new(),
            git: OnceLock::new(),
            origin,
        }))
    }

    /// Where the agent pulled it from, when it did.
    pub fn origin(&self) -> Option<&GitOrigin> {
        self.0.origin.as_ref()
    }

    /// The directory as it was given.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The directory as an absolute path, links not resolved.
    pub fn absolute(&self) -> &Path {
        &self.0.absolute
    }

    /// The canonical root, links resolved; `None` when the directory cannot be resolved.
    pub fn real(&self) -> Option<&Path> {
        self.0.real.as_deref()
    }

    /// A file the config names (a template, a `copy` source): relative to the config dir and
    /// inside it, also through symlinks, and never in `.git`. A file that does not exist is not
    /// refused here: whoever reads it says so.
    pub fn resolve_asset(&self, relative: &str) -> Result<PathBuf, String> {
        let path = Path::new(relative);
        if path.is_absolute() {
            return Err(format!(
                "`{relative}` is an absolute path; files of the config are named relative to \
                 the config directory"
            ));
        }
        let mut depth = 0i32;
        for part in path.components() {
            match part {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return Err(format!("`{relative}` leaves the config directory"));
            }
        }
        let full = self.0.path.join(path);
        let in_git_dir = |p: &Path| p.components().any(|c| c.as_os_str() == git::DIR_NAME);
        if in_git_dir(path) {
            return Err(git_dir_refused(relative));
        }
        // A symlink inside the config dir must not lead out of it, nor into `.git`, either.
        if let (Ok(real), Some(real_dir)) = (std::fs::canonicalize(&full), self.real()) {
            match real.strip_prefix(real_dir) {
                Err(_) => {
                    return Err(format!(
                        "`{relative}` leads out of the config directory through a symlink"
                    ));
                }
                Ok(inside) if in_git_dir(inside) => return Err(git_dir_refused(relative)),
                Ok(_) => {}
            }
        }
        Ok(full)
    }

    /// SHA-256 over every entry of the directory but `.git` (config, templates, files, hidden
    /// ones too), computed on first use.
    pub fn digest(&self) -> &str {
        self.0
            .digest
            .get_or_init(|| super::digest::digest_dir(&self.0.path))
    }

    /// `HEAD` of the Git work tree that holds the directory, if any.
    pub fn git_commit(&self) -> Option<&str> {
        self.git_revision().map(|r| r.commit.as_str())
    }

    /// Whether that work tree has uncommitted changes under the directory; `None` outside Git
    /// or when git cannot say.
    pub fn git_dirty(&self) -> Option<bool> {
        self.git_revision().and_then(|r| r.dirty)
    }

    /// The Git revision, asked of git (hardened: [`crate::git`]) on first use.
    pub fn git_revision(&self) -> Option<&GitRevision> {
        self.0
            .git
            .get_or_init(|| {
                let dir = &self.0.absolute;
                let git = git::repository(dir)?;
                let commit = git
                    .output(&["rev-parse", "--verify", "-q", "HEAD"])
                    .filter(|c| !c.is_empty())?;
                let status = [
                    "status",
                    "--porcelain",
                    "--ignore-submodules=all",
                    "--",
                    ".",
                ];
                let dirty = git.output(&status).map(|s| !s.is_empty());
                Some(GitRevision { commit, dirty })
            })
            .as_ref()
    }
}

/// `.git` is Git's metadata, not config: the config digest leaves it out, so a run must not
/// read from it.
fn git_dir_refused(relative: &str) -> String {
    format!("`{relative}` is in `.git`, Git's own directory, which is not part of the config")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir_with_asset() -> (tempfile::TempDir, ConfigDir) {
        let root = tempfile::tempdir().expect("temp dir");
        let config = root.path().join("config");
        std::fs::create_dir_all(config.join("files")).expect("files dir");
        std::fs::write(config.join("files/app.conf"), "x\n").expect("asset");
        std::fs::write(root.path().join("outside"), "secret\n").expect("outside file");
        (root, ConfigDir::new(config))
    }

    #[test]
    fn an_asset_inside_resolves_to_its_path_under_the_given_root() {
        let (_root, dir) = dir_with_asset();
        assert_eq!(
            dir.resolve_asset("files/app.conf"),
            Ok(dir.path().join("files/app.conf"))
        );
        assert_eq!(
            dir.resolve_asset("files/../files/app.conf"),
            Ok(dir.path().join("files/../files/app.conf"))
        );
    }

    #[test]
    fn a_missing_asset_is_left_for_its_reader_to_report() {
        let (_root, dir) = dir_with_asset();
        assert_eq!(
            dir.resolve_asset("files/missing"),
            Ok(dir.path().join("files/missing"))
        );
    }

    #[test]
    fn absolute_and_escaping_names_are_refused() {
        let (_root, dir) = dir_with_asset();
        let absolute = dir.resolve_asset("/etc/passwd").unwrap_err();
        assert!(absolute.contains("is an absolute path"), "{absolute}");
        let escaping = dir.resolve_asset("files/../../outside").unwrap_err();
        assert_eq!(
            escaping,
            "`files/../../outside` leaves the config directory"
        );
    }

    #[test]
    fn a_symlink_out_of_the_directory_is_refused() {
        let (root, dir) = dir_with_asset();
        symlink(root.path().join("outside"), dir.path().join("files/link")).expect("symlink");
        assert_eq!(
            dir.resolve_asset("files/link"),
            Err("`files/link` leads out of the config directory through a symlink".to_owned())
        );
    }

    #[test]
    fn git_metadata_is_refused_directly_and_through_a_symlink() {
        let (_root, dir) = dir_with_asset();
        std::fs::create_dir(dir.path().join(".git")).expect(".git");
        std::fs::write(dir.path().join(".git/config"), "[core]\n").expect("git config");
        symlink("../.git/config", dir.path().join("files/git-config")).expect("symlink");
        let refused = |name: &str| {
            format!("`{name}` is in `.git`, Git's own directory, which is not part of the config")
        };
        assert_eq!(
            dir.resolve_asset(".git/config"),
            Err(refused(".git/config"))
        );
        assert_eq!(
            dir.resolve_asset("files/git-config"),
            Err(refused("files/git-config"))
        );
    }

    #[test]
    fn the_digest_covers_content_but_not_git_and_is_kept_once_computed() {
        let (_root, dir) = dir_with_asset();
        let first = dir.digest().to_owned();
        assert_eq!(first.len(), 64);
        std::fs::create_dir(dir.path().join(".git")).expect(".git");
        assert_eq!(
            ConfigDir::new(dir.path()).digest(),
            first,
            ".git is left out"
        );
        std::fs::write(dir.path().join("files/app.conf"), "y\n").expect("edit");
        assert_ne!(ConfigDir::new(dir.path()).digest(), first, "content counts");
        assert_eq!(
            dir.digest(),
            first,
            "one value is one reading of the directory"
        );
        assert_eq!(dir.clone().digest(), first, "clones share it");
    }

    #[test]
    fn a_missing_directory_has_no_real_root_and_no_git_revision() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = ConfigDir::new(root.path().join("missing"));
        assert_eq!(dir.real(), None);
        assert!(dir.absolute().is_absolute());
        assert_eq!(dir.git_commit(), None);
        assert_eq!(dir.git_dirty(), None);
    }
}

/// Where the agent got a config: the repository, the ref it followed, the commit.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct GitOrigin {
    /// `settings.agent.source.git.url`, without any user name or password.
    pub url: String,
    /// The ref followed: the branch (`refs/heads/main`) or a preview ref.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The commit the config is at.
    pub commit: String,
    /// A preview: planned for review, never applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview: bool,
}
