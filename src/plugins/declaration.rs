//! `settings.plugins`, read from the loaded documents before anything renders (filters must be
//! in the template engine before the first template runs): each entry's name, file, pinned
//! digest and grant, literal values only. Shapes and unknown fields are `check`'s (the model's
//! `PluginSettings`); this reads what it needs and reports what only it can see.

use std::path::PathBuf;

use crate::config::{ConfigDir, Document, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, Span};

/// One `settings.plugins` entry, as written.
pub struct Declaration {
    pub name: String,
    pub name_span: Span,
    /// The `.wasm` file: in the config dir (`plugins/NAME.wasm` unless `path` says), or an
    /// absolute path (a local plugin directory).
    pub file: PathBuf,
    /// Where a problem with the file is reported: `path`, else the name.
    pub file_span: Span,
    pub sha256: String,
    pub sha256_span: Span,
    pub grant_read: Option<(String, Span)>,
}

/// Every well-formed entry of every file's `settings.plugins`. An entry whose value is a
/// template, whose name is not a plain identifier, or whose path leaves the config dir is
/// reported here and left out.
pub fn declarations(
    documents: &[Document],
    config_dir: &ConfigDir,
    diagnostics: &mut Diagnostics,
) -> Vec<Declaration> {
    let entries = documents
        .iter()
        .filter_map(|d| d.settings.as_ref()?.get("plugins"))
        .filter_map(|list| match &list.value {
            Value::Seq(items) => Some(items.iter()),
            _ => None,
        })
        .flatten();
    let mut out: Vec<Declaration> = Vec::new();
    for entry in entries {
        let Some(declaration) = declaration(entry, config_dir, diagnostics) else {
            continue;
        };
        if out.iter().any(|d| d.name == declaration.name) {
            diagnostics.push(
                Diagnostic::error(format!("plugin `{}` is declared twice", declaration.name))
                    .at(declaration.name_span)
                    .help("give each plugin one entry in `settings.plugins`"),
            );
            continue;
        }
        out.push(declaration);
    }
    out
}

fn declaration(
    entry: &Node,
    config_dir: &ConfigDir,
    diagnostics: &mut Diagnostics,
) -> Option<Declaration> {
    let mut literal = |field: &str| -> Option<(String, Span)> {
        let node = entry.get(field)?;
        let text = node.as_str()?;
        if node.templated {
            diagnostics.push(
                Diagnostic::error(format!("a plugin's `{field}` cannot be a template"))
                    .at(node.span)
                    .help("plugins are loaded before anything renders: write the value itself"),
            );
            return None;
        }
        Some((text.to_owned(), node.span))
    };
    let (name, name_span) = literal("name")?;
    let (sha256, sha256_span) = literal("sha256")?;
    let path = literal("path");
    let grant_read = literal("grant_read");
    let mut ok = true;
    if !is_identifier(&name) {
        diagnostics.push(
            Diagnostic::error(format!("`{name}` is not a plugin name"))
                .at(name_span)
                .help(
                    "a plugin name is lower-case letters, digits and `_`, starting with a letter",
                ),
        );
        ok = false;
    }
    if !(sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        diagnostics.push(
            Diagnostic::error("`sha256` must be 64 lower-case hex digits")
                .at(sha256_span)
                .help("`driftless plugin check FILE` prints the digest to pin"),
        );
        ok = false;
    }
    let (written, file_span) = path.unwrap_or_else(|| (format!("plugins/{name}.wasm"), name_span));
    let file = if written.starts_with('/') {
        Some(PathBuf::from(&written))
    } else {
        match config_dir.resolve_asset(&written) {
            Ok(file) => Some(file),
            Err(why) => {
                diagnostics.push(
                    Diagnostic::error(why)
                        .at(file_span)
                        .help("a plugin is a file of the config dir (`plugins/NAME.wasm`) or an absolute path"),
                );
                None
            }
        }
    };
    if let Some((root, span)) = &grant_read
        && let Err(why) = super::grant::Grant::new(root)
    {
        diagnostics.push(
            Diagnostic::error(format!("`grant_read`: {why}"))
                .at(*span)
                .help("grant one absolute path, read-only: a file or a directory"),
        );
        ok = false;
    }
    Some(Declaration {
        name,
        name_span,
        file: file?,
        file_span,
        sha256,
        sha256_span,
        grant_read,
    })
    .filter(|_| ok)
}

/// A plugin, task type or filter name: `[a-z][a-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
