//! `driftless plugin check FILE`: a plugin checked on its own, before a config pins it.

#[cfg(feature = "plugins")]
pub use crate::plugins::inspect::{DryCall, Inspection, Provided};

/// Checks the plugin `file` (see [`crate::plugins::inspect`]); `grant` is the path its dry
/// calls may read.
#[cfg(feature = "plugins")]
pub fn check_plugin(
    file: &std::path::Path,
    grant: Option<&str>,
) -> Result<Inspection, crate::plugins::PluginError> {
    crate::plugins::inspect::inspect(file, grant)
}
