//! Web server access logs: Apache's common (`%h %l %u %t "%r" %>s %b`) and combined (plus
//! `"%{Referer}i" "%{User-agent}i"`) formats and nginx's `combined` (the same with `-` for
//! `%l`). Read by a scanner rather than a regex: these are the busiest logs on a web host.
//!
//! Fields (Vector's names): `client`, `ident`, `user`, `timestamp` (RFC 3339 UTC), `request`,
//! `method`, `path`, `protocol`, `status` and `size` (integers), `referrer`, `agent`; a `-` is
//! an absent field. A request that is not `METHOD path HTTP/x` (a TLS hello sent to the HTTP
//! port, `-`) keeps only `request`. Text after the format (a field an admin appended) is kept
//! in `extra`.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;

use super::log_parsers::Parsed;
use super::log_timestamps::{month_number, rfc3339_utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    ApacheCommon,
    ApacheCombined,
    NginxCombined,
}

pub fn parse(format: AccessLogFormat, line: &str) -> Result<Parsed, String> {
    let mut s = Scanner { rest: line };
    let client = s.word("client address")?;
    let ident = s.word("identity (`-`)")?;
    let user = s.word("user")?;
    let time = s.delimited('[', ']', "time in `[…]`")?;
    let request = s.quoted("request in quotes")?;
    let status = s.word("status")?;
    let size = s.word("size")?;
    let mut parsed = Parsed::default();
    parsed.set("client", client);
    if format != AccessLogFormat::NginxCombined {
        parsed.set_present("ident", ident);
    }
    parsed.set_present("user", user);
    parsed.set("timestamp", rfc3339_utc(common_log_time(time)?));
    parsed.set_present("request", &request);
    if let Some((method, path, protocol)) = request_line(&request) {
        parsed.set("method", method);
        parsed.set("path", path);
        parsed.set("protocol", protocol);
    }
    let status: u16 = status
        .parse()
        .map_err(|_| format!("the status `{status}` is not a number"))?;
    parsed.set("status", status);
    if size != "-" {
        let size: u64 = size
            .parse()
            .map_err(|_| format!("the size `{size}` is not a number or `-`"))?;
        parsed.set("size", size);
    }
    if format != AccessLogFormat::ApacheCommon {
        let referrer = s.quoted("referrer in quotes")?;
        let agent = s.quoted("user agent in quotes")?;
        parsed.set_present("referrer", &referrer);
        parsed.set_present("agent", &agent);
    }
    let extra = s.rest.trim();
    if !extra.is_empty() {
        parsed.set("extra", extra);
    }
    Ok(parsed)
}

/// `GET /index.html HTTP/1.1` → method, path, protocol.
fn request_line(request: &str) -> Option<(&str, &str, &str)> {
    let (method, rest) = request.split_once(' ')?;
    let (path, protocol) = rest.rsplit_once(' ')?;
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    (method_ok && protocol.starts_with("HTTP/") && !path.is_empty())
        .then_some((method, path, protocol))
}

/// `10/Oct/2000:13:55:36 -0700`, the common log format's time.
fn common_log_time(text: &str) -> Result<jiff::Timestamp, String> {
    let bad = || format!("the time `{text}` is not `dd/Mon/yyyy:hh:mm:ss +zzzz`");
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| -> Result<i32, String> {
        text.get(range)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(bad)
    };
    let month = month_number(&b[3..6]).ok_or_else(bad)?;
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let offset_seconds = sign * (number(22..24)? * 3600 + number(24..26)? * 60);
    let date = Date::new(number(7..11)? as i16, month, number(0..2)? as i8).map_err(|_| bad())?;
    let time = Time::new(
        number(12..14)? as i8,
        number(15..17)? as i8,
        number(18..20)? as i8,
        0,
    )
    .map_err(|_| bad())?;
    let offset = Offset::from_seconds(offset_seconds).map_err(|_| bad())?;
    offset
        .to_timestamp(DateTime::from_parts(date, time))
        .map_err(|_| bad())
}

/// Reads space-separated parts off the front of a line.
struct Scanner<'a> {
    rest: &'a str,
}

impl<'a> Scanner<'a> {
    fn missing(what: &str) -> String {
        format!("no {what} where the access-log format has one")
    }

    fn word(&mut self, what: &str) -> Result<&'a str, String> {
        let rest = self.rest.trim_start_matches(' ');
        let end = rest.find(' ').unwrap_or(rest.len());
        if end == 0 {
            return Err(Scanner::missing(what));
        }
        self.rest = &rest[end..];
        Ok(&rest[..end])
    }

    fn delimited(&mut self, open: char, close: char, what: &str) -> Result<&'a str, String> {
        let rest = self.rest.trim_start_matches(' ');
        let inner = rest
            .strip_prefix(open)
            .ok_or_else(|| Scanner::missing(what))?;
        let end = inner.find(close).ok_or_else(|| Scanner::missing(what))?;
        self.rest = &inner[end + close.len_utf8()..];
        Ok(&inner[..end])
    }

    /// A `"…"` part; Apache writes `"` and `\` inside as `\"` and `\\` (nginx as `\x22`,
    /// which stays as written).
    fn quoted(&mut self, what: &str) -> Result<String, String> {
        let rest = self.rest.trim_start_matches(' ');
        let inner = rest
            .strip_prefix('"')
            .ok_or_else(|| Scanner::missing(what))?;
        let mut text = String::new();
        let mut chars = inner.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &inner[at + 1..];
                    return Ok(text);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => text.push(e),
                    Some((_, other)) => {
                        text.push('\\');
                        text.push(other);
                    }
                    None => text.push('\\'),
                },
                other => text.push(other),
            }
        }
        Err(format!("the {what} has no closing `\"`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn fields(format: AccessLogFormat, line: &str) -> Value {
        let parsed = parse(format, line).unwrap();
        Value::Object(parsed.fields.into_iter().collect())
    }

    #[test]
    fn apache_common() {
        assert_eq!(
            fields(
                AccessLogFormat::ApacheCommon,
                r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#
            ),
            json!({
                "client": "127.0.0.1", "user": "frank", "timestamp": "2000-10-10T20:55:36Z",
                "request": "GET /apache_pb.gif HTTP/1.0", "method": "GET",
                "path": "/apache_pb.gif", "protocol": "HTTP/1.0", "status": 200, "size": 2326
            })
        );
    }

    #[test]
    fn apache_combined_with_escaped_quotes() {
        assert_eq!(
            fields(
                AccessLogFormat::ApacheCombined,
                r#"::1 ident - [01/Jan/2026:00:00:00 +0100] "GET /q?a=\"b\" HTTP/1.1" 304 - "-" "curl/8.5.0""#
            ),
            json!({
                "client": "::1", "ident": "ident", "timestamp": "2025-12-31T23:00:00Z",
                "request": "GET /q?a=\"b\" HTTP/1.1", "method": "GET", "path": "/q?a=\"b\"",
                "protocol": "HTTP/1.1", "status": 304, "agent": "curl/8.5.0"
            })
        );
    }

    #[test]
    fn nginx_combined_with_a_garbage_request_and_an_appended_field() {
        assert_eq!(
            fields(
                AccessLogFormat::NginxCombined,
                r#"203.0.113.9 - - [06/Dec/2026:20:51:20 +0000] "\x16\x03\x01\x00\xCA\x01" 400 157 "-" "-" "10.0.0.1""#
            ),
            json!({
                "client": "203.0.113.9", "timestamp": "2026-12-06T20:51:20Z",
                "request": "\\x16\\x03\\x01\\x00\\xCA\\x01", "status": 400, "size": 157,
                "extra": "\"10.0.0.1\""
            })
        );
    }

    #[test]
    fn malformed_lines_fail_with_a_reason() {
        let cases = [
            ("", "client"),
            ("1.2.3.4 - -", "time"),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /"#,
                "closing",
            ),
            (
                r#"1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1"#,
                "time",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" OK 1"#,
                "status",
            ),
            (
                r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1"#,
                "referrer",
            ),
        ];
        for (line, why) in cases {
            let e = parse(AccessLogFormat::NginxCombined, line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
