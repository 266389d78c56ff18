//! What the http and s3 sinks share: their client, reading their credentials, turning a failed
//! request or a refusing answer into a [`SendError`] that says whether a retry may help (and
//! when the receiver asked to be tried again), and keeping every credential out of messages.

use std::io::Read;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

use super::{BuildContext, SendError};
use crate::error::{ResourceError, Retry};
use crate::http_client::ClientOptions;

/// The most of a refusal's body quoted in a message.
const SNIPPET_CHARS: usize = 300;

/// A sink's client: no redirects (a POST is not replayed elsewhere), refusals readable.
pub fn client(ca_file: Option<&str>, timeout: Duration) -> Result<ureq::Agent, ResourceError> {
    crate::http_client::agent(&ClientOptions {
        ca_file,
        timeout,
        max_redirects: 0,
        status_as_error: false,
    })
}

/// The value of the secret `name` (the sink's `field`), which must be set.
pub fn read_secret(
    cx: &BuildContext<'_>,
    name: &str,
    field: &str,
) -> Result<SecretString, ResourceError> {
    match cx.secrets.get(name) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(ResourceError::permanent(format!(
            "`{field}`: the secret `{name}` is not set in {}",
            cx.secrets.describe()
        ))),
        Err(why) => Err(ResourceError::permanent(format!(
            "`{field}`: cannot read the secret `{name}`: {why}"
        ))),
    }
}

/// The credentials a sink holds, blanked out of any message it makes: a receiver may echo a
/// header back in its error body, a library may quote a URL.
#[derive(Default)]
pub struct Redactor {
    values: Vec<SecretString>,
}

impl Redactor {
    pub fn new(values: Vec<SecretString>) -> Redactor {
        Redactor { values }
    }

    pub fn text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for value in &self.values {
            let value = value.expose_secret();
            if !value.is_empty() {
                text = text.replace(value, "***");
            }
        }
        text
    }

    pub fn error(&self, mut error: SendError) -> SendError {
        error.error.message = self.text(&error.error.message);
        error
    }
}

/// A request that got no answer: timeouts, refused or cut connections and names that do not
/// resolve may pass; a certificate that does not verify, or a URL that is not one, does not.
pub fn request_failure(what: &str, timeout: Duration, error: ureq::Error) -> SendError {
    use ureq::Error as E;
    let (message, retry) = match error {
        E::Timeout(_) => (
            format!(
                "{what}: no answer within {} (`timeout`)",
                crate::model::values::Duration(timeout)
            ),
            Retry::Transient,
        ),
        E::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => (
            format!(
                "{what}: no answer within {} (`timeout`)",
                crate::model::values::Duration(timeout)
            ),
            Retry::Transient,
        ),
        // rustls reports a handshake that failed (a certificate that does not verify) as
        // invalid data.
        E::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => (
            format!("{what}: TLS: {e} (the receiver's certificate; see `ca_file`)"),
            Retry::Permanent,
        ),
        E::Io(e) => (format!("{what}: {e}"), crate::error::retry_of(&e)),
        E::HostNotFound => (
            format!("{what}: the host name does not resolve"),
            Retry::Transient,
        ),
        E::ConnectionFailed => (format!("{what}: the connection failed"), Retry::Transient),
        // The receiver closed or garbled the exchange: often a restart.
        E::Protocol(e) => (format!("{what}: {e}"), Retry::Transient),
        other @ (E::Tls(_) | E::Rustls(_) | E::Pem(_)) => (
            format!("{what}: TLS: {other} (the receiver's certificate; see `ca_file`)"),
            Retry::Permanent,
        ),
        other => (format!("{what}: {other}"), Retry::Permanent),
    };
    let error = match retry {
        Retry::Transient => ResourceError::transient(message),
        Retry::Permanent => ResourceError::permanent(message),
    };
    SendError::from(error)
}

/// Whether a refusal with this status may pass: 408, 429 and 5xx.
pub fn status_is_transient(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// A refusal: `what` answered `status`, for `detail` (the receiver's reason, bounded).
pub fn refusal(
    what: &str,
    status: u16,
    transient: bool,
    retry_after: Option<Duration>,
    detail: &str,
) -> SendError {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let mut message = format!("{what} answered HTTP {status}{reason}");
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(detail);
    }
    let error = if transient {
        ResourceError::transient(message)
    } else {
        ResourceError::permanent(message)
    };
    SendError { error, retry_after }
}

/// The receiver's `Retry-After`, in seconds or as an HTTP date.
pub fn retry_after<B>(response: &ureq::http::Response<B>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` (a date in the past:
/// now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let at = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(at.as_second()).ok()?))?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// At most `limit` bytes of a body (the rest is left unread).
pub fn read_body(body: &mut ureq::Body, limit: u64) -> Result<Vec<u8>, std::io::Error> {
    let mut bytes = Vec::new();
    body.as_reader().take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The start of a refusal's body on one line: at most [`SNIPPET_CHARS`] characters, control
/// characters as spaces.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .trim()
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_654_923);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        // 2026-11-26T01:02:03Z + 30 s.
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 01:02:33 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 01:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn a_refusal_quotes_a_bounded_line_of_the_body() {
        let body = format!("bad\nrequest {}", "x".repeat(1000));
        let text = snippet(body.as_bytes());
        assert!(text.starts_with("bad request xxx"), "{text}");
        assert_eq!(text.chars().count(), SNIPPET_CHARS + 1);
        let error = refusal("POST", 400, false, None, &text);
        assert!(!error.error.is_transient());
        assert!(
            error
                .error
                .message
                .starts_with("POST answered HTTP 400 Bad Request: bad request"),
            "{}",
            error.error.message
        );
    }

    #[test]
    fn statuses_a_retry_may_get_past() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(status_is_transient(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413] {
            assert!(!status_is_transient(status), "{status}");
        }
    }

    #[test]
    fn the_redactor_blanks_every_credential() {
        let redactor = Redactor::new(vec![SecretString::from("hunter2"), SecretString::from("")]);
        assert_eq!(
            redactor.text("denied for hunter2 (hunter2)"),
            "denied for *** (***)"
        );
    }
}
