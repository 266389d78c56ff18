//! `driftless facts`: print the built-in facts, or the metrics, once; serve `/metrics`; or
//! write the metrics into a textfile directory.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;

use super::Globals;
use crate::diagnostics::render_human;
use crate::facts::HostFacts;
use crate::metrics::exposition::{Exposition, Format};
use crate::metrics::server::{self, ServerOptions};
use crate::metrics::{Gatherer, textfile_output};
use crate::model::values::Duration as ConfigDuration;
use crate::pipeline;

#[derive(clap::Args)]
pub struct FactsArgs {
    /// Output format when printing once
    #[arg(long, value_enum, default_value_t = FactsFormat::Json)]
    format: FactsFormat,

    /// Serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9100) at /metrics; without ADDR, the
    /// config's `settings.metrics.listen`
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    serve: Option<String>,

    /// Write the metrics into DIR/driftless.prom (atomically) for node_exporter's textfile
    /// collector, instead of printing
    #[arg(long, value_name = "DIR", conflicts_with = "serve")]
    textfile: Option<PathBuf>,

    /// With --textfile: keep rewriting the file at this interval (e.g. "15s")
    #[arg(long, value_name = "DURATION", requires = "textfile")]
    every: Option<String>,

    /// Worker threads of the /metrics server
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,

    /// Ignore the config dir's `facts:` tasks and run the default collectors
    #[arg(long)]
    no_config: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FactsFormat {
    /// The built-in facts as JSON
    Json,
    /// The built-in facts as YAML
    Yaml,
    /// The metrics in the Prometheus text format 0.0.4
    Prometheus,
    /// The metrics in the OpenMetrics 1.0.0 text format
    Openmetrics,
}

pub fn run(globals: &Globals, args: &FactsArgs) -> ExitCode {
    match run_inner(globals, args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(globals: &Globals, args: &FactsArgs) -> Result<ExitCode, String> {
    let facts = HostFacts::gather();
    let wants_metrics = args.serve.is_some()
        || args.textfile.is_some()
        || matches!(
            args.format,
            FactsFormat::Prometheus | FactsFormat::Openmetrics
        );
    if !wants_metrics {
        let text = match args.format {
            FactsFormat::Yaml => serde_saphyr::to_string(&facts)
                .map_err(|e| format!("cannot write the facts as YAML: {e}"))?,
            _ => {
                let mut s = serde_json::to_string_pretty(&facts)
                    .map_err(|e| format!("cannot write the facts as JSON: {e}"))?;
                s.push('\n');
                s
            }
        };
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }

    let (tasks, listen) = load_config(globals, args, &facts)?;
    let gatherer =
        Arc::new(Gatherer::from_tasks(&tasks).map_err(|errors| errors.join("\nerror: "))?);

    if let Some(dir) = &args.textfile {
        let exposition = Exposition::for_textfile(Arc::clone(&gatherer));
        let every = match &args.every {
            Some(text) => Some(
                ConfigDuration::parse(text)
                    .filter(|d| !d.0.is_zero())
                    .ok_or_else(|| format!("invalid --every `{text}`: write e.g. \"15s\""))?
                    .0,
            ),
            None => None,
        };
        loop {
            let text = exposition
                .render(Format::Text)
                .map_err(|e| format!("encoding metrics failed: {e}"))?;
            super::check_output_file(&dir.join(textfile_output::FILE_NAME))?;
            let path = textfile_output::write_atomically(dir, textfile_output::FILE_NAME, &text)
                .map_err(|e| format!("cannot write into {}: {e}", dir.display()))?;
            tracing::info!(path = %path.display(), "wrote metrics");
            match every {
                Some(every) => std::thread::sleep(every),
                None => return Ok(ExitCode::SUCCESS),
            }
        }
    }

    let exposition = Arc::new(Exposition::new(Arc::clone(&gatherer)));
    let Some(serve) = &args.serve else {
        let format = if args.format == FactsFormat::Openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        let text = exposition
            .render(format)
            .map_err(|e| format!("encoding metrics failed: {e}"))?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    let addr = if serve.is_empty() {
        listen.ok_or(
            "no listen address: pass --serve ADDR (e.g. 127.0.0.1:9100) or set \
             `settings: { metrics: { listen: \"127.0.0.1:9100\" } }` in the config",
        )?
    } else {
        serve.clone()
    };
    let listener = TcpListener::bind(&addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_or(addr.clone(), |a| a.to_string());
    server::stop_on_signals().map_err(|e| format!("cannot handle stop signals: {e}"))?;
    eprintln!("serving metrics on http://{local}/metrics");
    start_scheduler(Arc::clone(&gatherer));
    let options = ServerOptions {
        workers: usize::from(args.workers),
        ..ServerOptions::default()
    };
    server::serve(listener, exposition, options).map_err(|e| format!("metrics server: {e}"))?;
    eprintln!("stopped serving metrics");
    Ok(ExitCode::SUCCESS)
}

/// The config's facts tasks and metrics listen address. A missing default config dir means
/// "no config": the default collectors run.
fn load_config(
    globals: &Globals,
    args: &FactsArgs,
    facts: &HostFacts,
) -> Result<(Vec<crate::model::FactsTask>, Option<String>), String> {
    let dir = &globals.inputs.config_dir;
    if args.no_config || (!dir.exists() && *dir == pipeline::default_path("config")) {
        return Ok((Vec::new(), None));
    }
    let compiled = pipeline::compile(&globals.inputs, facts);
    if compiled.diagnostics.has_errors() {
        eprint!(
            "{}",
            render_human(&compiled.diagnostics, &compiled.sources, globals.color)
        );
        return Err("the config has errors; fix them or pass --no-config".into());
    }
    let listen = compiled
        .config
        .settings
        .metrics
        .as_ref()
        .map(|m| m.listen.value.clone());
    Ok((compiled.config.facts, listen))
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
