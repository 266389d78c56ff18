//! The metrics exporter: the collectors of `facts:` tasks and how their values leave the host.
//!
//! - [`collectors`]: one file per collector (cpu, memory, disk, network, load, system,
//!   process, command, textfile), producing [`family::Family`] values with node_exporter's
//!   names; what they read of the host comes from [`crate::host`].
//! - [`family`]: the metric data (`Family`, samples, labels) and the merge of all collectors'
//!   output.
//! - [`gatherer`]: the running set of collectors — intervals, cached values, thresholds
//!   ([`thresholds`]) and driftless's own metrics.
//! - [`exposition`]: Prometheus text 0.0.4 / OpenMetrics 1.0.0 (written by [`text_format`],
//!   which keeps every family's type and name as given), with content negotiation and gzip;
//!   [`server`]: the `/metrics` HTTP server;
//!   [`textfile_output`]: the push alternative (an atomically written `*.prom` file).
//!
//! The `command` collector runs its program under [`crate::process::supervisor`], so that every
//! process it starts is killed with it.

pub mod basic_auth;
pub mod collect_filter;
pub mod collectors;
pub mod exposition;
pub mod family;
pub mod gatherer;
pub mod rate_limit;
pub mod server;
pub mod text_format;
pub mod textfile_output;
pub mod thresholds;
pub mod tls;
mod transport;
pub mod web_config;

pub use gatherer::Gatherer;
pub use thresholds::ThresholdEvent;
