//! HTTP(S) GETs for `get_url` and the checksum files it reads, with the client of
//! [`crate::http_client`]: redirects followed up to [`MAX_REDIRECTS`], one deadline for the whole transfer, the
//! body bounded. Every error says whether a retry can help; none quotes a header value.

use std::io::{self, Read};
use std::time::Duration;

use crate::error::{ResourceError, Retry};
use crate::http_client::ClientOptions;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 10;

/// One GET.
pub struct Get<'a> {
    pub url: &'a str,
    /// Names and values; values may be secrets and are never put in a message.
    pub headers: &'a [(String, String)],
    /// For the whole transfer: connecting, the response and the body.
    pub timeout: Duration,
    /// A PEM file of the CAs to trust instead of the host's.
    pub ca_file: Option<&'a str>,
}

/// The response body of a GET that succeeded (2xx after redirects), as a reader.
pub fn get(request: &Get<'_>) -> Result<impl Read + use<>, ResourceError> {
    let agent = crate::http_client::agent(&ClientOptions {
        ca_file: request.ca_file,
        timeout: request.timeout,
        max_redirects: MAX_REDIRECTS,
        status_as_error: true,
    })?;
    let mut call = agent.get(request.url);
    for (name, value) in request.headers {
        call = call.header(name.as_str(), value.as_str());
    }
    let response = call
        .call()
        .map_err(|e| failure(request.url, request.timeout, e))?;
    Ok(response.into_body().into_with_config().reader())
}

/// Reads the whole body into memory, at most `limit` bytes (a checksum file).
pub fn get_small(request: &Get<'_>, limit: u64) -> Result<Vec<u8>, ResourceError> {
    let mut body = Vec::new();
    get(request)?
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| read_failure(request.url, request.timeout, e))?;
    if body.len() as u64 > limit {
        return Err(ResourceError::permanent(format!(
            "{} is larger than {limit} bytes",
            request.url
        )));
    }
    Ok(body)
}

/// A failure while reading a body, classified like the request's.
pub fn read_failure(url: &str, timeout: Duration, error: io::Error) -> ResourceError {
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>())
        .map(|e| format!("{e}"));
    match error.kind() {
        io::ErrorKind::TimedOut => timed_out(url, timeout),
        _ => {
            let retry = crate::error::retry_of(&error);
            let what = inner.unwrap_or_else(|| error.to_string());
            with_advice(format!("cannot download {url}: {what}"), retry)
        }
    }
}

fn timed_out(url: &str, timeout: Duration) -> ResourceError {
    with_advice(
        format!(
            "{url} did not answer in full within {} (`timeout`)",
            crate::model::values::Duration(timeout)
        ),
        Retry::Transient,
    )
}

/// The message with what a retry can do.
fn with_advice(message: String, retry: Retry) -> ResourceError {
    match retry {
        Retry::Transient => ResourceError::transient(format!("{message}; a retry may succeed")),
        Retry::Permanent => ResourceError::permanent(format!(
            "{message}; a retry will not help until that changes"
        )),
    }
}

/// A request that failed, with whether a retry can help: timeouts, connections refused or
/// cut, a name that does not resolve and the server errors (5xx, 408, 429) may pass; a
/// 404, a certificate that does not verify or too many redirects do not.
pub fn failure(url: &str, timeout: Duration, error: ureq::Error) -> ResourceError {
    use ureq::Error as E;
    match error {
        E::StatusCode(code) => {
            let retry = if code >= 500 || code == 408 || code == 429 {
                Retry::Transient
            } else {
                Retry::Permanent
            };
            with_advice(format!("{url} answered HTTP {code}"), retry)
        }
        E::Timeout(_) => timed_out(url, timeout),
        E::HostNotFound => with_advice(
            format!("cannot download {url}: its host name does not resolve"),
            Retry::Transient,
        ),
        E::ConnectionFailed => with_advice(
            format!("cannot download {url}: the connection failed"),
            Retry::Transient,
        ),
        E::Io(e) => {
            if e.kind() == io::ErrorKind::TimedOut {
                return timed_out(url, timeout);
            }
            let retry = crate::error::retry_of(&e);
            with_advice(format!("cannot download {url}: {e}"), retry)
        }
        E::TooManyRedirects => with_advice(
            format!("{url}: more than {MAX_REDIRECTS} redirects"),
            Retry::Permanent,
        ),
        other => with_advice(format!("cannot download {url}: {other}"), Retry::Permanent),
    }
}
