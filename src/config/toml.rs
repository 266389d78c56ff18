//! TOML into [`Node`]s, from toml's spanned `DeTable` (which also recovers after errors, so
//! every syntax error of a file is reported).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::node::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, FileId, Span};

pub fn parse(text: &str, file: FileId) -> Result<Node, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let range = e.span().unwrap_or(0..0);
                let mut message = e.message().trim_end().to_owned();
                // toml does not name the key; the span is the key as written.
                if message == "duplicate key"
                    && let Some(key) = text.get(range.clone())
                {
                    message = format!("duplicate key `{key}`");
                }
                Diagnostic::error(format!("TOML syntax error: {message}")).at(Span::new(
                    file,
                    range.start,
                    range.end,
                ))
            })
            .collect());
    }
    let span = table.span();
    Ok(Node::new(
        table_value(table.into_inner(), file),
        Span::new(file, span.start, span.start),
    ))
}

fn table_value(table: DeTable<'_>, file: FileId) -> Value {
    Value::Map(
        table
            .into_iter()
            .map(|(k, v)| {
                let span = k.span();
                let key = Key {
                    name: k.into_inner().into_owned(),
                    span: Span::new(file, span.start, span.end),
                };
                (key, node(v, file))
            })
            .collect(),
    )
}

fn node(value: Spanned<DeValue<'_>>, file: FileId) -> Node {
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
        DeValue::Array(items) => Value::Seq(items.into_iter().map(|v| node(v, file)).collect()),
        DeValue::Table(table) => table_value(table, file),
    };
    Node::new(value, span)
}

fn parse_float(s: &str) -> f64 {
    match s.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "-nan" => f64::NAN,
        other => other.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}
