//! JSON into [`Node`]s. serde_json validates the syntax (its messages and positions are the
//! ones JSON users know); a valid JSON text is also valid YAML 1.2 with the same meaning, so the
//! YAML reader then builds the spanned tree.

use super::limits;
use super::node::Node;
use super::yaml;
use crate::diagnostics::{Diagnostic, FileId, Span};

pub fn parse(text: &str, file: FileId) -> Result<Node, Vec<Diagnostic>> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let at = Span::char_at(file, text, byte_offset(text, e.line(), e.column()));
        let message = e.to_string();
        // serde_json appends " at line L column C"; the snippet shows the place.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        // serde_json's own nesting limit (128) is above ours: the text is too deep.
        if message == "recursion limit exceeded" {
            return Err(vec![limits::too_deep(at)]);
        }
        let diagnostic = Diagnostic::error(format!("JSON syntax error: {message}")).at(at);
        return Err(vec![
            diagnostic.maybe_help(trailing_comma_help(text, at.start as usize)),
        ]);
    }
    yaml::parse(text, file, "JSON")
}

/// serde_json's 1-based line and column as a byte offset. Its column counts bytes (0 = before
/// the first byte of the line) and points just past the byte it stopped at.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// serde_json reports a comma before `}` as "key must be a string"; YAML and TOML users write
/// one without thinking, so the cause is named.
fn trailing_comma_help(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?.trim_end();
    let at = text.get(offset..)?.chars().next()?;
    (before.ends_with(',') && matches!(at, '}' | ']'))
        .then(|| "JSON allows no comma after the last entry: remove it".to_owned())
}
