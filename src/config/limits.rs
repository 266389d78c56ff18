//! The bounds on what one config file can make the loader do, so that no text (hostile or
//! mistaken) exhausts memory, the stack or time. Each is documented in
//! `docs/config/README.md#limits` and reported as a diagnostic that names it.

use crate::diagnostics::{Diagnostic, Span};

/// Largest config file read, in bytes (4 MiB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Deepest nesting of lists and mappings in a file, aliases counted with what they copy. Below
/// the parsers' own recursion limits (TOML 80, JSON 128, YAML flow 255), so every format
/// reports this one.
pub const MAX_DEPTH: usize = 64;

/// Most values YAML aliases may copy in one file: every use of an alias counts all the values
/// under its anchor.
pub const MAX_ALIAS_VALUES: usize = 100_000;

/// Most text (strings and keys, in bytes) YAML aliases may copy in one file (4 MiB).
pub const MAX_ALIAS_BYTES: usize = 4 * 1024 * 1024;

/// Most syntax errors reported for one file; a file of garbage would otherwise give one per
/// line.
pub const MAX_SYNTAX_ERRORS: usize = 20;

const DOC: &str = "docs/config/README.md#limits";

/// Lists and mappings nested deeper than [`MAX_DEPTH`], at the first one too deep.
pub fn too_deep(at: Span) -> Diagnostic {
    Diagnostic::error(format!(
        "nesting limit exceeded: lists and mappings nest more than {MAX_DEPTH} levels deep here"
    ))
    .at(at)
    .help(format!(
        "a config file nests at most {MAX_DEPTH} levels, aliases included ({DOC}); flatten the \
         structure"
    ))
}

/// The alias (or the anchor kept for aliases) whose copy made the copies exceed
/// [`MAX_ALIAS_VALUES`] or [`MAX_ALIAS_BYTES`]; `label` says which.
pub fn too_many_alias_copies(at: Span, label: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "alias expansion limit exceeded: the aliases of this file copy more than \
         {MAX_ALIAS_VALUES} values or {} MiB of text",
        MAX_ALIAS_BYTES / (1024 * 1024)
    ))
    .at(at)
    .label(label)
    .help(format!(
        "each use of an alias copies everything under its anchor, and an anchor that \
         aliases use is copied once to keep it; use fewer or smaller aliases ({DOC})"
    ))
}

/// The note after the [`MAX_SYNTAX_ERRORS`] reported errors of a file.
pub fn more_syntax_errors(format: &str, omitted: usize, at: Span) -> Diagnostic {
    Diagnostic::error(format!(
        "{omitted} more {format} syntax errors in this file are not shown (at most \
         {MAX_SYNTAX_ERRORS} are reported per file)"
    ))
    .at(at)
    .help("fix the errors above and run again")
}

/// A file larger than [`MAX_FILE_BYTES`]; it is not read.
pub fn too_large(display: &str, size: u64) -> Diagnostic {
    Diagnostic::error(format!(
        "{display} is {size} bytes; config files are limited to {MAX_FILE_BYTES} bytes ({} MiB)",
        MAX_FILE_BYTES / (1024 * 1024)
    ))
    .help(format!(
        "split it into several files, or move data into a template file ({DOC})"
    ))
}
