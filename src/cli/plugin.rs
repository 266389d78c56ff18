//! `driftless plugin check FILE`: what a plugin provides, its digest to pin, and whether its
//! dry calls pass.

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::errln;
#[cfg(feature = "plugins")]
use super::output::outln;

#[derive(clap::Subcommand)]
pub enum PluginCommand {
    /// Check a plugin: it compiles, imports nothing but `read_file`, speaks this ABI version,
    /// exports what it declares, its schemas compile, and its examples pass a dry call
    Check {
        /// The plugin (.wasm)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The path its dry calls may read, as `grant_read` would grant it
        #[arg(long, value_name = "PATH")]
        grant_read: Option<String>,
    },
}

#[cfg(feature = "plugins")]
pub fn run(command: &PluginCommand) -> ExitCode {
    use crate::printable::escape;
    let PluginCommand::Check { file, grant_read } = command;
    let inspection = match crate::ops::check_plugin(file, grant_read.as_deref()) {
        Ok(inspection) => inspection,
        Err(e) => {
            errln!("error: {}", escape(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    outln!(
        "plugin {}: ABI version {}",
        escape(&file.display().to_string()),
        inspection.abi_version
    );
    outln!("sha256: {}", inspection.sha256);
    let sections = [
        ("task type", &inspection.task_types),
        ("filter", &inspection.filters),
        ("log filter", &inspection.log_filters),
    ];
    for (what, provided) in sections {
        for item in provided {
            let fields = if item.fields.is_empty() {
                String::new()
            } else {
                format!(" (fields: {})", escape(&item.fields.join(", ")))
            };
            outln!("{what} `{}`{fields}", escape(&item.name));
            match &item.dry_call {
                Some(call) => outln!(
                    "  dry call passed in {:.2} ms: {}",
                    call.elapsed.as_secs_f64() * 1000.0,
                    escape(&call.answer)
                ),
                None => outln!("  no example in the manifest: no dry call"),
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(not(feature = "plugins"))]
pub fn run(_command: &PluginCommand) -> ExitCode {
    errln!(
        "error: this driftless was built without plugins (build with `--features plugins`; the .deb has them)"
    );
    ExitCode::FAILURE
}
