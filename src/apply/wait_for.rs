//! `wait_for`: waits, when the node runs, until a TCP port is open or closed, a file is there
//! or gone, or a regex appears in a file or in what a port first sends — or fails the node
//! after `timeout`. Planned and run by the wait family ([`super::waits`]); other tasks wait
//! on it by naming it in `depends_on`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Requirement, Resource};
use super::field_rules::{absolute, regex};
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// A condition waited for when the node runs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForTask {
    /// The host whose `port` is waited for (default `127.0.0.1`).
    pub host: Option<Spanned<String>>,
    /// A TCP port, 1 to 65535.
    pub port: Option<Spanned<u16>>,
    /// Instead of a port: an absolute path waited for.
    pub path: Option<Spanned<String>>,
    /// `started`/`present` (default): the port accepts connections, the file exists;
    /// `stopped`/`absent`: the port refuses them, the file is gone.
    pub state: Option<Spanned<WaitState>>,
    /// With `started`/`present`: a regex that must appear in the file, or in what the port
    /// sends first (up to 64 KiB, read within `connect_timeout`).
    pub search_regex: Option<Spanned<String>>,
    /// How long to wait, from the start (`delay` included), before failing the node
    /// (default 300s).
    pub timeout: Option<Spanned<Duration>>,
    /// How long to wait before the first check (default 0s).
    pub delay: Option<Spanned<Duration>>,
    /// How long to wait between checks (default 1s).
    pub sleep: Option<Spanned<Duration>>,
    /// How long one connection attempt may take (default 5s).
    pub connect_timeout: Option<Spanned<Duration>>,
    /// The message of the failure when the timeout passes.
    pub msg: Option<Spanned<String>>,
}

/// What is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitState {
    Started,
    Present,
    Stopped,
    Absent,
}

impl WaitState {
    /// The port open / the file there.
    pub fn wants_present(self) -> bool {
        matches!(self, WaitState::Started | WaitState::Present)
    }
}

impl WaitForTask {
    pub fn state(&self) -> WaitState {
        self.state.as_ref().map_or(WaitState::Started, |s| s.value)
    }

    pub fn host(&self) -> &str {
        self.host.as_ref().map_or("127.0.0.1", |h| h.value.as_str())
    }
}

impl Resource for WaitForTask {
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        match (&self.path, &self.port) {
            (Some(path), _) => format!("wait_for:{}", path.value),
            (None, Some(port)) => format!("wait_for:{}:{}", self.host(), port.value),
            (None, None) => "wait_for:".to_owned(),
        }
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        match (&self.path, &self.port) {
            (Some(path), Some(port)) => {
                absolute(path, "path", found);
                found.push(
                    Diagnostic::error("`path` and `port` cannot both be set")
                        .at(port.span)
                        .help("wait for one thing per task; chain them with `depends_on`"),
                );
            }
            (Some(path), None) => absolute(path, "path", found),
            (None, Some(port)) if port.value == 0 => found.push(
                Diagnostic::error("port 0 is not a port to wait for")
                    .at(port.span)
                    .help("a TCP port is 1 to 65535"),
            ),
            (None, Some(_)) => {}
            (None, None) => found.push(
                Diagnostic::error("`wait_for` needs `port` or `path`")
                    .at(cx.task)
                    .help("e.g. `port: 8080` or `path: /run/app.ready`"),
            ),
        }
        if let Some(host) = &self.host {
            let valid = !host.value.is_empty()
                && !host.value.starts_with('-')
                && !host
                    .value
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/');
            if !valid || self.port.is_none() {
                let why = if valid {
                    "`host` is for a `port`"
                } else {
                    "`host` is not a host name or address"
                };
                found.push(
                    Diagnostic::error(why)
                        .at(host.span)
                        .help("e.g. `host: 127.0.0.1`"),
                );
            }
        }
        regex(self.search_regex.as_ref(), found);
        if let (Some(pattern), Some(state)) = (&self.search_regex, &self.state)
            && !state.value.wants_present()
        {
            found.push(
                Diagnostic::error("`search_regex` is looked for in something there: a `stopped`/`absent` wait has none")
                    .at(pattern.span)
                    .help("use `state: started` (a port) or `state: present` (a file)"),
            );
        }
        for (field, duration) in [
            ("timeout", &self.timeout),
            ("sleep", &self.sleep),
            ("connect_timeout", &self.connect_timeout),
        ] {
            if let Some(d) = duration
                && d.value.0.is_zero()
            {
                found.push(
                    Diagnostic::error(format!("`{field}` must be longer than 0s"))
                        .at(d.span)
                        .help("e.g. `30s`"),
                );
            }
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::waits::WAITS
    }
}
