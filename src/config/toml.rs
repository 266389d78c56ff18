//! TOML into [`Node`]s, from toml's spanned `DeTable` (which also recovers after errors, so
//! the syntax errors of a file are reported together, up to [`MAX_SYNTAX_ERRORS`]).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::limits::{self, MAX_DEPTH, MAX_SYNTAX_ERRORS};
use super::node::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, FileId, Span};

pub fn parse(text: &str, file: FileId) -> Result<Node, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(syntax_errors(&errors, text, file));
    }
    let span = table.span();
    let root = Span::new(file, span.start, span.start);
    Ok(Node::new(
        table_value(table.into_inner(), file, 1).map_err(|d| vec![d])?,
        root,
    ))
}

/// The first [`MAX_SYNTAX_ERRORS`] errors, then one note counting the rest.
fn syntax_errors(errors: &[toml::de::Error], text: &str, file: FileId) -> Vec<Diagnostic> {
    let at = |e: &toml::de::Error| {
        let range = e.span().unwrap_or(0..0);
        if range.is_empty() {
            Span::char_at(file, text, range.start)
        } else {
            Span::on_chars(file, text, range.start, range.end)
        }
    };
    // toml reports some errors in a later pass: the first in the file are the ones shown.
    let mut errors: Vec<(&toml::de::Error, Span)> = errors.iter().map(|e| (e, at(e))).collect();
    errors.sort_by_key(|(_, at)| at.start);
    let mut out: Vec<Diagnostic> = errors
        .iter()
        .take(MAX_SYNTAX_ERRORS)
        .map(|&(e, at)| syntax_error(e, text, at))
        .collect();
    if let Some(&(_, first_omitted)) = errors.get(MAX_SYNTAX_ERRORS) {
        let omitted = errors.len() - MAX_SYNTAX_ERRORS;
        out.push(limits::more_syntax_errors("TOML", omitted, first_omitted));
    }
    out
}

fn syntax_error(e: &toml::de::Error, text: &str, at: Span) -> Diagnostic {
    let mut message = e.message().trim_end().to_owned();
    // toml's own nesting limits (80 levels) are above ours: the text is too deep.
    if message.contains("recursion") {
        return limits::too_deep(at);
    }
    // toml does not name the key; the span is the key as written.
    if message == "duplicate key"
        && let Some(key) = text.get(at.start as usize..at.end as usize)
    {
        message = format!("duplicate key `{key}`");
    }
    Diagnostic::error(format!("TOML syntax error: {message}")).at(at)
}

/// A table at nesting level `depth` (the root is 1).
fn table_value(table: DeTable<'_>, file: FileId, depth: usize) -> Result<Value, Diagnostic> {
    let mut entries = Vec::with_capacity(table.len());
    for (k, v) in table {
        let span = k.span();
        let key = Key {
            name: k.into_inner().into_owned(),
            span: Span::new(file, span.start, span.end),
        };
        entries.push((key, node(v, file, depth + 1)?));
    }
    Ok(Value::Map(entries))
}

/// A value at nesting level `depth`: a table or array there must not pass [`MAX_DEPTH`].
fn node(value: Spanned<DeValue<'_>>, file: FileId, depth: usize) -> Result<Node, Diagnostic> {
    let range = value.span();
    let span = Span::new(file, range.start, range.end);
    let value = match value.into_inner() {
        DeValue::String(s) => Value::Str(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Float(i.as_str().parse().unwrap_or(f64::NAN)),
        },
        DeValue::Float(f) => Value::Float(parse_float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(_) | DeValue::Table(_) if depth > MAX_DEPTH => {
            return Err(limits::too_deep(span));
        }
        DeValue::Array(items) => Value::Seq(
            items
                .into_iter()
                .map(|v| node(v, file, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => table_value(table, file, depth)?,
    };
    Ok(Node::new(value, span))
}

fn parse_float(s: &str) -> f64 {
    match s.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "-nan" => f64::NAN,
        other => other.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}
