//! `driftless facts`: print the built-in facts, or the metrics, once; serve `/metrics`; or
//! write the metrics into a textfile directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::Globals;
use super::output::{err, errln, out};
use crate::diagnostics::render_human;
use crate::model::values::Duration as ConfigDuration;
use crate::ops::{self, MetricsError, MetricsServer};
use crate::printable::escape;

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

    /// Send the metrics to the config's `settings.metrics.push` sinks each push interval,
    /// until SIGTERM or SIGINT (`--serve` pushes too, while it serves)
    #[arg(long, conflicts_with_all = ["serve", "textfile", "no_config"])]
    push: bool,

    /// With --textfile: keep rewriting the file at this interval (e.g. "15s")
    #[arg(long, value_name = "DURATION", requires = "textfile")]
    every: Option<String>,

    /// node_exporter's web config file (TLS, basic auth, headers, rate limit: exporter-toolkit's
    /// `web-config.yml`) for --serve; overrides `settings.metrics.web_config`
    #[arg(long = "web.config.file", value_name = "FILE", requires = "serve")]
    web_config_file: Option<PathBuf>,

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
        Err(error) => {
            match &error {
                MetricsError::ConfigErrors(compiled) => err!(
                    "{}",
                    render_human(&compiled.diagnostics, &compiled.sources, globals.color)
                ),
                MetricsError::WebConfig(failed) => err!(
                    "{}",
                    render_human(&failed.diagnostics, &failed.sources, globals.color)
                ),
                MetricsError::Collectors(errors) => {
                    errln!("error: {}", errors.join("\nerror: "));
                    return ExitCode::FAILURE;
                }
                MetricsError::Failed(_) => {}
            }
            errln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(globals: &Globals, args: &FactsArgs) -> Result<ExitCode, MetricsError> {
    let facts = ops::gather_facts();
    let wants_metrics = args.serve.is_some()
        || args.push
        || args.textfile.is_some()
        || matches!(
            args.format,
            FactsFormat::Prometheus | FactsFormat::Openmetrics
        );
    if !wants_metrics {
        out!("{}", facts_text(&facts, args.format)?);
        return Ok(ExitCode::SUCCESS);
    }

    let metrics = ops::load_metrics(&globals.inputs(), args.no_config, &facts)?;
    if args.push || args.serve.is_some() {
        for why in metrics.push.iter().flat_map(|push| push.unhealthy()) {
            errln!(
                "warning: a metrics push sink fails its health check: {}",
                escape(&why)
            );
        }
    }
    if args.push {
        metrics.push_until_stopped()?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &args.textfile {
        let every = match &args.every {
            Some(text) => Some(
                ConfigDuration::parse(text)
                    .filter(|d| !d.0.is_zero())
                    .ok_or_else(|| {
                        MetricsError::Failed(format!(
                            "invalid --every `{text}`: write e.g. \"15s\""
                        ))
                    })?
                    .0,
            ),
            None => None,
        };
        metrics.write_textfile(dir, every)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(serve) = &args.serve else {
        let format = if args.format == FactsFormat::Openmetrics {
            ops::MetricsFormat::OpenMetrics
        } else {
            ops::MetricsFormat::Text
        };
        out!("{}", metrics.render(format)?);
        return Ok(ExitCode::SUCCESS);
    };
    // `--serve` without ADDR: the config's listen address.
    let addr = (!serve.is_empty()).then_some(serve.as_str());
    let server = MetricsServer::bind(
        &metrics,
        addr,
        usize::from(args.workers),
        args.web_config_file.as_deref(),
    )?;
    let scheme = if server.tls() { "https" } else { "http" };
    errln!(
        "serving metrics on {scheme}://{}/metrics",
        server.local_addr()
    );
    server.serve()?;
    errln!("stopped serving metrics");
    Ok(ExitCode::SUCCESS)
}

/// The built-in facts as JSON or YAML.
fn facts_text(facts: &ops::HostFacts, format: FactsFormat) -> Result<String, MetricsError> {
    match format {
        FactsFormat::Yaml => serde_saphyr::to_string(facts)
            .map_err(|e| MetricsError::Failed(format!("cannot write the facts as YAML: {e}"))),
        _ => {
            let mut s = serde_json::to_string_pretty(facts).map_err(|e| {
                MetricsError::Failed(format!("cannot write the facts as JSON: {e}"))
            })?;
            s.push('\n');
            Ok(s)
        }
    }
}
