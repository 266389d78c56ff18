//! driftless: configuration management, host metrics and log shipping in one binary.
//!
//! The pipeline is a compiler for host state; each stage is a module with one entry function,
//! and data flows one way (see `docs/architecture.md`):
//! [`config::load`] → [`template::render`] (with [`secrets`]) → [`check::check`] → model.
//! The workflows that chain the stages (compile, plan, execute, apply, serve metrics) are
//! library functions in [`ops`]; [`cli`] parses arguments and prints what they return.

pub mod agent;
pub mod apply;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diagnostics;
pub mod error;
pub mod execute;
pub mod facts;
pub mod fs_watch;
pub mod fsutil;
pub mod git;
pub mod grammar;
pub mod host;
pub mod http_client;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod plan;
pub mod plugins;
pub mod printable;
pub mod process;
pub mod resident;
pub mod secrets;
pub mod signals;
pub mod sinks;
pub mod template;
