//! `settings.plugins`: the WebAssembly plugins a config uses (docs/plugins.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spanned::Spanned;

/// One plugin: a WebAssembly module pinned by its digest. Plugins are loaded before anything
/// renders, so every value here is written literally (a template is an error).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// The plugin's name: lower-case letters, digits and `_`, starting with a letter.
    pub name: Spanned<String>,
    /// The `.wasm` file: relative to the config dir (default `plugins/<name>.wasm`), or an
    /// absolute path (a plugin installed on the host, outside the config repository).
    pub path: Option<Spanned<String>>,
    /// SHA-256 of the file, 64 lower-case hex digits (`driftless plugin check FILE` prints
    /// it). A file with another digest is refused, so a changed plugin is a changed config.
    pub sha256: Spanned<String>,
    /// The one path (a file, or a directory and what is below it) the plugin may read, through
    /// its `read_file` import; absolute. Unset: it reads nothing.
    pub grant_read: Option<Spanned<String>>,
}
