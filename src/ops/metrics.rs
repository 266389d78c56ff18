//! Serving metrics: the collectors of the config (or the default ones), rendered once,
//! written into a textfile directory (once or on an interval), or served on `/metrics` with
//! the collectors that have an interval run on schedule.

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::compile::{Compiled, Inputs, compile};
use super::defaults;
use super::output_file::check_output_file;
use crate::check::web_config as web_config_file;
use crate::facts::HostFacts;
use crate::metrics::exposition::{Exposition, ExtraFamilies, Format};
use crate::metrics::rate_limit::Rate;
use crate::metrics::server::{self, DEFAULT_PER_CLIENT_RATE, Readiness, ServerOptions};
use crate::metrics::web_config::{WebConfig, WebConfigError};
use crate::metrics::{Gatherer, textfile_output};
use crate::model::settings::{MetricsLimits, MetricsPush};
use crate::secrets::Secrets;
use crate::sinks::{self, Batch, BuildContext, Sink};

/// The metrics a config asks for: its collectors, the address it serves them on, and where it
/// pushes them.
pub struct Metrics {
    pub gatherer: Arc<Gatherer>,
    /// `settings.metrics.listen`.
    pub listen: Option<String>,
    /// `settings.metrics.push`, its sinks built.
    pub push: Option<Arc<Push>>,
    /// `settings.metrics.web_config`, relative to the config dir.
    pub web_config: Option<PathBuf>,
    /// `settings.metrics.limits`.
    pub limits: Option<MetricsLimits>,
}

/// Scrapes sent to sinks on an interval.
pub struct Push {
    pub interval: Duration,
    pub sinks: Vec<Arc<dyn Sink>>,
}

impl Push {
    /// The sinks whose health check fails now, each with why (pushes to them are still
    /// tried: a receiver may come up later).
    pub fn unhealthy(&self) -> Vec<String> {
        self.sinks
            .iter()
            .filter_map(|sink| {
                let failed = sink.health().err()?;
                Some(format!("{}: {}", sink.describe(), failed.message))
            })
            .collect()
    }
}

/// Why metrics cannot be made, written or served.
pub enum MetricsError {
    /// The config has errors; its diagnostics (warnings too) are in it.
    ConfigErrors(Box<Compiled>),
    /// Collectors of the config that cannot be built, one message each.
    Collectors(Vec<String>),
    /// The web config file has errors.
    WebConfig(Box<WebConfigError>),
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
            MetricsError::WebConfig(_) => f.write_str("the web config file cannot be used"),
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
    let (tasks, settings) =
        if no_config || (!dir.exists() && dir == defaults::config_path("config")) {
            (Vec::new(), None)
        } else {
            let compiled = compile(inputs, facts);
            if compiled.diagnostics.has_errors() {
                return Err(MetricsError::ConfigErrors(Box::new(compiled)));
            }
            (compiled.config.facts, compiled.config.settings.metrics)
        };
    let gatherer = Gatherer::from_tasks(&tasks).map_err(MetricsError::Collectors)?;
    let listen = settings
        .as_ref()
        .and_then(|m| m.listen.as_ref())
        .map(|l| l.value.clone());
    let web_config = settings
        .as_ref()
        .and_then(|m| m.web_config.as_ref())
        .map(|path| dir.join(&path.value));
    let limits = settings.as_ref().and_then(|m| m.limits.clone());
    let push = match settings.and_then(|m| m.push) {
        Some(push) => Some(Arc::new(build_push(&push, inputs, facts)?)),
        None => None,
    };
    Ok(Metrics {
        gatherer: Arc::new(gatherer),
        listen,
        push,
        web_config,
        limits,
    })
}

/// The push's sinks, built with their credentials from the secrets.
fn build_push(
    push: &MetricsPush,
    inputs: &Inputs,
    facts: &HostFacts,
) -> Result<Push, MetricsError> {
    let secrets = Secrets::standard(&inputs.env_file, &inputs.secret_files, &inputs.config_dir)
        .map_err(MetricsError::Failed)?;
    let cx = BuildContext {
        secrets: &secrets,
        host: &facts.hostname,
    };
    let sinks = push
        .sinks
        .iter()
        .map(|sink| {
            sinks::build(&sink.value, &cx)
                .map_err(|e| format!("{}: {}", sink.value.destination(), e.message))
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(MetricsError::Failed)?;
    Ok(Push {
        interval: push.interval.value.0,
        sinks,
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

impl Metrics {
    /// Sends a scrape to every push sink each interval until a stop signal (SIGTERM, SIGINT),
    /// in the calling thread.
    pub fn push_until_stopped(&self) -> Result<(), MetricsError> {
        let Some(push) = &self.push else {
            return Err(MetricsError::Failed(
                "nothing to push to: set `settings: { metrics: { push: { interval: 15s, sinks: [...] } } }` in the config".to_owned(),
            ));
        };
        crate::signals::stop_on_signals()
            .map_err(|e| MetricsError::Failed(format!("cannot handle stop signals: {e}")))?;
        push_loop(&self.gatherer, push);
        Ok(())
    }
}

/// Each interval, a scrape to every sink at once; a sink that fails is logged and gets the
/// next scrape (a scrape is a snapshot: the next one supersedes it).
fn push_loop(gatherer: &Arc<Gatherer>, push: &Push) {
    let exposition = Exposition::for_textfile(Arc::clone(gatherer));
    let mut scrape: u64 = 0;
    while !crate::signals::stop_requested() {
        scrape += 1;
        match exposition.render(Format::Text) {
            Ok(text) => {
                let batch =
                    Batch::document(text.into_bytes(), SystemTime::now(), scrape.to_string());
                for failure in sinks::send_to_all(&push.sinks, &batch) {
                    tracing::warn!(error = %failure, "a metrics push failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "encoding metrics failed"),
        }
        // A stop signal ends the wait early.
        let until = Instant::now() + push.interval;
        while !crate::signals::stop_requested() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100).min(push.interval));
        }
    }
}

/// A `/metrics` server bound to its address, not serving yet.
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: String,
    gatherer: Arc<Gatherer>,
    push: Option<Arc<Push>>,
    options: ServerOptions,
}

impl MetricsServer {
    /// Binds `addr`, or the config's `settings.metrics.listen` when `addr` is `None`, and makes
    /// SIGTERM and SIGINT stop [`MetricsServer::serve`] gracefully (the server's stop flag is
    /// process-wide, as signals are). `web_config` (`--web.config.file`) overrides the
    /// config's `settings.metrics.web_config`.
    pub fn bind(
        metrics: &Metrics,
        addr: Option<&str>,
        workers: usize,
        web_config: Option<&Path>,
    ) -> Result<MetricsServer, MetricsError> {
        let web = match web_config.or(metrics.web_config.as_deref()) {
            Some(path) => {
                web_config_file::load(path).map_err(|e| MetricsError::WebConfig(Box::new(e)))?
            }
            None => WebConfig::default(),
        };
        let options = server_options(workers, metrics.limits.as_ref(), web);
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
            push: metrics.push.clone(),
            options,
        })
    }

    /// Whether it serves HTTPS.
    pub fn tls(&self) -> bool {
        self.options.web.tls.is_some()
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> &str {
        &self.local_addr
    }

    /// Serves until a stop signal or until the listener fails; collectors that have an
    /// interval run on schedule meanwhile, so their thresholds fire without scrapes, and the
    /// config's push sinks get a scrape each push interval.
    pub fn serve(self) -> Result<(), MetricsError> {
        self.serve_with(None, None)
    }

    /// [`MetricsServer::serve`] with `extra`'s metrics in every scrape, and `/healthz` and
    /// `/readyz` answered from `readiness` (the agent's).
    pub fn serve_with(
        mut self,
        extra: Option<Arc<dyn ExtraFamilies>>,
        readiness: Option<Arc<dyn Readiness>>,
    ) -> Result<(), MetricsError> {
        start_background(&self.gatherer, self.push.as_ref());
        self.options.readiness = readiness;
        let exposition = Arc::new(Exposition::new(self.gatherer).with_extra(extra));
        crate::resident::release_startup_pages();
        server::serve(self.listener, exposition, self.options)
            .map_err(|e| MetricsError::Failed(format!("metrics server: {e}")))
    }
}

impl Metrics {
    /// What a server does besides answering, without one: collectors with an interval run on
    /// schedule, and scrapes go to the push sinks, in background threads.
    pub fn start_background(&self) {
        start_background(&self.gatherer, self.push.as_ref());
    }
}

fn start_background(gatherer: &Arc<Gatherer>, push: Option<&Arc<Push>>) {
    start_scheduler(Arc::clone(gatherer));
    if let Some(push) = push {
        let (gatherer, push) = (Arc::clone(gatherer), Arc::clone(push));
        let spawned = std::thread::Builder::new()
            .name("metrics-push".into())
            .spawn(move || push_loop(&gatherer, &push));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics push");
        }
    }
}

/// The server's options: `settings.metrics.limits` over the defaults.
fn server_options(workers: usize, limits: Option<&MetricsLimits>, web: WebConfig) -> ServerOptions {
    let defaults = ServerOptions::default();
    let Some(limits) = limits else {
        return ServerOptions {
            workers,
            web,
            ..defaults
        };
    };
    let count = |v: &Option<crate::model::Spanned<u32>>, default: usize| {
        v.as_ref().map_or(default, |v| v.value as usize)
    };
    let duration = |v: &Option<crate::model::Spanned<crate::model::values::Duration>>,
                    default: Duration| v.as_ref().map_or(default, |v| v.value.0);
    ServerOptions {
        workers,
        max_connections: count(&limits.max_connections, defaults.max_connections),
        max_request_bytes: count(&limits.max_header_bytes, defaults.max_request_bytes),
        read_timeout: duration(&limits.read_timeout, defaults.read_timeout),
        write_timeout: duration(&limits.write_timeout, defaults.write_timeout),
        per_client_rate: Some(Rate {
            burst: limits
                .client_burst
                .as_ref()
                .map_or(DEFAULT_PER_CLIENT_RATE.burst, |b| b.value),
            interval: duration(&limits.client_interval, DEFAULT_PER_CLIENT_RATE.interval),
        }),
        web,
        ..defaults
    }
}

/// Runs collectors that have an interval on schedule, so their thresholds fire without
/// scrapes.
fn start_scheduler(gatherer: Arc<Gatherer>) {
    let spawned = std::thread::Builder::new()
        .name("facts-scheduler".into())
        .spawn(move || {
            // Without a collector on an interval it waits for a reload that brings one.
            loop {
                let wait = gatherer.run_due();
                gatherer.sleep_unless_reloaded(wait.map(|w| w.max(Duration::from_millis(100))));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the collector scheduler; collectors run on scrape only");
    }
}
