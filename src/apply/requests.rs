//! The request family: `uri`. A node's `after` is the [`Request`] it sends (header values,
//! body and password read from a secret as `(sensitive)`, with a mask); its `before` is what
//! was seen when planning ([`Seen`]): the `creates`/`removes` guards, and for a `GET` or
//! `HEAD` the answer — status, and the SHA-256 and length of the body.
//!
//! Actions: a request a guard skips is `no-op`; a `GET`/`HEAD` that answered an expected
//! status is `no-op` (it was observed, and nothing changes), unless its result is registered
//! (then it is `check`: sent again when the node runs, for a `when` to read) or the answer was
//! not the one expected (`check` too: sent again when the node runs, failing it if still
//! wrong — a service an earlier node starts may not be up when planning); any other method
//! is `run`.
//! The guards are the node's precondition (a stale plan when one sees something else); an
//! answer is not (a server's answers change on their own).

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::commands::guards::{self, Guard, Guards, Kind};
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    SENSITIVE,
};
use super::uri::UriTask;
use crate::error::{ResourceError, Retry};
use crate::http_client::ClientOptions;
use crate::model::{ApplySpec, ApplyTask};
use crate::printable::escape;

/// How long a request may take when the task gives no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a body read: `content`, `json` and the digest in the plan.
pub const MAX_CONTENT: u64 = 1 << 20;
/// The most of an unexpected answer's body a failure quotes.
const QUOTED_BYTES: usize = 200;
/// Redirects a `GET` or `HEAD` follows; other methods take a redirect as their answer.
const MAX_REDIRECTS: u32 = 10;

/// What a `uri` node sends, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    pub url: String,
    /// The headers sent, `Content-Type` from `body_format` included.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body as sent (encoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub status_code: Vec<u16>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_content: bool,
    /// As a duration is written: `30s`.
    pub timeout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_username: Option<String>,
    /// Always `(sensitive)` in the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_path: Option<String>,
    /// A `GET`/`HEAD` whose result is registered: sent again when the node runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registered: bool,
}

/// What planning saw, as plan.json records it in `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    #[serde(flatten)]
    pub guards: Guards,
    /// The answer to a `GET`/`HEAD` (none when a guard skips it, or for other methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

/// A `GET`/`HEAD`'s answer when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The status, or none when no answer came (`error` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Of the body, when it is at most 1 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    /// Bytes of the body read (at most 1 MiB and one).
    #[serde(default)]
    pub content_length: u64,
    /// The status is one `status_code` expects.
    pub expected: bool,
}

impl Request {
    fn decode(recorded: &Recorded, address: &str) -> Result<Request, String> {
        recorded
            .decode("after", "a request's")
            .map_err(|e| format!("{address}: {e}"))
    }

    /// Sent when planning: it changes nothing.
    fn is_safe(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD")
    }

    fn timeout(&self) -> Result<Duration, String> {
        crate::model::values::Duration::parse(&self.timeout)
            .map(|d| d.0)
            .ok_or_else(|| format!("`{}` is not a duration", self.timeout))
    }

    /// The request as plan.json shows it (values from a secret hidden), and its mask.
    fn redacted(&self, secret: &Secrets) -> (Request, Value) {
        let mut shown = self.clone();
        let mut mask = serde_json::Map::new();
        let hidden: serde_json::Map<String, Value> = secret
            .headers
            .iter()
            .map(|name| {
                shown.headers.insert(name.clone(), SENSITIVE.to_owned());
                (name.clone(), Value::Bool(true))
            })
            .collect();
        if !hidden.is_empty() {
            mask.insert("headers".to_owned(), Value::Object(hidden));
        }
        if secret.body && shown.body.is_some() {
            shown.body = Some(SENSITIVE.to_owned());
            mask.insert("body".to_owned(), Value::Bool(true));
        }
        if shown.url_password.is_some() {
            shown.url_password = Some(SENSITIVE.to_owned());
            mask.insert("url_password".to_owned(), Value::Bool(true));
        }
        let mask = if mask.is_empty() {
            Value::Bool(false)
        } else {
            Value::Object(mask)
        };
        (shown, mask)
    }
}

/// The mask of a request as plan.json shows it: `true` wherever it says `(sensitive)`.
fn mask_of(shown: &Request) -> Value {
    let secrets = Secrets {
        headers: (shown.headers.iter())
            .filter(|(_, v)| *v == SENSITIVE)
            .map(|(k, _)| k.clone())
            .collect(),
        body: shown.body.as_deref() == Some(SENSITIVE),
    };
    shown.redacted(&secrets).1
}

/// Which values of a request came from a secret.
struct Secrets {
    headers: Vec<String>,
    body: bool,
}

fn uri(task: &ApplyTask) -> Result<&UriTask, String> {
    match &task.spec {
        ApplySpec::Uri(t) => Ok(t),
        _ => Err("not a uri task".to_owned()),
    }
}

/// The request a task sends, with every value as rendered (secrets included).
fn wanted(task: &ApplyTask) -> Result<(Request, Secrets), String> {
    let uri = uri(task)?;
    let mut headers: BTreeMap<String, String> = (uri.headers.iter())
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let body = uri.encoded_body()?.map(|(body, content_type)| {
        let typed = headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        if let (Some(content_type), false) = (content_type, typed) {
            headers.insert("Content-Type".to_owned(), content_type.to_owned());
        }
        body
    });
    let method = uri.method();
    let request = Request {
        registered: task.meta.register.is_some() && matches!(method.as_str(), "GET" | "HEAD"),
        method,
        url: uri.url.value.clone(),
        headers,
        body,
        status_code: uri.expected(),
        return_content: uri.return_content,
        timeout: crate::model::values::Duration(
            uri.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.value.0),
        )
        .to_string(),
        url_username: uri.url_username.as_ref().map(|u| u.value.clone()),
        url_password: uri.url_password.as_ref().map(|p| p.value.clone()),
        ca_path: uri.ca_path.as_ref().map(|c| c.value.clone()),
    };
    let secrets = Secrets {
        headers: (uri.headers.iter())
            .filter(|(_, v)| v.sensitive)
            .map(|(k, _)| k.clone())
            .collect(),
        body: uri.body.as_ref().is_some_and(|b| b.sensitive),
    };
    Ok((request, secrets))
}

fn guards_of(task: &UriTask) -> Vec<Guard> {
    [
        (Kind::Creates, &task.creates),
        (Kind::Removes, &task.removes),
    ]
    .into_iter()
    .filter_map(|(kind, path)| {
        Some(Guard {
            kind,
            subject: path.as_ref()?.value.clone(),
            argv: Vec::new(),
        })
    })
    .collect()
}

/// The action from what planning saw and what the request is.
fn action_of(seen: &Seen, request: &Request) -> Action {
    if seen.guards.skipping().is_some() {
        return Action::NoOp;
    }
    match &seen.answer {
        Some(answer) if request.is_safe() && answer.expected && !request.registered => Action::NoOp,
        // Sent again when the node runs; it changes nothing.
        Some(_) if request.is_safe() => Action::Check,
        _ => Action::Run,
    }
}

/// The guards are the precondition: their outcome is the fingerprint.
fn fingerprint(seen: &Seen) -> String {
    super::fs_state::sha256_hex(&serde_json::to_vec(&seen.guards).unwrap_or_default())
}

fn plan_one(task: &ApplyTask, cx: &PlanContext<'_>) -> Result<NodeStates, String> {
    let (request, secrets) = wanted(task)?;
    let guards = guards::plan(guards_of(uri(task)?), None, cx.managed)?;
    let answer = (guards.skipping().is_none() && request.is_safe()).then(|| observe(&request));
    let seen = Seen { guards, answer };
    let (after, after_sensitive) = request.redacted(&secrets);
    Ok(NodeStates {
        action: action_of(&seen, &request),
        fingerprint: fingerprint(&seen),
        before: Recorded::Json(json!(seen)),
        after: Recorded::Json(json!(after)),
        before_sensitive: Value::Bool(false),
        after_sensitive,
        route: String::new(),
        diff: None,
        chained: false,
    })
}

/// A `GET`/`HEAD` sent when planning: its status and body digest, or why no answer came.
fn observe(request: &Request) -> Answer {
    let failed = |error: String| Answer {
        status: None,
        error: Some(error),
        content_sha256: None,
        content_length: 0,
        expected: false,
    };
    let mut response = match send(request) {
        Ok(response) => response,
        Err(e) => return failed(e.message),
    };
    let status = response.status().as_u16();
    let body = match read_body(&mut response, &request.url) {
        Ok(body) => body,
        Err(e) => return failed(e.message),
    };
    Answer {
        status: Some(status),
        error: None,
        content_sha256: (body.len() as u64 <= MAX_CONTENT)
            .then(|| super::fs_state::sha256_hex(&body)),
        content_length: body.len() as u64,
        expected: request.status_code.contains(&status),
    }
}

/// Sends the request; any status is an answer.
fn send(request: &Request) -> Result<ureq::http::Response<ureq::Body>, ResourceError> {
    let timeout = request.timeout()?;
    let agent = crate::http_client::agent(&ClientOptions {
        ca_file: request.ca_path.as_deref(),
        timeout,
        max_redirects: if request.is_safe() { MAX_REDIRECTS } else { 0 },
        status_as_error: false,
    })?;
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(user) = &request.url_username {
        use base64::Engine;
        let pair = format!("{user}:{}", request.url_password.as_deref().unwrap_or(""));
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        builder = builder.header("Authorization", format!("Basic {encoded}"));
    }
    // Never the builder's error: it may quote a header value.
    let malformed = |_| {
        ResourceError::permanent(format!(
            "cannot make a {} request to {}: a header name or value is not valid HTTP",
            request.method, request.url
        ))
    };
    let sent = match &request.body {
        Some(body) => agent.run(builder.body(body.clone()).map_err(malformed)?),
        None => agent.run(builder.body(()).map_err(malformed)?),
    };
    sent.map_err(|e| failure(request, timeout, e))
}

/// At most [`MAX_CONTENT`] bytes and one of the body: one more tells it is longer.
fn read_body(
    response: &mut ureq::http::Response<ureq::Body>,
    url: &str,
) -> Result<Vec<u8>, ResourceError> {
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_CONTENT + 1)
        .read_to_end(&mut body)
        .map_err(|e| ResourceError::io(format_args!("cannot read the answer of {url}"), &e))?;
    Ok(body)
}

/// A request that got no answer, with whether a retry can help.
fn failure(request: &Request, timeout: Duration, error: ureq::Error) -> ResourceError {
    use ureq::Error as E;
    let what = format!("{} {}", request.method, request.url);
    let (message, retry) = match error {
        E::Timeout(_) => (
            format!(
                "{what}: no answer within {} (`timeout`)",
                crate::model::values::Duration(timeout)
            ),
            Retry::Transient,
        ),
        E::HostNotFound => (
            format!("{what}: the host name does not resolve"),
            Retry::Transient,
        ),
        E::ConnectionFailed => (format!("{what}: the connection failed"), Retry::Transient),
        E::Io(e) => {
            let retry = crate::error::retry_of(&e);
            (format!("{what}: {e}"), retry)
        }
        E::TooManyRedirects => (
            format!("{what}: more than {MAX_REDIRECTS} redirects"),
            Retry::Permanent,
        ),
        other => (format!("{what}: {other}"), Retry::Permanent),
    };
    match retry {
        Retry::Transient => ResourceError::transient(message),
        Retry::Permanent => ResourceError::permanent(message),
    }
}

fn decode_seen(node: &NodeView<'_>) -> Result<Seen, String> {
    node.before
        .decode("before", "a request's")
        .map_err(|e| format!("{}: {e}", node.address))
}

/// A sensitive node's request, from the config compiled again (the plan holds
/// `(sensitive)`); the rest must be what the plan says.
fn resolve_sensitive(
    node: &NodeView<'_>,
    planned: &Request,
    config: Option<&Recompiled<'_>>,
) -> Result<Request, String> {
    let address = node.address;
    let source = config.ok_or_else(|| {
        format!("{address}: has sensitive values, but no config to render them from")
    })?;
    let task = source
        .tasks
        .get(address)
        .ok_or_else(|| format!("{address}: no longer in the config; make a new plan"))?;
    let (request, secrets) = wanted(task).map_err(|e| format!("{address}: {e}"))?;
    if request.redacted(&secrets).0 != *planned {
        return Err(format!(
            "{address}: the config renders differently than when the plan was made; make a new plan"
        ));
    }
    Ok(request)
}

/// The fields a registered result gets: `status`, `url` (after redirects), `msg`, and
/// `content` (with `return_content`) and `json` (a JSON answer).
fn registered(
    request: &Request,
    status: u16,
    url: String,
    content_type: Option<String>,
    body: &[u8],
) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("status".to_owned(), json!(status));
    fields.insert("url".to_owned(), json!(url));
    fields.insert(
        "msg".to_owned(),
        json!(format!("HTTP {status} ({} bytes)", body.len())),
    );
    if request.return_content {
        fields.insert("content".to_owned(), json!(String::from_utf8_lossy(body)));
    }
    if content_type.is_some_and(|t| t.contains("json"))
        && let Ok(parsed) = serde_json::from_slice::<Value>(body)
    {
        fields.insert("json".to_owned(), parsed);
    }
    fields
}

fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let planned = Request::decode(node.after, address)?;
    let sensitive = node.is_sensitive();
    let request = if sensitive {
        resolve_sensitive(node, &planned, config)?
    } else {
        planned
    };
    let seen = decode_seen(node)?;
    if let Some(why) =
        guards::deferred_skip(&seen.guards, None).map_err(|e| format!("{address}: {e}"))?
    {
        tracing::info!("{address}: skipped: {why}");
        return Ok(Ran::UNCHANGED);
    }
    let prefixed = |e: ResourceError| ResourceError {
        message: format!("{address}: {}", e.message),
        ..e
    };
    let mut response = send(&request).map_err(prefixed)?;
    let status = response.status().as_u16();
    let final_url = ureq::ResponseExt::get_uri(&response).to_string();
    let content_type = (response.headers().get("content-type"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_body(&mut response, &request.url).map_err(prefixed)?;
    if !request.status_code.contains(&status) {
        let said = if sensitive {
            SENSITIVE.to_owned()
        } else {
            let cut = body.len().min(QUOTED_BYTES);
            let text = String::from_utf8_lossy(&body[..cut]);
            format!("{:?}", escape(&text))
        };
        let retry = status >= 500 || status == 408 || status == 429;
        let message = format!(
            "{address}: {} {} answered HTTP {status}, expected {}; the body begins {said}",
            request.method,
            request.url,
            listed(&request.status_code)
        );
        return Err(if retry {
            ResourceError::transient(message)
        } else {
            ResourceError::permanent(message)
        });
    }
    if request.return_content && body.len() as u64 > MAX_CONTENT {
        return Err(ResourceError::permanent(format!(
            "{address}: the answer of {} is larger than {MAX_CONTENT} bytes, the most `return_content` keeps",
            request.url
        )));
    }
    Ok(Ran {
        // A GET or HEAD changes nothing; any other method was sent to change something.
        changed: !request.is_safe(),
        output: None,
        registered: Some(registered(&request, status, final_url, content_type, &body)),
        message: None,
    })
}

fn listed(codes: &[u16]) -> String {
    let shown: Vec<String> = codes.iter().map(u16::to_string).collect();
    shown.join(" or ")
}

pub struct Requests;

pub static REQUESTS: Requests = Requests;

impl Family for Requests {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        use rayon::prelude::*;
        tasks
            .par_iter()
            .map(|&i| (i, plan_one(&all[i], cx)))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let request = Request::decode(node.after, node.address)?;
        let seen = decode_seen(node)?;
        request.timeout()?;
        let wanted = action_of(&seen, &request);
        if node.action != wanted {
            return Err(format!(
                "its action is `{}`, but what the plan saw makes it `{}`",
                node.action.as_str(),
                wanted.as_str()
            ));
        }
        if node.fingerprint != fingerprint(&seen) {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.after_sensitive != mask_of(&request)
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("its sensitivity masks do not match its `after`".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (request, seen) = match (Request::decode(node.after, node.address), decode_seen(node)) {
            (Ok(request), Ok(seen)) => (request, seen),
            (Err(e), _) | (_, Err(e)) => return Description::unreadable(e),
        };
        let mut details = Vec::new();
        if let Some(skip) = seen.guards.skipping() {
            details.push(Detail::plain(format!("skipped: {}", skip.explained())));
        }
        if let Some(answer) = &seen.answer {
            let status = match (answer.status, &answer.error) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(error)) => format!("no answer ({error})"),
                (None, None) => "no answer".to_owned(),
            };
            let body = match &answer.content_sha256 {
                Some(sha) => format!("{} bytes, sha256 {sha}", answer.content_length),
                None => format!("more than {MAX_CONTENT} bytes"),
            };
            let verdict = if answer.expected {
                "as expected".to_owned()
            } else {
                format!(
                    "expected {}: sent again when the node runs, and fails it if still not",
                    listed(&request.status_code)
                )
            };
            details.push(Detail {
                text: format!("answered when planning: {status}, {body}; {verdict}"),
                warning: !answer.expected,
            });
            if request.registered && answer.expected {
                details.push(Detail::plain(
                    "registered: sent again when the node runs".to_owned(),
                ));
            }
        } else if seen.guards.skipping().is_none() {
            details.push(Detail::plain(format!(
                "expects {}",
                listed(&request.status_code)
            )));
        }
        for (name, value) in &request.headers {
            details.push(Detail::plain(format!("header {name}: {value}")));
        }
        if let Some(body) = &request.body {
            let shown = if body == SENSITIVE {
                SENSITIVE.to_owned()
            } else {
                format!("{} bytes", body.len())
            };
            details.push(Detail::plain(format!("body: {shown}")));
        }
        if let Some(user) = &request.url_username {
            details.push(Detail::plain(format!("basic auth as {user}")));
        }
        for detail in &mut details {
            detail.text = escape(&detail.text).into_owned();
        }
        let diff_lines = match &request.body {
            Some(body) if body != SENSITIVE => body.lines().map(|l| format!(" {l}")).collect(),
            _ => Vec::new(),
        };
        Description {
            what: escape(&format!("{} {}", request.method, request.url)).into_owned(),
            details,
            diff_lines,
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        true
    }

    fn shows_no_op(&self) -> bool {
        true
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let checked = decode_seen(node).and_then(|seen| guards::changed(&seen.guards, None));
        match checked {
            Ok(None) => None,
            Ok(Some(change)) => Some(format!("{}: {change}", node.address)),
            Err(e) => Some(format!("{}: {e}", node.address)),
        }
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        run(node, config)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}
