//! Log filters from plugins: an event in, zero or more out.

use std::sync::Arc;

use super::Plugins;
use super::abi;
use super::error::PluginError;
use super::plugin::Plugin;

/// One log filter of one plugin, as a log pipeline's filter stage holds it (made once when
/// the pipeline starts; `apply` runs a fresh instance per event, so events never share
/// plugin state).
#[derive(Clone)]
pub struct LogFilterPlugin {
    plugin: Arc<Plugin>,
    name: String,
}

impl LogFilterPlugin {
    /// The log filter `name` of the config's plugins, or why there is none.
    pub fn new(plugins: &Plugins, name: &str) -> Result<LogFilterPlugin, PluginError> {
        let plugin = plugins.log_filter(name).ok_or_else(|| {
            PluginError::new(
                "(none)",
                format!("no plugin of the config provides the log filter `{name}`"),
            )
        })?;
        Ok(LogFilterPlugin {
            plugin,
            name: name.to_owned(),
        })
    }

    /// The events the plugin makes of `event` (a `LogEvent::to_json()` object): none drops
    /// it, one changes it, more split it. A trap, running out of fuel or time, or an answer
    /// that is not `{"events": [object, …]}` fails this event only.
    pub fn apply(&self, event: &serde_json::Value) -> Result<Vec<serde_json::Value>, PluginError> {
        let input = serde_json::json!({ "name": self.name, "event": event });
        let mut answer = self.plugin.call(abi::LOG_FILTER, &input)?;
        match self.plugin.field(abi::LOG_FILTER, &mut answer, "events")? {
            serde_json::Value::Array(events) if events.iter().all(serde_json::Value::is_object) => {
                Ok(events)
            }
            other => Err(PluginError::new(
                &self.plugin.name,
                format!(
                    "log filter `{}` answered `events` that are not a list of objects: {}",
                    self.name,
                    shorten(&other.to_string())
                ),
            )),
        }
    }

    /// The filter's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// At most 200 characters of `text`, for messages.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
