//! Running `git` on a config repository without letting the repository run code.
//!
//! A repository's own `.git/config`, `.git/hooks` and `.gitattributes` are not reviewed with
//! the config, yet git runs commands they name: `core.fsmonitor` on `git status`, hooks such as
//! `post-index-change` when an index refresh is written, and `filter.<driver>.clean` /
//! `.process` for every file whose stat data changed. Every git call of driftless goes through
//! [`Repository::output`], which turns all of them off:
//!
//! - `core.fsmonitor=false`, `core.hooksPath=/dev/null` and an empty `clean`, `smudge` and
//!   `process` command (with `required=false`) for every filter driver the configuration
//!   defines, all set at command-line scope, which outranks the repository's own files;
//! - `--no-optional-locks`: a read never writes the index (nor triggers what writing it runs);
//! - the caller's `GIT_*` environment is dropped (no `GIT_DIR`, `GIT_WORK_TREE`,
//!   `GIT_CONFIG_PARAMETERS` or `GIT_EXTERNAL_DIFF` surprise), so the repository is the one
//!   that holds the directory;
//! - `safe.directory` is left as git enforces it: a repository owned by another user than the
//!   one running driftless is refused by git, and then driftless has no metadata for it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Git's own directory (or `gitdir:` file) in a work tree. It is not config: the plan's config
/// digest leaves it out ([`crate::config::ConfigDir::digest`]), so a run never reads from it
/// ([`crate::config::ConfigDir::resolve_asset`] refuses paths through it).
pub const DIR_NAME: &str = ".git";

/// Settings that stop git from running anything the repository names.
const NO_CODE: &[(&str, &str)] = &[("core.fsmonitor", "false"), ("core.hooksPath", "/dev/null")];

fn no_code() -> Vec<(String, String)> {
    NO_CODE
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Git in a directory that may be in a repository, with the settings that keep it from
/// running code.
pub struct Repository {
    dir: PathBuf,
    settings: Vec<(String, String)>,
}

/// Git in `dir`, with the filter drivers its configuration defines turned off; `None` when
/// no directory from `dir` up can hold a repository — told without running git, which took
/// two git processes, a good part of a small plan. (Git may still find none, or not trust
/// it: then [`Repository::output`] is `None`.)
pub fn repository(dir: &Path) -> Option<Repository> {
    if dir.is_absolute() && !dir.ancestors().any(may_hold_repository) {
        return None;
    }
    let mut settings = no_code();
    for driver in filter_drivers(dir) {
        for (key, value) in [
            ("clean", ""),
            ("smudge", ""),
            ("process", ""),
            ("required", "false"),
        ] {
            settings.push((format!("filter.{driver}.{key}"), value.to_owned()));
        }
    }
    Some(Repository {
        dir: dir.to_path_buf(),
        settings,
    })
}

/// Whether git could take `dir` for a repository's work tree (it has a `.git`, directory or
/// file) or for a bare repository (`HEAD` and `objects`): a wider test than git's own, so
/// that nothing git would find is missed.
fn may_hold_repository(dir: &Path) -> bool {
    let exists = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
    exists(DIR_NAME) || (exists("HEAD") && exists("objects"))
}

impl Repository {
    /// The trimmed stdout of `git ARGS` run in the directory, hardened as the module says;
    /// `None` when git fails.
    pub fn output(&self, args: &[&str]) -> Option<String> {
        run(&self.dir, &self.settings, args)
    }

    /// The environment that gives a git run elsewhere (through [`crate::process`], which
    /// clears every other variable) the settings of [`Repository::output`].
    pub fn hardening_env(&self) -> Vec<(String, String)> {
        config_env(&self.settings)
    }
}

/// The hardening environment for a git run where no repository is yet (a clone's first
/// steps, `ls-remote`): hooks and fsmonitor off, no prompt for credentials.
pub fn hardening_env_without_repository() -> Vec<(String, String)> {
    config_env(&no_code())
}

/// Settings at command-line scope given through the environment: a key may hold any
/// character (a driver named `a=b` would break `-c a=b`), and it outranks every config file.
/// With them, `GIT_TERMINAL_PROMPT=0`: git never waits for a password on a terminal.
fn config_env(settings: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = vec![("GIT_CONFIG_COUNT".to_owned(), settings.len().to_string())];
    for (i, (key, value)) in settings.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key.clone()));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value.clone()));
    }
    env.push(("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned()));
    env
}

/// The names of the filter drivers git's configuration (every scope) defines for `dir`.
fn filter_drivers(dir: &Path) -> Vec<String> {
    let Some(names) = run(
        dir,
        &no_code(),
        &[
            "config",
            "--null",
            "--name-only",
            "--get-regexp",
            r"^filter\.",
        ],
    ) else {
        return Vec::new();
    };
    let mut drivers: Vec<String> = names
        .split('\0')
        .filter_map(|key| {
            // `filter.<driver>.<variable>`: the driver name may itself hold dots.
            let rest = key.strip_prefix("filter.")?;
            let (driver, _) = rest.rsplit_once('.')?;
            Some(driver.to_owned())
        })
        .collect();
    drivers.sort();
    drivers.dedup();
    drivers
}

fn run(dir: &Path, settings: &[(String, String)], args: &[&str]) -> Option<String> {
    let mut command = Command::new("git");
    command
        .arg("--no-optional-locks")
        .arg("--no-pager")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GIT_") {
            command.env_remove(&name);
        }
    }
    command.envs(config_env(settings));
    let output = command.output().ok()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("dubious ownership") {
            tracing::warn!(
                "git does not trust the repository of {} (it is owned by another user), so \
                 the plan records no commit; trust it in the system's or your own Git config \
                 (safe.directory) if it should",
                dir.display()
            );
        } else {
            tracing::debug!(
                "git {args:?} in {} failed: {}",
                dir.display(),
                stderr.trim()
            );
        }
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_is_not_run_where_no_directory_up_can_hold_a_repository() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("config/sub");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            !top.path().ancestors().any(may_hold_repository),
            "the temp dir is in a repository"
        );
        assert!(repository(&dir).is_none());
        // A `.git` file (a linked work tree's) anywhere above makes git worth asking.
        std::fs::write(top.path().join("config/.git"), "gitdir: /elsewhere\n").unwrap();
        assert!(may_hold_repository(&top.path().join("config")));
        assert!(dir.ancestors().any(may_hold_repository));
        // So does a bare repository's layout.
        let bare = top.path().join("bare");
        std::fs::create_dir_all(bare.join("objects")).unwrap();
        std::fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        assert!(may_hold_repository(&bare));
        assert!(!may_hold_repository(&top.path().join("config/sub")));
    }
}
