//! The wait family: `wait_for`. Nothing is waited for when planning (a dry run never waits):
//! the node is `check` (it runs, and changes nothing), its `after` the [`Wait`] it does, its `before` empty (a wait observes
//! nothing in advance and has no precondition to go stale). When it runs it checks its
//! condition every `sleep` (after `delay`) until it holds (status `unchanged`: a wait changes
//! nothing) or `timeout`, counted from its start, passes (the node fails, and the nodes that depend on it are skipped).

use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
};
use super::wait_for::{WaitForTask, WaitState};
use crate::error::ResourceError;
use crate::model::values::Duration as Span;
use crate::model::{ApplySpec, ApplyTask};
use crate::printable::escape;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_SLEEP: Duration = Duration::from_secs(1);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of what a port sends first that `search_regex` is looked for in.
const MAX_BANNER: u64 = 64 << 10;
/// The most of a file `search_regex` is looked for in.
const MAX_FILE: u64 = 16 << 20;

/// What a `wait_for` node waits for, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub state: WaitState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_regex: Option<String>,
    /// Durations as written: `300s`, `1s`.
    pub timeout: String,
    pub delay: String,
    pub sleep: String,
    pub connect_timeout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

fn duration(text: &str) -> Result<Duration, String> {
    Span::parse(text)
        .map(|d| d.0)
        .ok_or_else(|| format!("`{text}` is not a duration"))
}

impl Wait {
    fn of(task: &WaitForTask) -> Wait {
        let shown = |d: &Option<crate::model::Spanned<Span>>, default: Duration| {
            Span(d.as_ref().map_or(default, |d| d.value.0)).to_string()
        };
        Wait {
            host: task.port.as_ref().map(|_| task.host().to_owned()),
            port: task.port.as_ref().map(|p| p.value),
            path: task.path.as_ref().map(|p| p.value.clone()),
            state: task.state(),
            search_regex: task.search_regex.as_ref().map(|r| r.value.clone()),
            timeout: shown(&task.timeout, DEFAULT_TIMEOUT),
            delay: shown(&task.delay, Duration::ZERO),
            sleep: shown(&task.sleep, DEFAULT_SLEEP),
            connect_timeout: shown(&task.connect_timeout, DEFAULT_CONNECT_TIMEOUT),
            msg: task.msg.as_ref().map(|m| m.value.clone()),
        }
    }

    fn decode(recorded: &Recorded, address: &str) -> Result<Wait, String> {
        let wait: Wait = recorded
            .decode("after", "a wait's")
            .map_err(|e| format!("{address}: {e}"))?;
        for text in [
            &wait.timeout,
            &wait.delay,
            &wait.sleep,
            &wait.connect_timeout,
        ] {
            duration(text).map_err(|e| format!("{address}: {e}"))?;
        }
        if wait.port.is_some() == wait.path.is_some() {
            return Err(format!("{address}: a wait is for a port or for a path"));
        }
        Ok(wait)
    }

    /// What is waited for, in words: "port 127.0.0.1:8080 to be open".
    fn target(&self) -> String {
        let present = self.state.wants_present();
        let what = match (&self.path, self.port) {
            (Some(path), _) => {
                format!("{path} to be {}", if present { "there" } else { "gone" })
            }
            (None, port) => format!(
                "port {}:{} to be {}",
                self.host.as_deref().unwrap_or_default(),
                port.unwrap_or_default(),
                if present { "open" } else { "closed" }
            ),
        };
        match &self.search_regex {
            Some(regex) => format!("{what} and to show /{regex}/"),
            None => what,
        }
    }
}

fn plan_one(task: &ApplyTask) -> Result<NodeStates, String> {
    let ApplySpec::WaitFor(wait_for) = &task.spec else {
        return Err("not a wait_for task".to_owned());
    };
    Ok(NodeStates {
        action: Action::Check,
        before: Recorded::Json(Value::Null),
        after: Recorded::Json(json!(Wait::of(wait_for))),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        fingerprint: String::new(),
        route: String::new(),
        diff: None,
        chained: false,
    })
}

/// Whether the condition holds now.
fn holds(wait: &Wait, regex: Option<&regex::Regex>, connect_timeout: Duration) -> bool {
    let present = wait.state.wants_present();
    match (&wait.path, wait.port) {
        (Some(path), _) => {
            let exists = std::fs::metadata(path).is_ok();
            match regex {
                Some(regex) if present && exists => file_shows(path, regex),
                _ => exists == present,
            }
        }
        (None, Some(port)) => {
            let host = wait.host.as_deref().unwrap_or("127.0.0.1");
            match connect(host, port, connect_timeout) {
                Some(stream) if present => {
                    regex.is_none_or(|regex| port_shows(stream, regex, connect_timeout))
                }
                Some(_) => false,
                None => !present,
            }
        }
        (None, None) => false,
    }
}

/// A connection to the first address of `host` that accepts one.
fn connect(host: &str, port: u16, timeout: Duration) -> Option<TcpStream> {
    let addresses = (host, port).to_socket_addrs().ok()?;
    addresses
        .into_iter()
        .find_map(|address| TcpStream::connect_timeout(&address, timeout).ok())
}

/// Whether what the port sends first (within `timeout`) matches.
fn port_shows(mut stream: TcpStream, regex: &regex::Regex, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while (seen.len() as u64) < MAX_BANNER {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                seen.extend_from_slice(&chunk[..n]);
                if regex.is_match(&String::from_utf8_lossy(&seen)) {
                    return true;
                }
            }
        }
    }
    false
}

fn file_shows(path: &str, regex: &regex::Regex) -> bool {
    let mut text = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|file| file.take(MAX_FILE).read_to_end(&mut text));
    read.is_ok() && regex.is_match(&String::from_utf8_lossy(&text))
}

fn run(node: &NodeView<'_>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let wait = Wait::decode(node.after, address)?;
    let regex = (wait.search_regex.as_deref())
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| format!("{address}: invalid `search_regex`: {e}"))?;
    let [timeout, delay, sleep, connect_timeout] = [
        &wait.timeout,
        &wait.delay,
        &wait.sleep,
        &wait.connect_timeout,
    ]
    .map(|t| duration(t));
    let (timeout, delay, sleep, connect_timeout) = (timeout?, delay?, sleep?, connect_timeout?);
    let started = Instant::now();
    // As Ansible counts it: `timeout` from the start, `delay` included.
    let deadline = started + timeout;
    pause(delay);
    loop {
        if holds(&wait, regex.as_ref(), connect_timeout) {
            tracing::info!(
                "{}: {} after {} ms",
                escape(address),
                escape(&wait.target()),
                started.elapsed().as_millis()
            );
            return Ok(Ran::UNCHANGED);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || crate::signals::stop_requested() {
            let why = match &wait.msg {
                Some(msg) => format!("{msg} ("),
                None => String::new(),
            };
            let close = if wait.msg.is_some() { ")" } else { "" };
            let stopped = if left.is_zero() {
                format!("waited {} for {}", wait.timeout, wait.target())
            } else {
                format!(
                    "stopped (SIGTERM or SIGINT) while waiting for {}",
                    wait.target()
                )
            };
            return Err(ResourceError::transient(format!(
                "{address}: {why}{stopped}{close}"
            )));
        }
        pause(sleep.min(left));
    }
}

/// Sleeps, waking early when the run is asked to stop.
fn pause(length: Duration) {
    let until = Instant::now() + length;
    while !crate::signals::stop_requested() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

pub struct Waits;

pub static WAITS: Waits = Waits;

impl Family for Waits {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        tasks.iter().map(|&i| (i, plan_one(&all[i]))).collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        Wait::decode(node.after, node.address)?;
        if node.action != Action::Check
            || *node.before != Recorded::Json(Value::Null)
            || !node.fingerprint.is_empty()
            || node.is_sensitive()
            || node.diff.is_some()
        {
            return Err("a wait is `check`, observes nothing and holds no secret".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let wait = match Wait::decode(node.after, node.address) {
            Ok(wait) => wait,
            Err(e) => return Description::unreadable(e),
        };
        let mut details = vec![Detail::plain(format!(
            "checks every {} for up to {}{}; changes nothing",
            wait.sleep,
            wait.timeout,
            if wait.delay == "0s" {
                String::new()
            } else {
                format!(", after {}", wait.delay)
            }
        ))];
        if let Some(msg) = &wait.msg {
            details.push(Detail::plain(format!("on timeout: {}", escape(msg))));
        }
        Description {
            what: escape(&format!("wait for {}", wait.target())).into_owned(),
            details,
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, _: &NodeView<'_>) -> Option<String> {
        None
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        run(node)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}
