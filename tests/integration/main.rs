//! The integration tests: one test binary (compiled and linked once), one module per area.
//! A test's name is `<module>::<test>` (`execute_file::…`, `fuzz::loaders::…`); filter by
//! module with `cargo nextest run -E 'test(/^execute_/)'`.
//!
//! Tests reach the library only through its public API, and mostly through the real binary
//! (`CARGO_BIN_EXE_driftless`); `stage_invariants` reads `src/` itself. Shared helpers:
//! `common` (a config dir and a managed root in temp dirs, the binary run on them) and
//! `facts_support` (the metrics server, the real Prometheus tools).

mod agent_support;
mod common;
mod deps;
mod facts_support;
mod firewall_root;
mod held_root;
mod http_support;
mod logs_support;
mod metrics_tls_support;
mod recipes;
mod sandbox;
mod sinks_support;

mod agent_collectors_reload;
mod agent_deb;
mod agent_gitops;
mod agent_lifecycle;
mod agent_verify_commits;
mod cli;
mod control_tasks;
mod example_webserver;
mod execute_accounts;
mod execute_archive;
mod execute_authorized_key;
mod execute_blockinfile;
mod execute_command;
mod execute_copy;
mod execute_crash_safety;
mod execute_cron;
mod execute_directory;
mod execute_facts;
mod execute_failure_isolation;
mod execute_file;
mod execute_get_url;
mod execute_git;
mod execute_hostname;
mod execute_idempotency;
#[cfg(feature = "test-types")]
mod execute_interrupt;
mod execute_iptables;
mod execute_lineinfile;
mod execute_link;
mod execute_modes_owners;
mod execute_mount;
mod execute_noop_chain;
mod execute_notify;
mod execute_npm;
mod execute_package;
mod execute_pip;
mod execute_reboot;
mod execute_refusals;
mod execute_replace;
mod execute_run_output;
mod execute_run_report;
mod execute_secrets;
mod execute_service;
mod execute_sudoers;
mod execute_sysctl;
mod execute_template;
mod execute_timezone;
mod execute_ufw;
mod execute_unarchive;
mod execute_uri;
mod execute_validate_backup;
mod execute_wait_for;
mod facts_cli;
mod facts_node_exporter_parity;
mod facts_prometheus;
mod facts_push;
mod facts_server;
mod fixtures;
mod fleet;
mod fuzz;
mod grammar;
mod grammar_corpus;
mod log_outputs;
mod log_parsing;
mod log_source;
mod logs_delivery;
mod logs_plan;
mod logs_receivers;
mod metrics_endpoint;
mod metrics_prometheus_scrape;
mod plan_assert;
mod plan_handler_chain;
mod plan_output;
mod plan_show;
mod plan_snapshots;
#[cfg(feature = "plugins")]
mod plugins;
#[cfg(feature = "test-types")]
mod resource_contract;
mod secrets;
mod security_bounds;
mod security_loaders;
mod security_lock;
mod security_metrics_server;
mod security_nofollow;
mod security_repo;
mod security_review;
mod security_secret_files;
mod security_secrets;
mod sink_syslog;
mod sinks_http;
mod sinks_s3;
mod stage_invariants;
mod task_keywords;
mod template_filters;
