//! Running the git CLI for a checkout: through [`crate::process`] (an argument vector, a
//! cleared environment — no `HOME`, so no user's `~/.gitconfig` — and a deadline), with the
//! settings of [`crate::git`] that keep a repository from running code (no hooks, no
//! fsmonitor, no filter drivers) and no prompt for credentials. When `repo` is a secret,
//! what git says is never quoted: it may hold the URL.

use std::path::Path;
use std::time::Duration;

use crate::error::ResourceError;
use crate::process::Invocation;

/// How git is run for one node.
pub struct Git<'a> {
    /// Where git runs (`-C`); `None`: a command that needs no repository.
    dir: Option<&'a Path>,
    env: Vec<(String, String)>,
    timeout: Duration,
    /// `repo` is a secret: failures do not quote git.
    secret: bool,
}

impl<'a> Git<'a> {
    /// Git outside any repository (`ls-remote`, `init`).
    pub fn outside(timeout: Duration, secret: bool) -> Git<'static> {
        Git {
            dir: None,
            env: crate::git::hardening_env_without_repository(),
            timeout,
            secret,
        }
    }

    /// Git in the work tree `dir`, with the filter drivers its configuration defines off.
    pub fn in_work_tree(dir: &'a Path, timeout: Duration, secret: bool) -> Git<'a> {
        let env = crate::git::repository(dir)
            .map_or_else(crate::git::hardening_env_without_repository, |repository| {
                repository.hardening_env()
            });
        Git {
            dir: Some(dir),
            env,
            timeout,
            secret,
        }
    }

    fn invocation(&self, args: &[&str]) -> Invocation {
        // A read never writes the index (nor runs what writing it would).
        let mut argv: Vec<&std::ffi::OsStr> = vec![
            "git".as_ref(),
            "--no-pager".as_ref(),
            "--no-optional-locks".as_ref(),
        ];
        if let Some(dir) = self.dir {
            argv.push("-C".as_ref());
            argv.push(dir.as_os_str());
        }
        argv.extend(args.iter().map(std::ffi::OsStr::new));
        let mut invocation = Invocation::new(argv).timeout(self.timeout);
        for (key, value) in &self.env {
            invocation = invocation.env(key, value);
        }
        invocation
    }

    /// Runs `git ARGS`: its stdout, or why it failed (`what` names the step).
    pub fn output(&self, what: &str, args: &[&str]) -> Result<String, ResourceError> {
        match self.answer(what, args, 0)? {
            Some(stdout) => Ok(stdout),
            None => Err(ResourceError::permanent(format!("{what}: git failed"))),
        }
    }

    /// Runs `git ARGS` for a question git may answer "no" to by exit code `no`
    /// (`rev-parse --verify -q` and `symbolic-ref -q` exit 1): its stdout, or `None` when it
    /// says no. Any other failure (128: not a repository, an untrusted one) is an error.
    pub fn answer(
        &self,
        what: &str,
        args: &[&str],
        no: i32,
    ) -> Result<Option<String>, ResourceError> {
        let finished = crate::process::run(&self.invocation(args))?;
        if finished.timed_out {
            return Err(ResourceError::transient(format!(
                "{what}: git did not finish within {} s",
                self.timeout.as_secs()
            )));
        }
        match finished.rc {
            0 => Ok(Some(finished.stdout_text())),
            rc if rc == no => Ok(None),
            rc => {
                let said = if self.secret {
                    "(not shown: `repo` is a secret, which git may quote)".to_owned()
                } else {
                    finished.complaint()
                };
                let failure = format!("{what}: git failed (exit {rc}): {said}");
                // Reaching the remote may fail for a while (the network, the server); the
                // rest would fail again.
                Err(if matches!(args.first(), Some(&"fetch" | &"ls-remote")) {
                    ResourceError::transient(failure)
                } else {
                    ResourceError::permanent(failure)
                })
            }
        }
    }
}
