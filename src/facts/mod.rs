//! The built-in facts: what templates see as `facts.*` (`facts.hostname`, `facts.os.family`,
//! …), gathered once per run from the host readers in [`crate::host`].
//!
//! The metrics exporter (`facts:` tasks, `/metrics`) is [`crate::metrics`].

pub mod builtin;
pub mod recorded;

pub use builtin::HostFacts;
