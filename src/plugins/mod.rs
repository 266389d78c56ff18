//! Plugins in WebAssembly: task types, template filters and log filters a site writes itself,
//! run in wasmtime with no access to the host (docs/plugins.md).
//!
//! Behind the cargo feature `plugins`; without it only [`Plugins`] exists, and a config that
//! declares a plugin is an error. With it:
//!
//! - `declaration` reads `settings.plugins` before anything renders; `host` (`Plugins::load`)
//!   reads each file, compares its SHA-256 with the pin, and opens it (`plugin`): compiled by
//!   `cache` (or taken from the state directory), linked and run by `sandbox` (a fresh
//!   instance per call, fuel, an epoch deadline, a memory limit, no import but `read_file`,
//!   which `grant` restricts to the one path the config grants), described by `manifest`;
//! - the template stage registers the plugins' filters (`filter`) and expands each plugin
//!   task into built-in tasks (`task_type`) before `check`, which then checks, plans and
//!   applies them like written ones;
//! - `log_filter::LogFilterPlugin` is how a log pipeline calls a plugin's log filter;
//! - `inspect` is `driftless plugin check FILE`.
//!
//! `abi` is the interface's one description in code.

pub mod abi;
mod error;

pub use error::PluginError;

#[cfg(feature = "plugins")]
mod cache;
#[cfg(feature = "plugins")]
mod declaration;
#[cfg(feature = "plugins")]
mod filter;
#[cfg(feature = "plugins")]
mod grant;
#[cfg(feature = "plugins")]
mod host;
#[cfg(feature = "plugins")]
pub mod inspect;
#[cfg(feature = "plugins")]
pub mod log_filter;
#[cfg(feature = "plugins")]
mod manifest;
#[cfg(feature = "plugins")]
mod plugin;
#[cfg(feature = "plugins")]
mod sandbox;
#[cfg(feature = "plugins")]
mod task_type;

#[cfg(feature = "plugins")]
pub use host::Plugins;
#[cfg(feature = "plugins")]
pub use log_filter::LogFilterPlugin;
#[cfg(feature = "plugins")]
pub use sandbox::{DEADLINE_TICKS, EPOCH_TICK, FUEL_PER_CALL, MEMORY_LIMIT};

#[cfg(not(feature = "plugins"))]
mod disabled;
#[cfg(not(feature = "plugins"))]
pub use disabled::Plugins;

use crate::config::Node;

/// Whether this build runs plugins (the `plugins` feature).
pub const ENABLED: bool = cfg!(feature = "plugins");

/// What a plugin task became: built-in tasks, in the order the plugin gave them.
pub struct Expansion {
    /// The id the plugin gives the task when the config gives none.
    pub default_id: Option<String>,
    pub tasks: Vec<ExpandedTask>,
}

/// One built-in task a plugin task expanded to.
pub struct ExpandedTask {
    /// Its id among the others (`conf` in `motd[conf]`), or its index.
    pub key: String,
    /// `type` and the type's fields, every node placed at the plugin task's `type`.
    pub node: Node,
    /// The keys of the tasks of the same expansion it runs after.
    pub after: Vec<String>,
}

/// SHA-256 of `bytes`, lower-case hex: a plugin's pin.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
