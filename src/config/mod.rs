//! Stage 1, load: a config directory into spanned documents.
//!
//! Entry point: [`load`]. Reads every `*.yaml`, `*.yml`, `*.toml`, `*.json` file under the
//! directory (sorted path order; `templates/`, `files/` and hidden entries are assets, not
//! config), parses each by its extension into a [`Node`] tree and splits it into the top-level
//! sections. Nothing here looks at what a task means.

mod digest;
mod dir;
pub mod fleet;
pub mod inventory;
mod json;
pub mod limits;
pub mod node;
mod toml;
mod yaml;

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use dir::{ConfigDir, GitOrigin, GitRevision};
pub use fleet::{Fleet, Includes, Role};
pub use node::{Key, Node, Value};
/// YAML text into a `Node` tree with the loader's bounds (the `from_yaml` filter reads with it).
pub use yaml::parse as parse_yaml;

use crate::diagnostics::{Diagnostic, Diagnostics, FileId, SourceMap, Span, did_you_mean, one_of};

/// The top-level keys a config file may hold.
pub const SECTIONS: &[&str] = &["vars", "apply", "handlers", "facts", "logs", "settings"];

/// One config file, split into its sections.
#[derive(Debug, Default)]
pub struct Document {
    pub vars: Option<Node>,
    pub apply: Option<Node>,
    /// `apply` tasks that run only when a task notifying them changed something.
    pub handlers: Option<Node>,
    pub facts: Option<Node>,
    pub logs: Option<Node>,
    pub settings: Option<Node>,
}

/// What `load` hands on: the parsed documents (their text is in the [`SourceMap`]).
pub struct LoadedConfig {
    pub documents: Vec<Document>,
    /// `-e NAME=VALUE` from the command line: vars that override the config's.
    pub extra_vars: Vec<(Key, Node)>,
    /// Paths relative to the config dir, in read order: the config's identity in a plan.
    pub files: Vec<String>,
    /// The inventory and roles, when the config dir is a fleet repo (has `inventory.yaml`).
    pub fleet: Option<Fleet>,
    /// Task files named by `include:`, by path.
    pub includes: Includes,
}

/// Reads and parses the config dir. Syntax errors of every file are reported together; a file
/// with errors contributes no document.
pub fn load(
    config_dir: &ConfigDir,
    extra_vars: &[String],
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> LoadedConfig {
    let dir = config_dir.path();
    let mut files = Vec::new();
    let mut paths = Vec::new();
    let inventory_file = fleet::inventory_path(dir);
    let skipped_top: Vec<&str> = match inventory_file {
        Some(file) => [fleet::INCLUDE_DIR, file]
            .into_iter()
            .chain(fleet::FLEET_DIRS.iter().copied())
            .collect(),
        None => vec![fleet::INCLUDE_DIR],
    };
    if let Err(e) = discover(dir, &skipped_top, &mut paths) {
        diagnostics.push(
            Diagnostic::error(format!(
                "cannot read the config directory {}: {e}",
                dir.display()
            ))
            .help("point -c/--config (or DRIFTLESS_CONFIG) at a directory of config files"),
        );
    }
    paths.sort();
    let real_dir = config_dir.real();
    let mut to_parse = Vec::new();
    for path in paths {
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        let Some(display) = relative.to_str().map(str::to_owned) else {
            diagnostics.push(not_utf8_name(relative));
            continue;
        };
        match read_config_file(&path, &display, real_dir) {
            Ok(text) => {
                let format = Format::of(&path);
                let id = sources.add(display.clone(), path, text);
                files.push(display);
                to_parse.push((id, format));
            }
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }
    let parsed: Vec<Result<Node, Vec<Diagnostic>>> = to_parse
        .par_iter()
        .map(|&(id, format)| format.parse(sources.text(id), id))
        .collect();
    let mut documents = Vec::new();
    for result in parsed {
        match result {
            Ok(root) => {
                if let Some(document) = split_sections(root, diagnostics) {
                    documents.push(document);
                }
            }
            Err(errors) => errors.into_iter().for_each(|d| diagnostics.push(d)),
        }
    }
    let mut fleet = inventory_file.map(|file| {
        files.push(file.to_owned());
        fleet::load(config_dir, file, sources, diagnostics)
    });
    let includes = fleet::load_includes(
        config_dir,
        &mut documents,
        fleet.as_mut(),
        sources,
        diagnostics,
    );
    LoadedConfig {
        documents,
        extra_vars: parse_extra_vars(extra_vars, sources, diagnostics),
        files,
        fleet,
        includes,
    }
}

/// `NAME=VALUE` pairs become string vars whose spans point into a `<command line>` source, so
/// diagnostics about them look like any other.
fn parse_extra_vars(
    pairs: &[String],
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Vec<(Key, Node)> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let text: String = pairs.iter().map(|p| format!("-e {p}\n")).collect();
    let file = sources.add("<command line>".to_owned(), PathBuf::new(), text);
    let mut vars = Vec::new();
    let mut offset = 0;
    for pair in pairs {
        let start = offset + 3;
        offset += pair.len() + 4;
        let Some((name, value)) = pair.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            diagnostics.push(
                Diagnostic::error(format!("`-e {pair}` is not NAME=VALUE"))
                    .at(Span::new(file, start, start + pair.len()))
                    .help("write extra vars as `-e name=value`"),
            );
            continue;
        };
        let key = Key {
            name: name.to_owned(),
            span: Span::new(file, start, start + name.len()),
        };
        let value_start = start + name.len() + 1;
        let value = Node::new(
            Value::Str(value.to_owned()),
            Span::new(file, value_start, value_start + value.len()),
        );
        vars.push((key, value));
    }
    vars
}

#[derive(Clone, Copy)]
pub(crate) enum Format {
    Yaml,
    Toml,
    Json,
}

impl Format {
    fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ => Format::Yaml,
        }
    }

    fn parse(self, text: &str, file: FileId) -> Result<Node, Vec<Diagnostic>> {
        match self {
            Format::Yaml => yaml::parse(text, file, "YAML"),
            Format::Toml => toml::parse(text, file),
            Format::Json => json::parse(text, file),
        }
    }
}

fn is_config_file(name: &[u8]) -> bool {
    [".yaml", ".yml", ".toml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext.as_bytes()))
}

/// Collects config files; `templates/` and `files/` hold assets, hidden entries are never config
/// (`.git`, editor files). Symlinked directories are not entered, so a link loop cannot hang it.
/// Names are compared as bytes: a config file whose name is not UTF-8 is collected, to be
/// reported rather than skipped. `skipped_top` names entries of the top directory that are not
/// config (include files; a fleet repo's inventory, roles and recorded facts).
fn discover(dir: &Path, skipped_top: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.as_bytes();
        if name.starts_with(b".") || skipped_top.iter().any(|s| s.as_bytes() == name) {
            continue;
        }
        let file_type = entry.file_type()?;
        let path = entry.path();
        if file_type.is_dir() {
            if name != b"templates" && name != b"files" {
                discover(&path, &[], out)?;
            }
        } else if is_config_file(name) && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// The text of one config file. A symlink is read only when it leads to a file inside the
/// config dir (checked before opening, so nothing of an outside target is read), and no file
/// larger than [`limits::MAX_FILE_BYTES`] is read.
pub(crate) fn read_config_file(
    path: &Path,
    display: &str,
    real_dir: Option<&Path>,
) -> Result<String, Diagnostic> {
    let target = resolve_inside(path, display, real_dir)?;
    let bytes = read_bounded(&target, display)?;
    String::from_utf8(bytes).map_err(|_| {
        cannot_read(
            display,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        )
    })
}

fn cannot_read(display: &str, e: std::io::Error) -> Diagnostic {
    Diagnostic::error(format!("cannot read {display}: {e}"))
}

/// The file to open for `path`: itself, or the target of a symlink that stays inside the
/// config dir.
fn resolve_inside(
    path: &Path,
    display: &str,
    real_dir: Option<&Path>,
) -> Result<PathBuf, Diagnostic> {
    let metadata = std::fs::symlink_metadata(path).map_err(|e| cannot_read(display, e))?;
    if !metadata.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let real = std::fs::canonicalize(path).map_err(|e| cannot_read(display, e))?;
    if real_dir.is_some_and(|d| real.starts_with(d)) {
        Ok(real)
    } else {
        Err(Diagnostic::error(format!(
            "{display} is a symbolic link that leads out of the config directory; it is not read"
        ))
        .help("config files must lie inside the config directory: copy the file in"))
    }
}

/// The bytes of a regular file of at most [`limits::MAX_FILE_BYTES`].
fn read_bounded(target: &Path, display: &str) -> Result<Vec<u8>, Diagnostic> {
    let cannot_read = |e| cannot_read(display, e);
    // A link swapped in after `resolve_inside` is not followed (O_NOFOLLOW), and a FIFO swapped
    // in does not block the open (O_NONBLOCK) before it is refused below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(target)
        .map_err(cannot_read)?;
    let metadata = file.metadata().map_err(cannot_read)?;
    if !metadata.is_file() {
        return Err(Diagnostic::error(format!(
            "{display} is not a regular file; it is not read"
        )));
    }
    if metadata.len() > limits::MAX_FILE_BYTES {
        return Err(limits::too_large(display, metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // The file may have grown since: never read past the limit.
    file.take(limits::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(limits::too_large(display, bytes.len() as u64));
    }
    Ok(bytes)
}

/// A config file whose path is not UTF-8: named with its other bytes as `\xNN`.
fn not_utf8_name(relative: &Path) -> Diagnostic {
    let mut name = String::new();
    for chunk in relative.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                name.extend(c.escape_default());
            } else {
                name.push(c);
            }
        }
        for byte in chunk.invalid() {
            name.push_str(&format!("\\x{byte:02x}"));
        }
    }
    Diagnostic::error(format!(
        "the name of the config file `{name}` is not UTF-8; it is not read"
    ))
    .help("rename it: config file names (and the directories they are in) must be UTF-8")
}

fn split_sections(root: Node, diagnostics: &mut Diagnostics) -> Option<Document> {
    let span = root.span;
    let entries = match root.value {
        Value::Null => return Some(Document::default()),
        Value::Map(entries) => entries,
        _ => {
            diagnostics.push(
                Diagnostic::error(format!(
                    "a config file must be a mapping of sections, found {}",
                    root.kind()
                ))
                .at(span)
                .help(format!(
                    "use the top-level keys {}",
                    one_of(SECTIONS.iter().copied())
                )),
            );
            return None;
        }
    };
    let mut document = Document::default();
    for (key, value) in entries {
        let slot = match key.name.as_str() {
            "vars" => &mut document.vars,
            "apply" => &mut document.apply,
            "handlers" => &mut document.handlers,
            "facts" => &mut document.facts,
            "logs" => &mut document.logs,
            "settings" => &mut document.settings,
            other => {
                let help = did_you_mean(other, SECTIONS.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "the top-level keys are {}",
                        one_of(SECTIONS.iter().copied())
                    )
                });
                diagnostics.push(
                    Diagnostic::error(format!("unknown top-level key `{other}`"))
                        .at(key.span)
                        .help(help),
                );
                continue;
            }
        };
        *slot = Some(value);
    }
    Some(document)
}
