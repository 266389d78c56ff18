//! The command line: parsing (clap) and one function per subcommand.

mod agent;
mod apply;
mod check;
mod execute;
mod facts;
mod logs;
mod output;
mod plan;
mod plugin;
mod run_output;
mod selection;
mod show;
mod show_logs;
mod vars;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::ops::{self, ConfigDir};
use output::{err, errln, out};

#[derive(Parser)]
#[command(
    name = "driftless",
    version,
    about = "Configuration management, host metrics and log shipping in one binary",
    propagate_version = true,
    // Our own `help`, so that `driftless help --help` answers like every other subcommand.
    disable_help_subcommand = true,
    after_long_help = EXIT_CODES
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

    /// Read secret NAME from a file (repeatable): --secret db_password=@/root/db.pass. The
    /// file must not be readable by group or others; the plan records its path, never the
    /// value. A value itself is refused: ps and shell history would show it.
    // Parsed after clap: its error for an invalid value would quote the value, which may be
    // the secret itself.
    #[arg(long = "secret", global = true, value_name = "NAME=@PATH")]
    secrets: Vec<String>,

    /// More log output (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Color: auto (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), always,
    /// never
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    color: ColorWhen,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, render and type-check the config; report every problem
    #[command(after_long_help = EXIT_CODES)]
    Check(check::CheckArgs),
    /// Observe the host and write the plan (JSON) to stdout
    #[command(after_long_help = EXIT_CODES)]
    Plan(plan::PlanArgs),
    /// Show a plan for humans
    #[command(after_long_help = EXIT_CODES)]
    Show(show::ShowArgs),
    /// Apply a reviewed plan, or refuse it
    #[command(after_long_help = EXIT_CODES)]
    Execute(execute::ExecuteArgs),
    /// Plan and execute in one step
    #[command(after_long_help = EXIT_CODES)]
    Apply(apply::ApplyArgs),
    /// Say where a var's value comes from on a host: every layer that sets it, the winner first
    #[command(after_long_help = EXIT_CODES)]
    Vars(vars::VarsArgs),
    /// Print host facts, or serve them as Prometheus metrics
    #[command(after_long_help = EXIT_CODES)]
    Facts(facts::FactsArgs),
    /// Run the log pipelines: tail, parse, filter and forward until SIGTERM or SIGINT, or
    /// once over what the files hold
    ///
    /// SIGHUP reloads the config dir: pipelines whose config did not change go on with their
    /// tails and positions, changed ones restart from their checkpoints, new ones start,
    /// removed ones stop. A config with errors changes nothing; its diagnostics go to stderr.
    #[command(after_long_help = EXIT_CODES)]
    Logs(logs::LogsArgs),
    /// Converge the host continuously from its config or a Git repository, and serve metrics
    #[command(after_long_help = EXIT_CODES)]
    Agent(agent::AgentArgs),
    /// Check a WebAssembly plugin (docs/plugins.md)
    #[command(subcommand, after_long_help = EXIT_CODES)]
    Plugin(plugin::PluginCommand),
    /// Print the JSON Schema of config files, or of plan.json
    #[command(after_long_help = EXIT_CODES)]
    Schema {
        #[arg(value_enum, default_value = "config")]
        which: SchemaKind,
    },
    /// Print shell completions
    #[command(after_long_help = EXIT_CODES)]
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff): driftless man | man -l -
    #[command(after_long_help = EXIT_CODES)]
    Man,
    /// Print this message or the help of the given subcommand
    #[command(after_long_help = EXIT_CODES)]
    Help {
        /// The subcommand to describe
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
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
enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether to paint what goes to `stream`: `auto` asks the environment (NO_COLOR,
    /// CLICOLOR, CLICOLOR_FORCE, TERM) and whether the stream is a terminal.
    fn paints(self, stream: &impl anstream::stream::RawStream) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Global options every subcommand shares.
pub struct Globals {
    /// The config dir: `-c`, `DRIFTLESS_CONFIG`, else the default.
    pub config_dir: PathBuf,
    /// `-c` or `DRIFTLESS_CONFIG` was given (not the default).
    pub explicit_config: Option<PathBuf>,
    pub env_file: PathBuf,
    /// `-e NAME=VALUE` pairs.
    pub extra_vars: Vec<String>,
    /// `--secret NAME=@PATH` pairs.
    pub secret_files: Vec<(String, PathBuf)>,
    /// Colored output on stderr.
    pub color: bool,
    /// Colored output on stdout.
    pub stdout_color: bool,
    /// `-q`: only errors.
    pub quiet: bool,
    /// The number of `-v`: which `debug` messages the run output prints.
    pub verbose: u8,
}

impl Globals {
    /// What the workflows compile: the config dir (made once here), the env file, the vars.
    fn inputs(&self) -> ops::Inputs {
        ops::Inputs {
            config_dir: ConfigDir::new(&self.config_dir),
            env_file: self.env_file.clone(),
            extra_vars: self.extra_vars.clone(),
            secret_files: self.secret_files.clone(),
            tags: ops::TagSelection::default(),
        }
    }
}

/// Exit codes, the same for every subcommand: what a script or a CI job may rely on. A usage
/// error is never 2, which `--detailed-exitcode` gives for changes.
const EXIT_CODES: &str = "\
Exit codes (every subcommand):
  0   success; with --detailed-exitcode: nothing to change (plan) or nothing changed
      (execute, apply)
  1   failure: config errors (check; warnings too with --deny-warnings), a refused or
      unreadable plan, a failed node, a run stopped by SIGTERM or SIGINT, a lock held by
      another run, a command not built
  2   only with --detailed-exitcode (plan, execute, apply): changes planned or made
  64  usage error: an unknown subcommand or option, a missing or invalid argument";

/// A usage error's exit code (`EX_USAGE` of sysexits.h): never one that means changes.
const USAGE_ERROR: u8 = 64;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are answers, not errors; a closed output loses nothing here.
            let _ = error.print();
            return match error.exit_code() {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::from(USAGE_ERROR),
            };
        }
    };
    let secret_files = match cli.secrets.iter().map(|a| parse_secret_arg(a)).collect() {
        Ok(files) => files,
        Err(why) => {
            errln!("error: invalid --secret: {why}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let color = cli.color.paints(&std::io::stderr());
    init_tracing(cli.verbose, cli.quiet, color);
    let globals = Globals {
        explicit_config: cli.config.clone(),
        stdout_color: cli.color.paints(&std::io::stdout()),
        config_dir: cli
            .config
            .unwrap_or_else(|| ops::defaults::config_path("config")),
        env_file: cli
            .env_file
            .unwrap_or_else(|| ops::defaults::config_path("env")),
        extra_vars: cli.extra_vars,
        secret_files,
        quiet: cli.quiet,
        verbose: cli.verbose,
        color,
    };
    match cli.command {
        Command::Check(args) => check::run(&globals, &args),
        Command::Schema { which } => {
            out!(
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
            // Generated whole, then written: the generator panics on a closed stdout.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "driftless", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            ExitCode::SUCCESS
        }
        Command::Man => {
            // Rendered whole, then written: a closed stdout loses nothing worth a panic.
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => {
                    out!("{}", String::from_utf8_lossy(&page));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    errln!("error: cannot render the manual page: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Help { command } => help(command.as_deref(), globals.stdout_color),
        Command::Plan(args) => plan::run(&globals, &args),
        Command::Show(args) => show::run(&globals, &args),
        Command::Execute(args) => execute::run(&globals, &args),
        Command::Apply(args) => apply::run(&globals, &args),
        Command::Facts(args) => facts::run(&globals, &args),
        Command::Vars(args) => vars::run(&globals, &args),
        Command::Logs(args) => logs::run(&globals, &args),
        Command::Agent(args) => agent::run(&globals, &args),
        Command::Plugin(command) => plugin::run(&command),
    }
}

/// The diagnostics of a config that has errors, as `check` prints them (`-q`: errors only).
fn print_config_errors(globals: &Globals, compiled: &mut ops::Compiled) {
    if globals.quiet {
        compiled.diagnostics.retain_errors();
    }
    err!(
        "{}",
        crate::diagnostics::render_human(&compiled.diagnostics, &compiled.sources, globals.color)
    );
}

/// Why no plan was made: the config's diagnostics, or one line per node that failed.
fn print_plan_error(globals: &Globals, error: ops::PlanError) -> ExitCode {
    match error {
        ops::PlanError::Config(mut compiled) => print_config_errors(globals, &mut compiled),
        ops::PlanError::Nodes(errors) => {
            for e in errors {
                errln!("error: {}", crate::printable::escape(&e));
            }
        }
    }
    ExitCode::FAILURE
}

/// `--secret NAME=@PATH`: a secret's name and the file holding its value.
fn parse_secret_arg(arg: &str) -> Result<(String, PathBuf), String> {
    let (name, source) = arg
        .split_once('=')
        .ok_or("write NAME=@PATH, e.g. db_password=@/root/db.pass")?;
    let name = crate::printable::escape(name);
    let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!(
            "`{name}` is not a secret name: letters, digits and `_`, not starting with a digit"
        ));
    }
    match source.strip_prefix('@') {
        Some(path) if !path.is_empty() => Ok((name.into_owned(), PathBuf::from(path))),
        // Never echo what was given: it may be the secret itself.
        _ => Err(format!(
            "the value of `{name}` must be a file, `{name}=@PATH`: a value on the command line \
             shows in ps and in shell history"
        )),
    }
}

/// `driftless help [COMMAND]`: the long help of the program or of one subcommand.
fn help(name: Option<&str>, color: bool) -> ExitCode {
    let mut cli = Cli::command();
    // Built: subcommands know their full name (`driftless plan`) for their usage line.
    cli.build();
    let command = match name {
        None => &mut cli,
        Some(name) => match cli.find_subcommand_mut(name) {
            Some(sub) => sub,
            None => {
                errln!("error: no subcommand `{name}`; `driftless help` lists them");
                return ExitCode::from(USAGE_ERROR);
            }
        },
    };
    let text = command.render_long_help();
    if color {
        out!("{}", text.ansi());
    } else {
        out!("{text}");
    }
    ExitCode::SUCCESS
}

/// Log lines on stderr, colored as `--color` says.
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
