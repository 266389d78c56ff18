//! Facts and metrics about the host.
//!
//! - [`builtin`]: the built-in facts (`facts.*` in templates), gathered once per run.
//! - [`collectors`]: one file per collector of `facts:` tasks (cpu, memory, disk, network,
//!   load, system, process, command, textfile), producing [`metrics::Family`] values with
//!   node_exporter's names.
//! - [`gatherer`]: the running set of collectors — intervals, cached values, thresholds
//!   ([`thresholds`]) and driftless's own metrics.
//! - [`exposition`]: Prometheus text 0.0.4 / OpenMetrics 1.0.0 through prometheus-client, with
//!   content negotiation and gzip; [`server`]: the `/metrics` HTTP server;
//!   [`textfile_output`]: the push alternative (an atomically written `*.prom` file).
//! - [`supervisor`]: runs a command collector's program so that every process it starts is
//!   killed with it.

pub mod builtin;
pub mod collectors;
pub mod exposition;
pub mod gatherer;
pub mod metrics;
pub mod netlink;
pub mod procfs;
pub mod server;
pub mod supervisor;
pub mod textfile_output;
pub mod thresholds;

pub use builtin::HostFacts;
pub use gatherer::Gatherer;
pub use thresholds::ThresholdEvent;
