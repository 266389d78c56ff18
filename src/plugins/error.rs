//! `PluginError`: why a call into a plugin gave no usable answer.

use std::fmt;

/// A plugin that could not be loaded, trapped, ran out of fuel or time, went over its memory
/// limit, read a path it was not granted, or answered something that is not the ABI's JSON.
/// It fails the one node, filter call or event it was for, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The plugin's name in the config (or its file, before it has one).
    pub plugin: String,
    pub message: String,
}

impl PluginError {
    pub fn new(plugin: &str, message: impl Into<String>) -> PluginError {
        PluginError {
            plugin: plugin.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin `{}`: {}", self.plugin, self.message)
    }
}

impl std::error::Error for PluginError {}
