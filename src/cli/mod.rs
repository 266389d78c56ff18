//! The command line: parsing (clap) and one function per subcommand.

mod apply;
mod check;
mod execute;
mod facts;
mod plan;
mod show;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::pipeline;

#[derive(Parser)]
#[command(
    name = "driftless",
    version,
    about = "Configuration management, host metrics and log shipping in one binary",
    propagate_version = true
)]
pub struct Cli {
    /// The config directory [default: $DRIFTLESS_CONFIG, else ~/.config/driftless/config]
    #[arg(
        short,
        long,
        global = true,
        value_name = "DIR",
        env = "DRIFTLESS_CONFIG"
    )]
    config: Option<PathBuf>,

    /// Env file with secrets, NAME=value lines [default: ~/.config/driftless/env]
    #[arg(long, global = true, value_name = "PATH")]
    env_file: Option<PathBuf>,

    /// Set a var, overriding the config's (repeatable): -e root=/srv/app
    #[arg(
        short = 'e',
        long = "extra-var",
        global = true,
        value_name = "NAME=VALUE"
    )]
    extra_vars: Vec<String>,

    /// More log output (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, render and type-check the config; report every problem
    Check(check::CheckArgs),
    /// Observe the host and write the plan (JSON) to stdout
    Plan(plan::PlanArgs),
    /// Show a plan for humans
    Show(show::ShowArgs),
    /// Apply a reviewed plan, or refuse it
    Execute(execute::ExecuteArgs),
    /// Plan and execute in one step
    Apply(apply::ApplyArgs),
    /// Print host facts, or serve them as Prometheus metrics
    Facts(facts::FactsArgs),
    /// Run the log pipelines
    Logs(PendingArgs),
    /// Pull, converge, collect and ship continuously
    Agent(PendingArgs),
    /// Print the JSON Schema of config files, or of plan.json
    Schema {
        #[arg(value_enum, default_value = "config")]
        which: SchemaKind,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// Arguments of subcommands that later issues build; accepted so the message is the same.
#[derive(clap::Args)]
struct PendingArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Which schema `driftless schema` prints.
#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    /// Config files (grammar/config.schema.json)
    Config,
    /// plan.json (grammar/plan.schema.json)
    Plan,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Global options every subcommand shares.
#[derive(Clone)]
pub struct Globals {
    pub inputs: pipeline::Inputs,
    /// `-c` or `DRIFTLESS_CONFIG` was given (not the default).
    pub explicit_config: Option<PathBuf>,
    /// Colored output on stderr.
    pub color: bool,
    /// Colored output on stdout.
    pub stdout_color: bool,
    /// `-q`: only errors.
    pub quiet: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    init_tracing(
        cli.verbose,
        cli.quiet,
        std::io::stderr().is_terminal() && !no_color,
    );
    let globals = Globals {
        explicit_config: cli.config.clone(),
        stdout_color: std::io::stdout().is_terminal() && !no_color,
        inputs: pipeline::Inputs {
            config_dir: cli
                .config
                .unwrap_or_else(|| pipeline::default_path("config")),
            env_file: cli
                .env_file
                .unwrap_or_else(|| pipeline::default_path("env")),
            extra_vars: cli.extra_vars,
        },
        quiet: cli.quiet,
        color: std::io::stderr().is_terminal() && !no_color,
    };
    match cli.command {
        Command::Check(args) => check::run(&globals, &args),
        Command::Schema { which } => {
            print!(
                "{}",
                match which {
                    SchemaKind::Config => crate::grammar::config_schema_text(),
                    SchemaKind::Plan => crate::grammar::plan_schema_text(),
                }
            );
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => {
            let shell = match shell {
                CompletionShell::Bash => Shell::Bash,
                CompletionShell::Zsh => Shell::Zsh,
                CompletionShell::Fish => Shell::Fish,
            };
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "driftless",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Plan(args) => plan::run(&globals, &args),
        Command::Show(args) => show::run(&globals, &args),
        Command::Execute(args) => execute::run(&globals, &args),
        Command::Apply(args) => apply::run(&globals, &args),
        Command::Facts(args) => facts::run(&globals, &args),
        Command::Logs(_) => pending("logs"),
        Command::Agent(_) => pending("agent"),
    }
}

/// Gathers the built-in facts once for the run.
fn gather_facts() -> crate::facts::HostFacts {
    let started = std::time::Instant::now();
    let facts = crate::facts::HostFacts::gather();
    tracing::debug!(elapsed = ?started.elapsed(), "gathered facts");
    facts
}

/// Compiles the config against the host's facts; on errors prints the diagnostics (as `check`
/// does) and returns `None`.
fn compile_config(
    globals: &Globals,
    facts: &crate::facts::HostFacts,
) -> Option<pipeline::Compiled> {
    let mut compiled = pipeline::compile(&globals.inputs, facts);
    if globals.quiet || !compiled.diagnostics.has_errors() {
        compiled.diagnostics.retain_errors();
    }
    if !compiled.diagnostics.is_empty() {
        eprint!(
            "{}",
            crate::diagnostics::render_human(
                &compiled.diagnostics,
                &compiled.sources,
                globals.color
            )
        );
    }
    (!compiled.diagnostics.has_errors()).then_some(compiled)
}

/// Where driftless keeps its state when `--state-dir` (`DRIFTLESS_STATE_DIR`) is not given:
/// `/var/lib/driftless` as root, `$XDG_STATE_HOME/driftless` (default
/// `~/.local/state/driftless`) otherwise. It holds the run lock and, without `settings.audit`,
/// the run reports (`runs/`).
fn default_state_dir() -> PathBuf {
    if crate::host::users::current().0 == 0 {
        return PathBuf::from("/var/lib/driftless");
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("driftless")
}

/// A file the user names for output (`plan -o FILE`, the metrics textfile) is written only as a
/// regular file or at a new path: the atomic write renames over what is there, which would
/// replace a device (`/dev/null`), a FIFO or a symlink instead of writing into it.
fn check_output_file(path: &std::path::Path) -> Result<(), String> {
    let kind = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(metadata) => {
            use std::os::unix::fs::FileTypeExt;
            let t = metadata.file_type();
            if t.is_symlink() {
                "a symbolic link"
            } else if t.is_dir() {
                "a directory"
            } else if t.is_fifo() {
                "a FIFO"
            } else if t.is_socket() {
                "a socket"
            } else {
                "a device"
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
    };
    Err(format!(
        "{} is {kind}; driftless writes output only to a regular file or a new path (to \
         send the output elsewhere, write it to stdout and redirect it)",
        path.display()
    ))
}

/// A subcommand this build does not have yet: said plainly, never a fake success.
fn pending(name: &str) -> ExitCode {
    eprintln!("error: `driftless {name}` is not available in this version of driftless yet");
    ExitCode::FAILURE
}

/// Log lines on stderr, colored only on a terminal and without `NO_COLOR`.
fn init_tracing(verbose: u8, quiet: bool, color: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRIFTLESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(color)
        .try_init();
}
