//! `git`: a checkout of `repo` at `version` in `dest`, made and moved with the git CLI (after
//! Ansible's `git` module). Planned and run by the checkout family ([`super::checkouts`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::absolute;
use super::files;
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// A Git checkout.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitTask {
    /// The repository: a URL (`https://`, `ssh://`, `git@host:path`, `file://`) or a local
    /// path. A token in it must come from a secret (`{{ secrets.NAME }}`): the URL is then
    /// never shown.
    pub repo: Spanned<String>,
    /// Absolute path of the work tree.
    pub dest: Spanned<String>,
    /// A branch, a tag or a full commit id (default: the branch the remote's HEAD names).
    pub version: Option<Spanned<String>>,
    /// Move an existing checkout to `version` (default true); false leaves one as it is.
    #[serde(default = "yes")]
    pub update: bool,
    /// Discard local changes to tracked files (`git reset --hard`) instead of refusing to
    /// move a checkout that has some (default false).
    #[serde(default)]
    pub force: bool,
    /// Fetch only this many commits of history (a shallow checkout).
    pub depth: Option<Spanned<u32>>,
    /// The name of the remote a new clone records `repo` as (default `origin`).
    pub remote: Option<Spanned<String>>,
    /// Deadline for each git command (default 10m).
    pub timeout: Option<Spanned<Duration>>,
}

fn yes() -> bool {
    true
}

/// The remote name when the task gives none.
pub const DEFAULT_REMOTE: &str = "origin";

impl GitTask {
    pub fn remote(&self) -> &str {
        self.remote.as_ref().map_or(DEFAULT_REMOTE, |r| &r.value)
    }
}

/// Whether `text` is a full commit id (SHA-1 or SHA-256), lower-case hex.
pub fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `url` carries a password written in it (`scheme://user:password@host/…`).
fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// What git takes for an option, or what breaks a command line or a message.
fn unsafe_word(text: &str) -> bool {
    text.is_empty() || text.starts_with('-') || text.chars().any(|c| c.is_control())
}

/// A name git accepts as a ref component (a branch, a tag, a remote), checked by the rules
/// of `git check-ref-format` that matter here.
fn is_ref_name(name: &str) -> bool {
    !unsafe_word(name)
        && !name.contains("..")
        && !name.contains("@{")
        && !name.ends_with('.')
        && !name.ends_with('/')
        && !name.starts_with('/')
        && !name.contains("//")
        && !name.ends_with(".lock")
        && !name
            .chars()
            .any(|c| c.is_whitespace() || "~^:?*[\\".contains(c))
}

impl Resource for GitTask {
    const SECRET_FIELDS: &'static [&'static str] = &["repo"];

    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.dest, Hold::Owns)
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.dest.value, None)
    }

    fn default_id(&self) -> String {
        format!("git:{}", self.dest.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.dest, "dest", found);
        let repo = &self.repo;
        let shown = if repo.sensitive {
            super::SENSITIVE
        } else {
            repo.value.as_str()
        };
        if unsafe_word(&repo.value) {
            found.push(
                Diagnostic::error(format!("`repo` `{shown}` is not a repository URL or path"))
                    .at(repo.span)
                    .help("e.g. `repo: https://github.com/example/app.git`"),
            );
        } else if has_password(&repo.value) && !repo.sensitive {
            found.push(
                Diagnostic::error("`repo` has a password written in it, which every plan would show")
                    .at(repo.span)
                    .help("put the token in a secret: `repo: \"https://deploy:{{ secrets.GIT_TOKEN }}@git.example.com/app.git\"`"),
            );
        }
        if let Some(version) = &self.version
            && !is_ref_name(&version.value)
        {
            found.push(
                Diagnostic::error(format!(
                    "`version` `{}` is not a branch, tag or commit id",
                    version.value
                ))
                .at(version.span)
                .help("e.g. `version: main`, `version: v1.2.0` or a full 40-digit commit id"),
            );
        }
        if let Some(remote) = &self.remote
            && (!is_ref_name(&remote.value) || remote.value.contains('/'))
        {
            found.push(
                Diagnostic::error(format!("`remote` `{}` is not a remote name", remote.value))
                    .at(remote.span)
                    .help("e.g. `remote: origin`"),
            );
        }
        if let Some(depth) = &self.depth
            && depth.value == 0
        {
            found.push(
                Diagnostic::error("`depth` must be at least 1")
                    .at(depth.span)
                    .help("leave it out for the whole history"),
            );
        }
        if let Some(t) = &self.timeout
            && t.value.0.is_zero()
        {
            found.push(
                Diagnostic::error("`timeout` must be longer than 0s")
                    .at(t.span)
                    .help("e.g. `timeout: 5m`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.repo.sensitive
    }

    fn family() -> &'static dyn super::Family {
        &super::checkouts::CHECKOUTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_found() {
        assert!(has_password("https://u:t@example.com/a.git"));
        assert!(!has_password("https://u@example.com/a.git"));
        assert!(!has_password("git@example.com:a/b.git"));
        assert!(!has_password("/srv/git/a:b@c.git"));
        assert!(!has_password("https://example.com/a:b@c.git"));
    }

    #[test]
    fn versions_are_ref_names() {
        for good in ["main", "v1.2.0", "release/2024", "0123abc"] {
            assert!(is_ref_name(good), "{good}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a~1", "HEAD^", "a:b", "x.lock", "a/", "\n",
        ] {
            assert!(!is_ref_name(bad), "{bad}");
        }
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(!is_commit_id(&"A".repeat(40)));
        assert!(!is_commit_id("abc123"));
    }
}
