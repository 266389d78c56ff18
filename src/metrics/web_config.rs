//! node_exporter's `web-config.yml` (Prometheus exporter-toolkit's format), read with its
//! meaning: `tls_server_config`, `http_server_config`, `basic_auth_users` and `rate_limit`.
//!
//! An existing file keeps working; what driftless cannot do exactly as exporter-toolkit does
//! (TLS 1.0/1.1, a cipher suite or curve rustls does not implement, HTTP/2, client SAN
//! checks) is refused with an error at the field, never silently weakened. Errors name the
//! file, line and column; a field that may hold a secret (a password in `basic_auth_users`,
//! an inline `key`) is named by its place only, so its value is never printed. The file is
//! read by [`crate::check::web_config`] (the config front end's YAML reader and typed
//! deserializer); this module holds its types and the checks on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::rate_limit::Rate;
use super::tls::{self, TlsOptions};
use crate::config::{Key, Node};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::model::Spanned;
use crate::model::values::Duration as ConfigDuration;

/// The file as written (exporter-toolkit's `Config`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebConfigFile {
    tls_server_config: Option<TlsServerConfig>,
    http_server_config: Option<HttpServerConfig>,
    /// User name to bcrypt hash; values are checked through the raw nodes (see
    /// [`check_users`]) so that a plaintext password is never quoted.
    basic_auth_users: Option<BTreeMap<String, Spanned<String>>>,
    rate_limit: Option<RateLimitConfig>,
}

/// exporter-toolkit's `TLSConfig`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsServerConfig {
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    /// The certificate chain inline (PEM).
    pub cert: Option<Spanned<String>>,
    /// The private key inline (PEM): a secret.
    pub key: Option<Spanned<String>>,
    pub client_auth_type: Option<Spanned<String>>,
    pub client_ca_file: Option<Spanned<String>>,
    /// The client CAs inline (PEM).
    pub client_ca: Option<Spanned<String>>,
    pub cipher_suites: Option<Vec<Spanned<String>>>,
    pub curve_preferences: Option<Vec<Spanned<String>>>,
    pub min_version: Option<Spanned<String>>,
    pub max_version: Option<Spanned<String>>,
    pub prefer_server_cipher_suites: Option<bool>,
    pub client_allowed_sans: Option<Spanned<Vec<String>>>,
}

/// exporter-toolkit's `HTTPConfig`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpServerConfig {
    http2: Option<Spanned<bool>>,
    headers: Option<BTreeMap<String, Spanned<String>>>,
}

/// exporter-toolkit's `RateLimiterConfig`: a token bucket shared by every request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitConfig {
    #[serde(default)]
    burst: u32,
    interval: Option<Spanned<String>>,
}

/// What the server does with a web config.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// TLS on every connection (plain HTTP is refused).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic auth: user to bcrypt hash. Empty: no auth.
    pub users: BTreeMap<String, String>,
    /// Headers added to every answer (exporter-toolkit's allowed set).
    pub headers: Vec<(String, String)>,
    /// exporter-toolkit's `rate_limit`: one bucket for all requests (`429` when empty).
    pub rate_limit: Option<Rate>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// A web config file that cannot be used: its findings, and the file to show them in.
pub struct WebConfigError {
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

/// The headers exporter-toolkit lets a web config set, with the values allowed (`None`: any).
const EXTRA_HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

impl WebConfig {
    /// Whether requests must carry basic auth.
    pub fn wants_auth(&self) -> bool {
        !self.users.is_empty()
    }
}

/// The typed file checked: what exporter-toolkit would refuse or driftless cannot honour is
/// in `found`. `root` is the file's node tree (for the places of keys); `base` its directory;
/// `place` says where a span is (`path:line:col`), for diagnostics about a field that may hold
/// a secret: those have no span, so that the renderer does not show the line that holds it.
pub(crate) fn check_written(
    root: &Node,
    written: &WebConfigFile,
    base: &Path,
    place: &dyn Fn(Span) -> String,
    found: &mut Vec<Diagnostic>,
) -> Option<WebConfig> {
    let before = found.len();
    let users = check_users(root, written.basic_auth_users.as_ref(), place, found);
    let headers = written
        .http_server_config
        .as_ref()
        .map(|http| check_http(http, found))
        .unwrap_or_default();
    let rate_limit = written
        .rate_limit
        .as_ref()
        .and_then(|r| check_rate_limit(r, found));
    let tls = match &written.tls_server_config {
        Some(config) if tls_enabled(config) => {
            let key_place = root
                .get("tls_server_config")
                .and_then(|t| t.key("key"))
                .map(|k: &Key| place(k.span));
            tls::server_config(&TlsOptions {
                config,
                base,
                key_place,
            })
            .map_err(|errors| found.extend(errors))
            .ok()
        }
        _ => None,
    };
    (found.len() == before).then_some(WebConfig {
        tls,
        users,
        headers,
        rate_limit,
    })
}

/// exporter-toolkit's `IsEnabled`: TLS is on when any of these is set; a `tls_server_config`
/// with only versions or suites leaves it off.
fn tls_enabled(c: &TlsServerConfig) -> bool {
    c.cert_file.is_some()
        || c.cert.is_some()
        || c.key_file.is_some()
        || c.key.is_some()
        || c.client_ca_file.is_some()
        || c.client_ca.is_some()
        || c.client_auth_type.is_some()
}

/// Every user's value must be a bcrypt hash (as exporter-toolkit's `validateUsers`); a
/// plaintext password is refused, pointed at by its user name.
fn check_users(
    root: &Node,
    users: Option<&BTreeMap<String, Spanned<String>>>,
    place: &dyn Fn(Span) -> String,
    found: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let Some(users) = users else {
        return BTreeMap::new();
    };
    let keys = root.get("basic_auth_users").and_then(Node::as_map);
    let mut checked = BTreeMap::new();
    for (user, hash) in users {
        let at = keys
            .and_then(|keys| keys.iter().find(|(k, _)| &k.name == user))
            .map_or(hash.span, |(k, _)| k.span);
        if hash.value.parse::<bcrypt::HashParts>().is_err() {
            found.push(
                Diagnostic::error(format!(
                    "{}: `basic_auth_users.{user}` is not a bcrypt hash (its value is not shown)",
                    place(at)
                ))
                .help(
                    "write the hash, not the password: e.g. `htpasswd -nBC 10 \"\" | tr -d ':\\n'` \
                     prints one (it starts with $2y$, $2b$ or $2a$)",
                ),
            );
            continue;
        }
        checked.insert(user.clone(), hash.value.clone());
    }
    checked
}

/// `http2` (driftless serves HTTP/1.1 only) and `headers` (exporter-toolkit's allowed set).
fn check_http(http: &HttpServerConfig, found: &mut Vec<Diagnostic>) -> Vec<(String, String)> {
    if let Some(http2) = &http.http2
        && http2.value
    {
        found.push(
            Diagnostic::error("`http_server_config.http2: true` cannot be honoured")
                .at(http2.span)
                .help(
                    "driftless serves HTTP/1.1 only (Prometheus scrapes with HTTP/1.1 by default); \
                     write `http2: false` or leave it out",
                ),
        );
    }
    let mut headers = Vec::new();
    for (name, value) in http.headers.iter().flatten() {
        let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| n == name) else {
            found.push(
                Diagnostic::error(format!("HTTP header {name:?} can not be configured"))
                    .at(value.span)
                    .help(format!(
                        "the headers a web config may set: {}",
                        EXTRA_HEADERS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            continue;
        };
        if let Some(allowed) = allowed
            && !allowed.contains(&value.value.as_str())
        {
            found.push(
                Diagnostic::error(format!(
                    "invalid value for {name}. Expected one of: {allowed:?}, but got: {:?}",
                    value.value
                ))
                .at(value.span),
            );
            continue;
        }
        if value.value.bytes().any(|b| b.is_ascii_control()) {
            found.push(
                Diagnostic::error(format!(
                    "the value of header {name} has a control character"
                ))
                .at(value.span),
            );
            continue;
        }
        headers.push((name.clone(), value.value.clone()));
    }
    headers
}

/// exporter-toolkit: no limiter unless `interval` is set and not zero.
fn check_rate_limit(r: &RateLimitConfig, found: &mut Vec<Diagnostic>) -> Option<Rate> {
    let interval = r.interval.as_ref()?;
    let Some(parsed) = go_duration(&interval.value) else {
        found.push(
            Diagnostic::error(format!(
                "`rate_limit.interval` is not a duration: {:?}",
                interval.value
            ))
            .at(interval.span)
            .help("write e.g. \"1s\", \"100ms\" or \"1m30s\""),
        );
        return None;
    };
    (!parsed.is_zero()).then_some(Rate {
        burst: r.burst,
        interval: parsed,
    })
}

/// A Go `time.Duration` as YAML holds it: "1s", "250ms", "1m30s", or "0".
fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    ConfigDuration::parse(text).map(|d| d.0)
}

/// A path of the web config, relative to its directory.
pub(super) fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}
