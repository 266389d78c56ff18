//! `b64encode`, `b64decode` and `quote`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::invalid;

/// Ansible's `b64encode`: the UTF-8 bytes of the text in standard base64.
pub fn b64encode(value: &str) -> String {
    STANDARD.encode(value.as_bytes())
}

/// Ansible's `b64decode`: the decoded bytes as UTF-8 text (an error when they are not).
pub fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = STANDARD
        .decode(value.trim().as_bytes())
        .map_err(|e| invalid(format!("b64decode: not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not UTF-8 text"))
}

/// Ansible's `quote` (Python's `shlex.quote`): the text as one shell word. Safe words stay as
/// they are; anything else is single-quoted, a `'` written as `'"'"'`.
pub fn quote(value: Option<&str>) -> String {
    let value = value.unwrap_or("");
    if value.is_empty() {
        return "''".to_owned();
    }
    let safe = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', "'\"'\"'"))
}

/// Jinja's `urlencode`: a string percent-encoded with `/` kept; a mapping (or a list of
/// pairs) as a query string, `k=v&…` with spaces as `+`.
pub fn urlencode(value: &Value) -> Result<String, Error> {
    let text = |v: &Value| match v.as_str() {
        Some(s) => s.to_owned(),
        None => v.to_string(),
    };
    let pairs: Vec<(Value, Value)> = match value.kind() {
        ValueKind::Map => value
            .try_iter()?
            .map(|key| {
                let item = value.get_item(&key).unwrap_or_default();
                (key, item)
            })
            .collect(),
        ValueKind::Seq => value
            .try_iter()?
            .map(|pair| {
                (
                    pair.get_item(&Value::from(0)).unwrap_or_default(),
                    pair.get_item(&Value::from(1)).unwrap_or_default(),
                )
            })
            .collect(),
        _ => return Ok(url_quote(&text(value), false)),
    };
    Ok(pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                url_quote(&text(k), true),
                url_quote(&text(v), true)
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// Python's `urllib.parse.quote(text, safe="/")`; in a query string (`for_qs`) `/` is encoded
/// too and a space is `+`, as Jinja's `url_quote`.
fn url_quote(text: &str, for_qs: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if !for_qs => out.push('/'),
            b' ' if for_qs => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
