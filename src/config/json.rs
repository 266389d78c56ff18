//! JSON into [`Node`]s. serde_json validates the syntax (its messages and positions are the
//! ones JSON users know); a valid JSON text is also valid YAML 1.2 with the same meaning, so the
//! YAML reader then builds the spanned tree.

use super::node::Node;
use super::yaml;
use crate::diagnostics::{Diagnostic, FileId, Span};

pub fn parse(text: &str, file: FileId) -> Result<Node, Vec<Diagnostic>> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let offset = byte_offset(text, e.line(), e.column());
        let message = e.to_string();
        // serde_json appends " at line L column C"; the snippet shows the place.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        let diagnostic = Diagnostic::error(format!("JSON syntax error: {message}")).at(Span::new(
            file,
            offset,
            offset + 1,
        ));
        return Err(vec![
            diagnostic.maybe_help(trailing_comma_help(text, offset)),
        ]);
    }
    yaml::parse(text, file, "JSON")
}

/// serde_json's 1-based line and column (column 0 = before the first character) as a byte
/// offset.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let col = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    (line_start + col).min(text.len())
}

/// serde_json reports a comma before `}` as "key must be a string"; YAML and TOML users write
/// one without thinking, so the cause is named.
fn trailing_comma_help(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?.trim_end();
    let at = text.get(offset..)?.chars().next()?;
    (before.ends_with(',') && matches!(at, '}' | ']'))
        .then(|| "JSON allows no comma after the last entry: remove it".to_owned())
}
