//! `authorized_key`: SSH public keys in a user's `authorized_keys`, with the fields of
//! Ansible's `authorized_key` module. The file is a member of the file family (each task
//! edits the lines of its keys, or owns the file with `exclusive`); the family of the type
//! ([`super::authorized_keys`]) adds the user's `~/.ssh` directory (0700), made or fixed first.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, refuse_non_file, refuse_symlink};
use super::fs_state::{EntryKind, FsState, Observed};
use super::lineinfile::{current_lines, edited_file};
use super::ssh_keys::{self, KeyLine};
use crate::diagnostics::Diagnostic;
use crate::host::login;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// SSH public keys of a user: present in (or absent from) their `authorized_keys`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedKeyTask {
    /// Whose keys: the file is `~user/.ssh/authorized_keys`, owned by the user.
    pub user: Spanned<String>,
    /// The key, or several, one per line, as `ssh-keygen` writes them:
    /// `ssh-ed25519 AAAA… comment` (options first if any).
    pub key: Option<Spanned<String>>,
    /// A file of the config dir with the keys, one per line (instead of `key`).
    pub key_file: Option<Spanned<String>>,
    /// sshd options for every key of the task (`from="10.0.0.0/8",no-pty`), replacing the
    /// keys' own.
    pub key_options: Option<Spanned<String>>,
    /// The comment of every key of the task, replacing the keys' own.
    pub comment: Option<Spanned<String>>,
    /// The file holds these keys and nothing else.
    #[serde(default)]
    pub exclusive: bool,
    /// `present` (default) or `absent`: the keys removed from the file.
    #[serde(default)]
    pub state: State,
    /// Another file than `~user/.ssh/authorized_keys` (absolute); its directory is then left
    /// as it is.
    pub path: Option<Spanned<String>>,
    /// The path, made once at plan time from the user's home (or `path`).
    #[serde(skip)]
    #[schemars(skip)]
    resolved: OnceLock<Result<Resolved, String>>,
}

/// Where the file is and whose it is, as found when planning.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub path: Spanned<String>,
    /// The `~/.ssh` directory driftless makes and keeps 0700 (none with `path`).
    pub directory: Option<String>,
    mode: Spanned<Mode>,
    owner: Spanned<Principal>,
    group: Option<Spanned<Principal>>,
}

impl AuthorizedKeyTask {
    /// The file and its owner: the user's home from NSS at plan time, or `path`.
    pub fn resolved(&self) -> Result<&Resolved, String> {
        self.resolved
            .get_or_init(|| self.resolve())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn resolve(&self) -> Result<Resolved, String> {
        let user = &self.user.value;
        let span = self.user.span;
        let found = login::of(user).map_err(|e| format!("cannot look up user {user}: {e}"))?;
        let (path, directory) = match (&self.path, &found) {
            (Some(path), _) => (path.clone(), None),
            (None, Some(login)) => {
                let home = login.home.trim_end_matches('/');
                if !home.starts_with('/') {
                    return Err(format!("the home of {user} is not an absolute path"));
                }
                let directory = format!("{home}/.ssh");
                (
                    placed(span, format!("{directory}/authorized_keys")),
                    Some(directory),
                )
            }
            (None, None) => {
                return Err(format!(
                    "user {user} does not exist yet: run once to create it, or set `path`"
                ));
            }
        };
        Ok(Resolved {
            path,
            directory,
            mode: placed(span, Mode(0o600)),
            owner: placed(span, Principal::Name(user.clone())),
            // A user this run makes has no gid yet: the group named like it, which `useradd`
            // makes by default, is resolved when the node runs.
            group: Some(placed(
                span,
                found.map_or_else(|| Principal::Name(user.clone()), |l| Principal::Id(l.gid)),
            )),
        })
    }

    /// The keys the task names, with its `key_options` and `comment` applied.
    fn keys(&self, key_file: Option<&[u8]>) -> Result<Vec<KeyLine>, String> {
        let text = match (&self.key, key_file) {
            (Some(key), _) => key.value.clone(),
            (None, Some(bytes)) => String::from_utf8(bytes.to_vec())
                .map_err(|_| "the key file is not UTF-8 text".to_owned())?,
            (None, None) => String::new(),
        };
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if ssh_keys::is_blank(line) {
                continue;
            }
            let mut key =
                ssh_keys::parse(line).map_err(|why| format!("key line {}: {why}", n + 1))?;
            if let Some(options) = &self.key_options {
                key.options = Some(options.value.clone());
            }
            if let Some(comment) = &self.comment {
                key.comment = Some(comment.value.clone());
            }
            keys.push(key);
        }
        Ok(keys)
    }

    /// The file the task edits, as a thing: its path, or the user's file before the home
    /// is known.
    fn file_thing(&self) -> Thing {
        match &self.path {
            Some(path) => Thing::path(&path.value),
            None => Thing::AuthorizedKeys(self.user.value.clone()),
        }
    }
}

/// The last 12 characters of a key's text.
fn tail(text: &str) -> String {
    let start = text.char_indices().rev().nth(11).map_or(0, |(i, _)| i);
    text[start..].to_owned()
}

/// A value set by the task itself, placed at its `user` (what it derives from).
fn placed<T>(span: crate::diagnostics::Span, value: T) -> Spanned<T> {
    Spanned {
        value,
        span,
        sensitive: false,
    }
}

impl Attributes for AuthorizedKeyTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        self.resolved().ok().map(|r| &r.mode)
    }
    fn owner(&self) -> Option<&Spanned<Principal>> {
        self.resolved().ok().map(|r| &r.owner)
    }
    fn group(&self) -> Option<&Spanned<Principal>> {
        self.resolved().ok().and_then(|r| r.group.as_ref())
    }
}

impl Resource for AuthorizedKeyTask {
    /// One part of the user's file per key (two tasks adding one key conflict), or the whole
    /// file with `exclusive`.
    fn claims(&self) -> Vec<Claim> {
        let claim = |hold| Claim {
            thing: self.file_thing(),
            hold,
            span: self.user.span,
            written: match &self.path {
                Some(path) => path.value.clone(),
                None => format!("~{}/.ssh/authorized_keys", self.user.value),
            },
            sensitive: false,
        };
        if self.exclusive {
            return vec![claim(Hold::Owns)];
        }
        match (&self.key, &self.key_file) {
            (Some(_), _) => match self.keys(None) {
                Ok(keys) if !keys.is_empty() => keys
                    .iter()
                    .map(|key| claim(Hold::Edits(Some(key.identity()))))
                    .collect(),
                _ => vec![claim(Hold::Edits(None))],
            },
            (None, Some(file)) => {
                vec![claim(Hold::Edits(Some(format!("key_file {}", file.value))))]
            }
            (None, None) => vec![claim(Hold::Edits(None))],
        }
    }

    /// The user's task (the file is theirs), and the directory of a `path`.
    fn requires(&self) -> Vec<Requirement> {
        let mut required = match &self.path {
            Some(path) => files::requires(&path.value, None),
            None => Vec::new(),
        };
        required.push(Requirement::exact(
            Thing::User(self.user.value.clone()),
            Reason::KeyOwner,
        ));
        required
    }

    /// `authorized_key:<user>:<comment of the first key, else the end of its body>`, or
    /// `authorized_key:<user>` for an exclusive task or a key file.
    fn default_id(&self) -> String {
        let user = &self.user.value;
        if self.exclusive {
            return format!("authorized_key:{user}");
        }
        let first_line = self
            .key
            .as_ref()
            .and_then(|key| key.value.lines().find(|l| !ssh_keys::is_blank(l)));
        match first_line {
            Some(line) => {
                let name = match ssh_keys::parse(line) {
                    Ok(KeyLine {
                        comment: Some(comment),
                        ..
                    }) => comment,
                    // The end of the body (or of a line that is no key): what tells keys apart.
                    Ok(key) => format!("{} …{}", key.key_type, tail(&key.body)),
                    Err(_) => format!("…{}", tail(line.trim())),
                };
                format!("authorized_key:{user}:{name}")
            }
            None => match &self.key_file {
                Some(file) => format!("authorized_key:{user}:{}", file.value),
                None => format!("authorized_key:{user}"),
            },
        }
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(path) = &self.path {
            absolute(path, "path", found);
        }
        let name_ok = !self.user.value.is_empty()
            && !self.user.value.starts_with('-')
            && self
                .user
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '$'));
        if !name_ok {
            found.push(
                Diagnostic::error("`user` is not a user name")
                    .at(self.user.span)
                    .help("letters, digits, `_`, `.` and `-`: `deploy`"),
            );
        }
        if let Some(options) = &self.key_options
            && let Err(why) = ssh_keys::check_options(&options.value)
        {
            found.push(Diagnostic::error(format!("`key_options`: {why}")).at(options.span));
        }
        if let Some(comment) = &self.comment
            && comment.value.contains(['\n', '\r'])
        {
            found.push(Diagnostic::error("`comment` must be one line").at(comment.span));
        }
        let keys = match (&self.key, &self.key_file) {
            (Some(key), None) => Some((key.span, self.keys(None))),
            (None, Some(file)) => {
                let read = cx.config_dir.resolve_asset(&file.value).and_then(|path| {
                    crate::fsutil::read_regular_file(&path)
                        .map_err(|e| format!("cannot read {}: {e}", file.value))
                });
                match read {
                    Ok(bytes) => Some((file.span, self.keys(Some(&bytes)))),
                    Err(why) => {
                        found.push(Diagnostic::error(why).at(file.span));
                        None
                    }
                }
            }
            (Some(key), Some(_)) => {
                found.push(
                    Diagnostic::error("`key` and `key_file` exclude each other")
                        .at(key.span)
                        .help("give the keys inline with `key`, or in a file with `key_file`"),
                );
                None
            }
            (None, None) => {
                found.push(
                    Diagnostic::error("`key` or `key_file` is required")
                        .at(self.user.span)
                        .help("`key: ssh-ed25519 AAAA… me@laptop`"),
                );
                None
            }
        };
        match keys {
            Some((span, Err(why))) => found.push(
                Diagnostic::error(format!("not an SSH public key: {why}"))
                    .at(span)
                    .help(
                        "one key per line, as `ssh-keygen` writes it: `ssh-ed25519 AAAA… comment`",
                    ),
            ),
            Some((span, Ok(keys))) if keys.is_empty() && !self.exclusive => {
                found.push(Diagnostic::error("no key in it").at(span).help(
                    "one key per line, as `ssh-keygen` writes it: `ssh-ed25519 AAAA… comment`",
                ))
            }
            _ => {}
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::authorized_keys::AUTHORIZED_KEYS
    }

    fn file_type(&self) -> Option<&dyn FileType> {
        Some(self)
    }
}

impl FileType for AuthorizedKeyTask {
    fn path(&self) -> &Spanned<String> {
        // The family plans only tasks whose path resolved.
        self.resolved().map_or(&self.user, |r| &r.path)
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, cx: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let path = &self.resolved()?.path.value;
        refuse_symlink(observed, path)?;
        refuse_non_file(observed, path)?;
        let key_file = match &self.key_file {
            Some(file) => Some(files::config_file(cx, &file.value)?),
            None => None,
        };
        let keys = self.keys(key_file.as_deref())?;
        if self.state == State::Absent && observed.state.state == EntryKind::Absent {
            return Ok(Wanted {
                state: FsState::absent(path),
                sensitive: false,
            });
        }
        let mut lines = current_lines(observed, path, true)?;
        let identity = |line: &str| ssh_keys::parse(line).ok().map(|k| k.identity());
        match (self.state, self.exclusive) {
            (State::Present, true) => {
                lines.lines = keys.iter().map(KeyLine::render).collect();
            }
            (State::Present, false) => {
                for key in &keys {
                    let at = lines
                        .lines
                        .iter()
                        .position(|l| identity(l).as_deref() == Some(&key.identity()));
                    match at {
                        Some(at) => lines.lines[at] = key.render(),
                        None => lines.lines.push(key.render()),
                    }
                }
            }
            (State::Absent, _) => {
                let gone: Vec<String> = keys.iter().map(KeyLine::identity).collect();
                lines
                    .lines
                    .retain(|l| identity(l).is_none_or(|id| !gone.contains(&id)));
            }
        }
        edited_file(path, &lines, observed, self, false)
    }
}
