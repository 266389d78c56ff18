//! driftless: configuration management, host metrics and log shipping in one binary.
//!
//! The pipeline is a compiler for host state; each stage is a module with one entry function,
//! and data flows one way (see `docs/architecture.md`):
//! [`config::load`] → [`template::render`] (with [`secrets`]) → [`check::check`] → model.

pub mod check;
pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod facts;
pub mod grammar;
pub mod model;
pub mod pipeline;
pub mod secrets;
pub mod template;
