//! Syslog lines: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`), RFC 3164
//! (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`), and what rsyslog writes to its files, which is
//! RFC 3164 without `<PRI>`, with either the traditional timestamp or, Debian's default since
//! rsyslog 8.2x (`RSYSLOG_FileFormat`), an RFC 3339 one with microseconds and an offset.
//!
//! Fields (Vector's names): `facility` and `severity` (names, only with `<PRI>`),
//! `version`, `timestamp` (RFC 3339 UTC), `hostname`, `appname`, `procid` (an integer when
//! numeric), `msgid`, `structured_data` (`{ "id": { "param": "value" } }`); the message
//! becomes the record's message. `-` (RFC 5424's nil) is an absent field.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use serde_json::Value;

use super::log_parsers::Parsed;
use super::log_timestamps::{TimeContext, month_number, parse_rfc3339, rfc3339_utc};

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

pub fn parse(line: &str, cx: &TimeContext) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut rest = line;
    if let Some(after) = line.strip_prefix('<') {
        let (priority, after) = priority(after)?;
        parsed.set("facility", FACILITIES[usize::from(priority / 8)]);
        parsed.set("severity", SEVERITIES[usize::from(priority % 8)]);
        if let Some((version, after)) = version(after) {
            parsed.set("version", version);
            rfc5424(after, cx, &mut parsed)?;
            return Ok(parsed);
        }
        rest = after;
    }
    rfc3164(rest, cx, &mut parsed)?;
    Ok(parsed)
}

/// `34>` → 34; at most 191 (facility 23, severity 7).
fn priority(text: &str) -> Result<(u8, &str), String> {
    let bad = || "the priority `<…>` is not a number from 0 to 191".to_owned();
    let end = text.find('>').ok_or_else(bad)?;
    let digits = &text[..end];
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let priority: u8 = digits.parse().map_err(|_| bad())?;
    if priority > 191 {
        return Err(bad());
    }
    Ok((priority, &text[end + 1..]))
}

/// RFC 5424's version: one or two digits and a space (an RFC 3164 timestamp starts with a
/// month name, an RFC 3339 one with four digits and `-`).
fn version(text: &str) -> Option<(u8, &str)> {
    let end = text.find(' ')?;
    let digits = &text[..end];
    if (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some((digits.parse().ok()?, &text[end + 1..]))
    } else {
        None
    }
}

fn rfc5424(text: &str, cx: &TimeContext, parsed: &mut Parsed) -> Result<(), String> {
    let mut parts = text.splitn(6, ' ');
    let mut next = |what: &str| {
        parts
            .next()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("no {what} where RFC 5424 has one"))
    };
    let timestamp = next("timestamp")?;
    let hostname = next("hostname")?;
    let appname = next("app name")?;
    let procid = next("process id")?;
    let msgid = next("message id")?;
    let rest = parts.next().unwrap_or("");
    if timestamp != "-" {
        let time = parse_rfc3339(timestamp, cx)?;
        parsed.set("timestamp", rfc3339_utc(time));
    }
    parsed.set_present("hostname", hostname);
    parsed.set_present("appname", appname);
    set_procid(parsed, procid);
    parsed.set_present("msgid", msgid);
    let message = if let Some(after) = rest.strip_prefix('-') {
        after
    } else if rest.starts_with('[') {
        let (data, after) = structured_data(rest)?;
        parsed.set("structured_data", data);
        after
    } else {
        return Err("no structured data (`-` or `[…]`) where RFC 5424 has it".to_owned());
    };
    let message = match message.strip_prefix(' ') {
        Some(m) => m.strip_prefix('\u{feff}').unwrap_or(m),
        None if message.is_empty() => "",
        None => return Err("no space between the structured data and the message".to_owned()),
    };
    parsed.message = Some(message.to_owned());
    Ok(())
}

/// `[id p="v"][id2 …]` → `{ "id": { "p": "v" }, "id2": {…} }`, and what follows it. Inside a
/// value, `\"`, `\\` and `\]` are escapes.
fn structured_data(mut text: &str) -> Result<(Value, &str), String> {
    let bad = |why: &str| format!("malformed structured data: {why}");
    let mut elements = serde_json::Map::new();
    while let Some(inner) = text.strip_prefix('[') {
        let id_end = inner
            .find([' ', ']'])
            .ok_or_else(|| bad("an element has no closing `]`"))?;
        let id = &inner[..id_end];
        if id.is_empty() {
            return Err(bad("an element has no id"));
        }
        let mut params = BTreeMap::new();
        let mut rest = &inner[id_end..];
        loop {
            rest = rest.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let (name, after) = rest
                .split_once("=\"")
                .ok_or_else(|| bad(&format!("a parameter of `{id}` is not name=\"value\"")))?;
            let (value, after) = sd_value(after)
                .ok_or_else(|| bad(&format!("a value of `{id}` has no closing `\"`")))?;
            params.insert(name.to_owned(), Value::String(value));
            rest = after;
        }
        elements.insert(id.to_owned(), Value::Object(params.into_iter().collect()));
        text = rest;
    }
    Ok((Value::Object(elements), text))
}

fn sd_value(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => {
                let (_, escaped) = chars.next()?;
                if !matches!(escaped, '"' | '\\' | ']') {
                    value.push('\\');
                }
                value.push(escaped);
            }
            other => value.push(other),
        }
    }
    None
}

fn rfc3164(text: &str, cx: &TimeContext, parsed: &mut Parsed) -> Result<(), String> {
    let (time, rest) = match traditional_time(text, cx)? {
        Some(found) => found,
        None => {
            let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
            let looks_like_rfc3339 = token.len() >= 19
                && token.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && token.as_bytes()[4] == b'-';
            if !looks_like_rfc3339 {
                return Err(
                    "no syslog timestamp (`Mmm dd hh:mm:ss` or RFC 3339) at the start".to_owned(),
                );
            }
            (parse_rfc3339(token, cx)?, rest)
        }
    };
    parsed.set("timestamp", rfc3339_utc(time));
    let rest = rest.trim_start_matches(' ');
    // The host name is left out by some senders; then the first word is the tag.
    let (first, after_first) = rest.split_once(' ').unwrap_or((rest, ""));
    let rest = if tag(first).is_some() || first.is_empty() {
        rest
    } else {
        parsed.set("hostname", first);
        after_first
    };
    let (word, after_word) = rest.split_once(' ').unwrap_or((rest, ""));
    let message = match tag(word) {
        Some((appname, procid)) => {
            parsed.set("appname", appname);
            if let Some(procid) = procid {
                set_procid(parsed, procid);
            }
            after_word
        }
        None => rest,
    };
    parsed.message = Some(message.to_owned());
    Ok(())
}

/// `Mmm dd hh:mm:ss ` (the day space- or zero-padded) at the start, and what follows it.
fn traditional_time<'a>(
    text: &'a str,
    cx: &TimeContext,
) -> Result<Option<(jiff::Timestamp, &'a str)>, String> {
    let b = text.as_bytes();
    if b.len() < 15 || !b[..15].is_ascii() || b[3] != b' ' || b[9] != b':' || b[12] != b':' {
        return Ok(None);
    }
    let Some(month) = month_number(&b[..3]) else {
        return Ok(None);
    };
    let number = |range: std::ops::Range<usize>| -> Option<i8> {
        text.get(range)?.trim_start().parse().ok()
    };
    let bad = || format!("the time `{}` is not a date", &text[..15]);
    let (day, hour, minute, second) =
        match (number(4..6), number(7..9), number(10..12), number(13..15)) {
            (Some(d), Some(h), Some(m), Some(s)) => (d, h, m, s),
            _ => return Err(bad()),
        };
    let time = cx.without_year(|year| {
        let civil = DateTime::new(year, month, day, hour, minute, second, 0).map_err(|_| bad())?;
        cx.local(civil)
    })?;
    Ok(Some((time, &text[15..])))
}

/// A syslog tag: `name:` or `name[pid]:` → the name and the pid.
fn tag(word: &str) -> Option<(&str, Option<&str>)> {
    let word = word.strip_suffix(':')?;
    match word.split_once('[') {
        Some((name, pid)) => {
            let pid = pid.strip_suffix(']')?;
            (!name.is_empty()).then_some((name, Some(pid)))
        }
        None => (!word.is_empty()).then_some((word, None)),
    }
}

fn set_procid(parsed: &mut Parsed, procid: &str) {
    match procid.parse::<u64>() {
        Ok(number) => parsed.set("procid", number),
        Err(_) => parsed.set_present("procid", procid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;
    use serde_json::json;

    fn read(line: &str) -> Result<(Value, String), String> {
        let cx = TimeContext::fixed(TimeZone::UTC, "2026-12-06T21:00:00Z".parse().unwrap());
        let parsed = parse(line, &cx)?;
        Ok((
            Value::Object(parsed.fields.into_iter().collect()),
            parsed.message.unwrap_or_default(),
        ))
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let (fields, message) = read(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high\]"] An application event"#,
        )
        .unwrap();
        assert_eq!(
            fields,
            json!({
                "facility": "local4", "severity": "notice", "version": 1,
                "timestamp": "2003-10-11T22:14:15.003Z", "hostname": "mymachine.example.com",
                "appname": "evntslog", "msgid": "ID47",
                "structured_data": {
                    "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
                    "examplePriority@32473": {"class": "high]"}
                }
            })
        );
        assert_eq!(message, "An application event");
    }

    #[test]
    fn rfc5424_nil_fields_and_a_bom() {
        let (fields, message) = read("<34>1 - - su 4711 - - \u{feff}'su root' failed").unwrap();
        assert_eq!(
            fields,
            json!({"facility": "auth", "severity": "crit", "version": 1, "appname": "su", "procid": 4711})
        );
        assert_eq!(message, "'su root' failed");
    }

    #[test]
    fn rfc3164_with_priority() {
        let (fields, message) =
            read("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
                .unwrap();
        assert_eq!(
            fields,
            json!({"facility": "auth", "severity": "crit", "timestamp": "2026-10-11T22:14:15Z",
                   "hostname": "mymachine", "appname": "su"})
        );
        assert_eq!(message, "'su root' failed for lonvick on /dev/pts/8");
    }

    #[test]
    fn rsyslog_files_traditional_and_high_precision() {
        let (fields, message) =
            read("Dec  6 20:51:20 web1 systemd[1]: Started session-3.scope.").unwrap();
        assert_eq!(
            fields,
            json!({"timestamp": "2026-12-06T20:51:20Z", "hostname": "web1", "appname": "systemd", "procid": 1})
        );
        assert_eq!(message, "Started session-3.scope.");
        let (fields, message) = read(
            "2026-12-06T20:51:20.123456+01:00 web1 postfix/smtpd[2211]: connect from unknown[10.0.0.9]",
        )
        .unwrap();
        assert_eq!(
            fields,
            json!({"timestamp": "2026-12-06T19:51:20.123456Z", "hostname": "web1",
                   "appname": "postfix/smtpd", "procid": 2211})
        );
        assert_eq!(message, "connect from unknown[10.0.0.9]");
    }

    #[test]
    fn a_line_without_a_tag_keeps_its_words() {
        let (fields, message) = read("Dec  6 20:51:20 web1 -- MARK --").unwrap();
        assert_eq!(
            fields,
            json!({"timestamp": "2026-12-06T20:51:20Z", "hostname": "web1"})
        );
        assert_eq!(message, "-- MARK --");
    }

    #[test]
    fn malformed_lines_fail() {
        for bad in [
            "no timestamp here",
            "<999>Oct 11 22:14:15 host x: y",
            "<34",
            "<34>1 2003-10-11T22:14:15Z host",
            "<34>1 2003-10-11T22:14:15Z host app - - [broken",
            "<34>1 not-a-time host app - - - msg",
            "Feb 30 10:00:00 host app: impossible date",
        ] {
            assert!(read(bad).is_err(), "{bad} was read");
        }
    }
}
