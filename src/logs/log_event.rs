//! The record every part of a log pipeline passes on: the line as read, the file it came from,
//! and the fields parsers and filters set.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// One record on its way from a source to the outputs.
///
/// `message` and `file` are fields like any other to filters (`field: message`); they are kept
/// apart from `fields` so that a pipeline without a parser never builds a map.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// The line (or the lines of a multiline record) as read and decoded, without its line
    /// break.
    pub message: String,
    /// The path of the file it was read from.
    pub file: Arc<str>,
    /// Fields set by the parser and filters, by name.
    pub fields: BTreeMap<String, Value>,
}

/// The field names that are not in [`LogEvent::fields`].
pub const MESSAGE: &str = "message";
pub const FILE: &str = "file";

impl LogEvent {
    /// A record of one line, before parsing.
    pub fn new(message: String, file: Arc<str>) -> LogEvent {
        LogEvent {
            message,
            file,
            fields: BTreeMap::new(),
        }
    }

    /// A field's value as text: strings as they are, other JSON values as JSON, `None` when
    /// the record has no such field.
    pub fn text(&self, field: &str) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match field {
            MESSAGE => Some(Cow::Borrowed(&self.message)),
            FILE => Some(Cow::Borrowed(&self.file)),
            _ => match self.fields.get(field)? {
                Value::String(s) => Some(Cow::Borrowed(s)),
                other => Some(Cow::Owned(other.to_string())),
            },
        }
    }

    /// Sets a field; `message` replaces the message (a non-string value as its JSON text).
    pub fn set(&mut self, field: &str, value: Value) {
        match field {
            MESSAGE => {
                self.message = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            FILE => {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                self.file = Arc::from(text);
            }
            _ => {
                self.fields.insert(field.to_owned(), value);
            }
        }
    }

    /// Removes a field and returns its value; `message` and `file` become empty.
    pub fn remove(&mut self, field: &str) -> Option<Value> {
        match field {
            MESSAGE => Some(Value::String(std::mem::take(&mut self.message))),
            FILE => Some(Value::String(
                std::mem::replace(&mut self.file, Arc::from("")).to_string(),
            )),
            _ => self.fields.remove(field),
        }
    }

    /// The record as one JSON object: its fields, with `message` and `file` (a field a parser
    /// set under either name gives way to them). Written straight from the record, field by
    /// field: no copy of the record is made.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.message.len() + self.file.len() + 32);
        out.push(b'{');
        for (name, value) in &self.fields {
            if name != MESSAGE && name != FILE {
                push_member(&mut out, name, value);
            }
        }
        push_member(&mut out, MESSAGE, self.message.as_str());
        push_member(&mut out, FILE, &*self.file);
        out.push(b'}');
        out
    }
}

/// Appends `"name":value` to an object being written (a comma first unless it is the first).
/// Serializing a string or a `Value` into a `Vec` cannot fail: no I/O, and a `Value`'s maps
/// have string keys.
fn push_member<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, name: &str, value: &T) {
    if out.len() > 1 {
        out.push(b',');
    }
    let written = serde_json::to_writer(&mut *out, name).and_then(|()| {
        out.push(b':');
        serde_json::to_writer(&mut *out, value)
    });
    debug_assert!(written.is_ok());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> LogEvent {
        LogEvent::new("GET / 200".to_owned(), Arc::from("/var/log/app.log"))
    }

    #[test]
    fn message_and_file_read_and_write_as_fields() {
        let mut e = event();
        assert_eq!(e.text("message").as_deref(), Some("GET / 200"));
        assert_eq!(e.text("file").as_deref(), Some("/var/log/app.log"));
        e.set("message", Value::from("other"));
        e.set("status", Value::from(200));
        assert_eq!(e.text("message").as_deref(), Some("other"));
        assert_eq!(e.text("status").as_deref(), Some("200"));
        assert_eq!(e.text("missing"), None);
        assert_eq!(e.remove("status"), Some(Value::from(200)));
        assert_eq!(e.text("status"), None);
    }

    #[test]
    fn json_has_the_fields_and_message_and_file() {
        let mut e = event();
        e.set("status", Value::from(200));
        e.fields
            .insert("message".to_owned(), Value::from("shadowed"));
        let json: Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"message": "GET / 200", "file": "/var/log/app.log", "status": 200})
        );
    }
}
