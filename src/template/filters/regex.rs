//! Ansible's regex filters over Rust's `regex` (Python's `re` syntax for what both have:
//! groups, `(?P<name>…)`, classes; look-around and back-references in a pattern are refused
//! with the engine's message). Replacements are written as in Python: `\1`, `\g<1>`,
//! `\g<name>`.

use minijinja::Error;
use minijinja::value::{Kwargs, Rest, Value};
use regex::{Captures, Regex, RegexBuilder};

use super::invalid;

/// The pattern with Ansible's `ignorecase` and `multiline` keywords.
fn compile(pattern: &str, kwargs: &Kwargs) -> Result<Regex, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        // A pattern from a config is not trusted to be small once compiled.
        .size_limit(1 << 20)
        .build()
        .map_err(|e| invalid(format!("invalid regular expression: {e}")))
}

/// One part of a Python replacement template.
enum Part {
    Text(String),
    Group(String),
}

/// Parses `\1`, `\g<1>`, `\g<name>` and the escapes `\n`, `\t`, `\\` of a Python replacement.
fn parse_replacement(replacement: &str) -> Result<Vec<Part>, Error> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        let group = match chars.next() {
            Some(d) if d.is_ascii_digit() => {
                let mut number = d.to_string();
                if let Some(e) = chars.peek().copied().filter(char::is_ascii_digit) {
                    number.push(e);
                    chars.next();
                }
                number
            }
            Some('g') => {
                if chars.next() != Some('<') {
                    return Err(invalid(
                        "bad group reference in replacement: write \\g<name>",
                    ));
                }
                let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                if name.is_empty() {
                    return Err(invalid("empty group name in replacement"));
                }
                name
            }
            Some('n') => {
                text.push('\n');
                continue;
            }
            Some('t') => {
                text.push('\t');
                continue;
            }
            Some('\\') => {
                text.push('\\');
                continue;
            }
            // Python keeps an unknown escape of a non-letter as written.
            Some(other) => {
                text.push('\\');
                text.push(other);
                continue;
            }
            None => return Err(invalid("replacement ends with a lone backslash")),
        };
        parts.push(Part::Text(std::mem::take(&mut text)));
        parts.push(Part::Group(group));
    }
    parts.push(Part::Text(text));
    Ok(parts)
}

fn group<'h>(caps: &Captures<'h>, name: &str) -> Result<&'h str, Error> {
    let found = match name.parse::<usize>() {
        Ok(index) if index >= caps.len() => {
            return Err(invalid(format!("invalid group reference {index}")));
        }
        Ok(index) => caps.get(index),
        Err(_) => caps.name(name),
    };
    Ok(found.map_or("", |m| m.as_str()))
}

/// `value | regex_replace(pattern, replacement='', ignorecase=false, multiline=false,
/// count=0)`.
pub fn regex_replace(
    value: &str,
    pattern: &str,
    replacement: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let regex = compile(pattern, &kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let parts = parse_replacement(replacement.unwrap_or(""))?;
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for (n, caps) in regex.captures_iter(value).enumerate() {
        if count != 0 && n == count {
            break;
        }
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&value[last..whole.start()]);
        for part in &parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Group(name) => out.push_str(group(&caps, name)?),
            }
        }
        last = whole.end();
    }
    out.push_str(&value[last..]);
    Ok(out)
}

/// `value | regex_search(pattern)`: the first match or none; with `'\1'`, `'\g<name>'`
/// arguments, the list of those groups of the first match.
pub fn regex_search(
    value: &str,
    pattern: &str,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let regex = compile(pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let Some(caps) = regex.captures(value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for reference in groups.iter() {
        let name = reference
            .strip_prefix("\\g<")
            .and_then(|r| r.strip_suffix('>'))
            .or_else(|| reference.strip_prefix('\\'))
            .ok_or_else(|| invalid(format!("unknown argument to regex_search: {reference}")))?;
        out.push(Value::from(group(&caps, name)?));
    }
    Ok(Value::from(out))
}

/// `value | regex_findall(pattern)`: every match; with one group its text, with several a
/// list of them, as Python's `re.findall`.
pub fn regex_findall(value: &str, pattern: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let regex = compile(pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let groups = regex.captures_len() - 1;
    let text = |m: Option<regex::Match<'_>>| Value::from(m.map_or("", |m| m.as_str()));
    let found = regex.captures_iter(value).map(|caps| match groups {
        0 => text(caps.get(0)),
        1 => text(caps.get(1)),
        _ => Value::from((1..=groups).map(|i| text(caps.get(i))).collect::<Vec<_>>()),
    });
    Ok(Value::from(found.collect::<Vec<_>>()))
}

/// Python's `re.escape`: a backslash before each character special in a pattern.
pub fn regex_escape(value: &str) -> String {
    const SPECIAL: &str = "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}";
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
