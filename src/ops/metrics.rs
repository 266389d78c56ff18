//! Serving metrics: the collectors of the config (or the default ones), rendered once,
//! written into a textfile directory (once or on an interval), or served on `/metrics` with
//! the collectors that have an interval run on schedule.

use std::fmt;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::compile::{Compiled, Inputs, compile};
use super::defaults;
use super::output_file::check_output_file;
use crate::facts::HostFacts;
use crate::metrics::exposition::{Exposition, Format};
use crate::metrics::server::{self, ServerOptions};
use crate::metrics::{Gatherer, textfile_output};

/// The metrics a config asks for: its collectors, and the address it serves them on.
pub struct Metrics {
    pub gatherer: Arc<Gatherer>,
    /// `settings.metrics.listen`.
    pub listen: Option<String>,
}

/// Why metrics cannot be made, written or served.
pub enum MetricsError {
    /// The config has errors; its diagnostics (warnings too) are in it.
    ConfigErrors(Box<Compiled>),
    /// Collectors of the config that cannot be built, one message each.
    Collectors(Vec<String>),
    /// Anything else, said in one message.
    Failed(String),
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsError::ConfigErrors(_) => {
                f.write_str("the config has errors; fix them or pass --no-config")
            }
            MetricsError::Collectors(errors) => f.write_str(&errors.join("; ")),
            MetricsError::Failed(why) => f.write_str(why),
        }
    }
}

/// The collectors of the config, or the default collectors when `no_config` is set or the
/// default config dir does not exist (no config at all).
pub fn load_metrics(
    inputs: &Inputs,
    no_config: bool,
    facts: &HostFacts,
) -> Result<Metrics, MetricsError> {
    let dir = inputs.config_dir.path();
    let (tasks, listen) = if no_config || (!dir.exists() && dir == defaults::config_path("config"))
    {
        (Vec::new(), None)
    } else {
        let compiled = compile(inputs, facts);
        if compiled.diagnostics.has_errors() {
            return Err(MetricsError::ConfigErrors(Box::new(compiled)));
        }
        let listen = compiled
            .config
            .settings
            .metrics
            .as_ref()
            .map(|m| m.listen.value.clone());
        (compiled.config.facts, listen)
    };
    let gatherer = Gatherer::from_tasks(&tasks).map_err(MetricsError::Collectors)?;
    Ok(Metrics {
        gatherer: Arc::new(gatherer),
        listen,
    })
}

impl Metrics {
    /// Every collector run now, in `format`.
    pub fn render(&self, format: Format) -> Result<String, MetricsError> {
        Exposition::new(Arc::clone(&self.gatherer))
            .render(format)
            .map_err(|e| MetricsError::Failed(format!("encoding metrics failed: {e}")))
    }

    /// Writes the metrics into `dir`/driftless.prom (atomically) for node_exporter's textfile
    /// collector: once, or every `every` until writing fails.
    pub fn write_textfile(&self, dir: &Path, every: Option<Duration>) -> Result<(), MetricsError> {
        let exposition = Exposition::for_textfile(Arc::clone(&self.gatherer));
        loop {
            let text = exposition
                .render(Format::Text)
                .map_err(|e| MetricsError::Failed(format!("encoding metrics failed: {e}")))?;
            check_output_file(&dir.join(textfile_output::FILE_NAME))
                .map_err(MetricsError::Failed)?;
            let path = textfile_output::write_atomically(dir, textfile_output::FILE_NAME, &text)
                .map_err(|e| {
                    MetricsError::Failed(format!("cannot write into {}: {e}", dir.display()))
                })?;
            tracing::info!(path = %path.display(), "wrote metrics");
            match every {
                Some(every) => std::thread::sleep(every),
                None => return Ok(()),
            }
        }
    }
}

/// A `/metrics` server bound to its address, not serving yet.
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: String,
    gatherer: Arc<Gatherer>,
    workers: usize,
}

impl MetricsServer {
    /// Binds `addr`, or the config's `settings.metrics.listen` when `addr` is `None`, and makes
    /// SIGTERM and SIGINT stop [`MetricsServer::serve`] gracefully (the server's stop flag is
    /// process-wide, as signals are).
    pub fn bind(
        metrics: &Metrics,
        addr: Option<&str>,
        workers: usize,
    ) -> Result<MetricsServer, MetricsError> {
        let addr = match addr {
            Some(addr) => addr.to_owned(),
            None => metrics.listen.clone().ok_or_else(|| {
                MetricsError::Failed(
                    "no listen address: pass --serve ADDR (e.g. 127.0.0.1:9100) or set \
                     `settings: { metrics: { listen: \"127.0.0.1:9100\" } }` in the config"
                        .to_owned(),
                )
            })?,
        };
        let listener = TcpListener::bind(&addr)
            .map_err(|e| MetricsError::Failed(format!("cannot listen on {addr}: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_or(addr.clone(), |a| a.to_string());
        server::stop_on_signals()
            .map_err(|e| MetricsError::Failed(format!("cannot handle stop signals: {e}")))?;
        Ok(MetricsServer {
            listener,
            local_addr,
            gatherer: Arc::clone(&metrics.gatherer),
            workers,
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> &str {
        &self.local_addr
    }

    /// Serves until a stop signal or until the listener fails; collectors that have an
    /// interval run on schedule meanwhile, so their thresholds fire without scrapes.
    pub fn serve(self) -> Result<(), MetricsError> {
        start_scheduler(Arc::clone(&self.gatherer));
        let exposition = Arc::new(Exposition::new(self.gatherer));
        let options = ServerOptions {
            workers: self.workers,
            ..ServerOptions::default()
        };
        server::serve(self.listener, exposition, options)
            .map_err(|e| MetricsError::Failed(format!("metrics server: {e}")))
    }
}

/// Runs collectors that have an interval on schedule, so their thresholds fire without
/// scrapes.
fn start_scheduler(gatherer: Arc<Gatherer>) {
    let spawned = std::thread::Builder::new()
        .name("facts-scheduler".into())
        .spawn(move || {
            while let Some(wait) = gatherer.run_due() {
                std::thread::sleep(wait.max(Duration::from_millis(100)));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the collector scheduler; collectors run on scrape only");
    }
}
