//! Facts about the host. Built-in facts are gathered once per run and feed templates and
//! `when`; collectors and `/metrics` arrive with the facts issue.

pub mod builtin;

pub use builtin::HostFacts;
