//! Values to and from JSON and YAML text, written as Python's `json.dumps` and PyYAML's
//! `yaml.dump` write them (Ansible's `to_json`, `to_nice_json`, `to_yaml`, `to_nice_yaml`;
//! Jinja's `tojson`).

use std::fmt::Write as _;

use minijinja::Error;
use minijinja::value::{Kwargs, Value};
use serde_json::Value as Json;

use super::invalid;
use super::pyyaml::{self, FlowStyle};
use crate::config::{Node, Value as ConfigValue};
use crate::diagnostics::FileId;

fn to_json_value(value: &Value) -> Result<Json, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            minijinja::ErrorKind::UndefinedError,
            "cannot serialize an undefined value",
        ));
    }
    serde_json::to_value(value).map_err(|e| invalid(format!("cannot serialize the value: {e}")))
}

/// How Python's `json.dumps` lays out its text.
struct JsonStyle {
    /// `indent=N`: items on their own lines; `None`: `, ` and `: ` between them.
    indent: Option<usize>,
    /// Jinja's `tojson`: `<`, `>`, `&`, `'` as `\u` escapes, safe in HTML.
    html_safe: bool,
}

fn write_json(out: &mut String, value: &Json, style: &JsonStyle, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = style.indent {
            out.push('\n');
            out.push_str(&" ".repeat(indent * depth));
        }
    };
    let item_separator = if style.indent.is_some() { "," } else { ", " };
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => write_json_string(out, s, style.html_safe),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, depth + 1);
                write_json(out, item, style, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        Json::Object(map) => {
            out.push('{');
            // serde_json's map is sorted by key: `sort_keys=True`.
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_separator);
                }
                newline(out, depth + 1);
                write_json_string(out, key, style.html_safe);
                out.push_str(": ");
                write_json(out, item, style, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// A JSON string with `ensure_ascii`: every non-ASCII character as `\uXXXX` (UTF-16).
fn write_json_string(out: &mut String, text: &str, html_safe: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '<' | '>' | '&' | '\'' if html_safe => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn json_text(value: &Value, style: &JsonStyle) -> Result<String, Error> {
    let json = to_json_value(value)?;
    let mut out = String::new();
    write_json(&mut out, &json, style, 0);
    Ok(out)
}

/// Jinja's `tojson(indent=None)`: sorted keys, HTML-safe, marked safe.
pub fn tojson(value: &Value, indent: Option<usize>) -> Result<Value, Error> {
    let style = JsonStyle {
        indent,
        html_safe: true,
    };
    Ok(Value::from_safe_string(json_text(value, &style)?))
}

/// Ansible's `to_json`: one line, `, ` and `: ` separators, non-ASCII escaped.
pub fn to_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?;
    kwargs.assert_all_used()?;
    json_text(
        value,
        &JsonStyle {
            indent,
            html_safe: false,
        },
    )
}

/// Ansible's `to_nice_json(indent=4)`: sorted keys, one item per line.
pub fn to_nice_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    kwargs.assert_all_used()?;
    json_text(
        value,
        &JsonStyle {
            indent: Some(indent),
            html_safe: false,
        },
    )
}

/// Ansible's `to_yaml`: PyYAML's `default_flow_style=None` (a collection of scalars in flow
/// style), indent 2.
pub fn to_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(2);
    kwargs.assert_all_used()?;
    Ok(pyyaml::dump(
        &to_json_value(value)?,
        indent,
        FlowStyle::Auto,
    ))
}

/// Ansible's `to_nice_yaml(indent=4)`: block style throughout.
pub fn to_nice_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    kwargs.assert_all_used()?;
    Ok(pyyaml::dump(
        &to_json_value(value)?,
        indent,
        FlowStyle::Block,
    ))
}

/// `text | from_json`: the value the JSON text holds.
pub fn from_json(text: &str) -> Result<Value, Error> {
    let json: Json =
        serde_json::from_str(text).map_err(|e| invalid(format!("from_json: not JSON: {e}")))?;
    Ok(super::super::json_to_value(&json))
}

/// `text | from_yaml`: the value the YAML text holds, read by the config loader (so with its
/// bounds on size, depth and aliases).
pub fn from_yaml(text: &str) -> Result<Value, Error> {
    // The node's spans point nowhere: only the value is kept.
    let node: Node =
        crate::config::parse_yaml(text, FileId(u32::MAX), "YAML").map_err(|found| {
            let why = found.first().map_or("", |d| d.message.as_str()).to_owned();
            invalid(format!("from_yaml: not YAML: {why}"))
        })?;
    Ok(match node.value {
        ConfigValue::Null => Value::from(()),
        _ => super::super::node_to_value(&node),
    })
}
