//! A pipeline's `plugin` filter: a plugin's log filter (docs/plugins.md) as one step of the
//! filter list. The record goes to the plugin as one JSON object (its fields with `message`
//! and `file`); each object that comes back is a record the later steps see.
//!
//! A call that fails — a trap, fuel or the deadline run out, a malformed answer — fails that
//! record only: it is dropped, counted with the filters' drops, and the failure logged (the
//! first, then one in [`WARN_EVERY`], so a broken plugin cannot flood the log).

use super::log_event::LogEvent;
use crate::plugins::Plugins;

/// After the first failure, one in this many is logged.
#[cfg_attr(not(feature = "plugins"), allow(dead_code))]
const WARN_EVERY: u64 = 10_000;

#[cfg(feature = "plugins")]
pub struct PluginLogFilter {
    filter: crate::plugins::LogFilterPlugin,
    failures: u64,
}

/// None in a build without the `plugins` feature: `check` refuses a `plugin` filter there (no
/// plugin provides it), and [`PluginLogFilter::new`] says so if one comes anyway.
#[cfg(not(feature = "plugins"))]
pub enum PluginLogFilter {}

impl PluginLogFilter {
    #[cfg(feature = "plugins")]
    pub fn new(plugins: &Plugins, name: &str) -> Result<PluginLogFilter, String> {
        let filter =
            crate::plugins::LogFilterPlugin::new(plugins, name).map_err(|e| e.to_string())?;
        Ok(PluginLogFilter {
            filter,
            failures: 0,
        })
    }

    #[cfg(not(feature = "plugins"))]
    pub fn new(_plugins: &Plugins, name: &str) -> Result<PluginLogFilter, String> {
        Err(format!(
            "the log filter `{name}` is a plugin's, and this driftless was built without plugins"
        ))
    }

    /// The records the plugin makes of `event`, pushed to `out`; whether the call succeeded
    /// (a failed call drops the record).
    #[cfg(feature = "plugins")]
    pub fn apply(&mut self, event: LogEvent, out: &mut Vec<LogEvent>) -> bool {
        let file = event.file.clone();
        match self.filter.apply(&to_object(event)) {
            Ok(events) => {
                out.extend(events.into_iter().map(|value| from_object(value, &file)));
                true
            }
            Err(e) => {
                if self.failures.is_multiple_of(WARN_EVERY) {
                    tracing::warn!(
                        filter = %self.filter.name(),
                        failures = self.failures + 1,
                        error = %e,
                        "a plugin log filter failed; the record is dropped"
                    );
                }
                self.failures += 1;
                false
            }
        }
    }

    #[cfg(not(feature = "plugins"))]
    pub fn apply(&mut self, _event: LogEvent, _out: &mut Vec<LogEvent>) -> bool {
        match *self {}
    }
}

/// The record as the object a plugin gets: its fields, then `message` and `file` over any
/// field of those names (as the outputs write it).
#[cfg_attr(not(feature = "plugins"), allow(dead_code))]
fn to_object(event: LogEvent) -> serde_json::Value {
    use super::log_event::{FILE, MESSAGE};
    let mut object: serde_json::Map<String, serde_json::Value> = event.fields.into_iter().collect();
    object.insert(MESSAGE.to_owned(), event.message.into());
    object.insert(FILE.to_owned(), event.file.as_ref().into());
    serde_json::Value::Object(object)
}

/// A record from an object a plugin returned (the plugin side checked it is an object):
/// `message` is its text (a non-string as JSON; empty when absent), `file` its file (else the
/// record's it came from), the rest its fields.
#[cfg_attr(not(feature = "plugins"), allow(dead_code))]
fn from_object(value: serde_json::Value, file: &std::sync::Arc<str>) -> LogEvent {
    use super::log_event::{FILE, MESSAGE};
    let serde_json::Value::Object(mut object) = value else {
        return LogEvent::new(value.to_string(), file.clone());
    };
    let message = match object.remove(MESSAGE) {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let file = match object.remove(FILE) {
        Some(serde_json::Value::String(path)) if *path == **file => file.clone(),
        Some(serde_json::Value::String(path)) => std::sync::Arc::from(path),
        _ => file.clone(),
    };
    let mut event = LogEvent::new(message, file);
    event.fields = object.into_iter().collect();
    event
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_record_goes_to_a_plugin_and_back_unchanged() {
        let mut event = LogEvent::new("GET / 200".to_owned(), Arc::from("/var/log/a.log"));
        event.set("status", json!(200));
        let object = to_object(event.clone());
        assert_eq!(
            object,
            json!({"message": "GET / 200", "file": "/var/log/a.log", "status": 200})
        );
        assert_eq!(from_object(object, &event.file), event);
    }

    #[test]
    fn a_returned_object_without_message_or_file_keeps_the_records_file() {
        let file: Arc<str> = Arc::from("/var/log/a.log");
        let event = from_object(json!({"level": "warn", "message": 7}), &file);
        assert_eq!(event.message, "7");
        assert_eq!(&*event.file, "/var/log/a.log");
        assert_eq!(event.fields.get("level"), Some(&json!("warn")));
        assert_eq!(from_object(json!({}), &file).message, "");
    }
}
