//! Where a failed render went wrong, and what to say about it: the caret on the expression the
//! engine was evaluating (not on the whole field), and the name that is actually undefined,
//! unknown filter or unknown test — `worker {{ w.nme }} port={{ port }}` points at `w.nme`
//! and names it, whatever else the template reads.

use std::ops::Range;
use std::sync::{Arc, LazyLock};

use minijinja::ErrorKind;
use regex::Regex;

use crate::diagnostics::{SourceMap, Span};

/// The config files' texts, so a render error inside a field can point at the column of the
/// failing expression. Template files are not here: the engine's range is already theirs.
#[derive(Default, Clone)]
pub struct SourceTexts(Vec<Arc<str>>);

impl SourceTexts {
    pub fn of(sources: &SourceMap) -> SourceTexts {
        SourceTexts(sources.files().map(|f| sources.shared_text(f)).collect())
    }

    /// The span of `template[range]` inside the field at `field`, when the field's text can
    /// be matched with the template (plain or quoted without escapes; or the failing
    /// expression appears once in it). `None`: keep the whole field.
    pub fn locate(&self, field: Span, template: &str, range: Range<usize>) -> Option<Span> {
        let text = self.0.get(field.file.0 as usize)?;
        let raw = text.get(field.start as usize..field.end as usize)?;
        let needle = template.get(range.clone())?;
        let start = if raw == template {
            range.start
        } else if raw.len() >= 2
            && (raw.starts_with('"') || raw.starts_with('\''))
            && raw.get(1..raw.len() - 1) == Some(template)
        {
            range.start + 1
        } else {
            let mut found = raw.match_indices(needle);
            let (at, _) = found.next()?;
            if found.next().is_some() {
                return None;
            }
            at
        };
        let start = field.start as usize + start;
        Some(Span::on_chars(
            field.file,
            text,
            start,
            start + needle.len(),
        ))
    }
}

/// What the engine says failed, read from its error.
pub enum Failure {
    /// A filter or test with no such name (`kind` is "filter" or "test").
    Unknown {
        kind: &'static str,
        name: String,
    },
    /// The undefined expression the engine stopped at: `w.nme`, `workers[3]`, `nope`.
    Undefined {
        expr: String,
    },
    /// A filter refused an undefined value with a message of its own (`mandatory`).
    Required {
        message: String,
    },
    Other,
}

impl Failure {
    pub fn of(error: &minijinja::Error, source: &str) -> Failure {
        let detail = error.detail().unwrap_or_default();
        let kind = match error.kind() {
            ErrorKind::UnknownFilter => "filter",
            ErrorKind::UnknownTest => "test",
            ErrorKind::UndefinedError => {
                // minijinja names the undefined part: "`nope` is undefined" for `nope.x`.
                let named = detail
                    .strip_prefix('`')
                    .and_then(|d| d.split_once("` is undefined"))
                    .map(|(expr, _)| expr.to_owned());
                let ranged = error.range().and_then(|r| source.get(r)).map(str::to_owned);
                return match (named, error.detail()) {
                    (Some(expr), _) => Failure::Undefined { expr },
                    // A filter's own message (`mandatory('set db_host')`).
                    (None, Some(message)) => Failure::Required {
                        message: message.to_owned(),
                    },
                    (None, None) => {
                        ranged.map_or(Failure::Other, |expr| Failure::Undefined { expr })
                    }
                };
            }
            _ => return Failure::Other,
        };
        // "filter NAME is unknown"; without a detail, the name the range starts with.
        let named = detail
            .strip_prefix(kind)
            .and_then(|d| d.strip_suffix(" is unknown"))
            .map(|n| n.trim().to_owned());
        let ranged = || {
            let text = source.get(error.range()?)?;
            let name: String = text
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        };
        match named.or_else(ranged) {
            Some(name) => Failure::Unknown { kind, name },
            None => Failure::Other,
        }
    }
}

/// The byte range of `part` inside the engine's `range` of `source` (the caret goes on the
/// name, not on its arguments); else its last occurrence before the range ends (the engine's
/// range of `x | upper` is the filter's, and `x` is its input); else the whole range.
pub fn narrow(source: &str, range: Range<usize>, part: &str) -> Range<usize> {
    let within = source
        .get(range.clone())
        .and_then(|text| text.find(part))
        .map(|at| range.start + at);
    let before = || {
        let head = source.get(..range.end)?;
        head.rmatch_indices(part).map(|(at, _)| at).find(|&at| {
            let word = |c: char| c.is_alphanumeric() || c == '_';
            let prev = head[..at].chars().next_back();
            let next = source[at + part.len()..].chars().next();
            !prev.is_some_and(word) && !next.is_some_and(word)
        })
    };
    match within.or_else(before) {
        Some(at) => at..at + part.len(),
        None => range,
    }
}

/// The last access of an expression: `w.name` is (`w`, field `name`); `xs[3]` is (`xs`,
/// index `3`); a bare name has none.
pub enum Access<'a> {
    Field(&'a str, &'a str),
    Index(&'a str, &'a str),
    Name(&'a str),
}

pub fn last_access(expr: &str) -> Access<'_> {
    let expr = expr.trim();
    if let Some(inner) = expr.strip_suffix(']') {
        // The `[` that opens the last index, counting nested brackets.
        let mut depth = 0usize;
        for (i, c) in inner.char_indices().rev() {
            match c {
                ']' => depth += 1,
                '[' if depth == 0 => return Access::Index(&expr[..i], &inner[i + 1..]),
                '[' => depth -= 1,
                _ => {}
            }
        }
        return Access::Name(expr);
    }
    match expr.rsplit_once('.') {
        Some((parent, field))
            if !parent.is_empty() && field.chars().all(|c| c.is_alphanumeric() || c == '_') =>
        {
            Access::Field(parent, field)
        }
        _ => Access::Name(expr),
    }
}

/// The expression a `{% for NAME in EXPR %}` of `source` iterates over, for the loop variable
/// `name` (the first such loop).
pub fn loop_iterable<'s>(source: &'s str, name: &str) -> Option<&'s str> {
    static FOR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\{%[-+]?\s*for\s+(\w+)\s+in\s+(.+?)(?:\s+if\s.+?)?(?:\s+recursive)?\s*[-+]?%\}",
        )
        .unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
    });
    FOR.captures_iter(source)
        .find(|caps| caps.get(1).is_some_and(|m| m.as_str() == name))
        .and_then(|caps| caps.get(2))
        .map(|m| m.as_str().trim())
}

/// The variable an expression starts from: `workers` of `workers[0].name`.
pub fn head(expr: &str) -> &str {
    let end = expr
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    &expr[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_access_splits_fields_and_indexes() {
        assert!(matches!(last_access("w.name"), Access::Field("w", "name")));
        assert!(matches!(
            last_access("workers[0].nme"),
            Access::Field("workers[0]", "nme")
        ));
        assert!(matches!(
            last_access("xs[a[1]]"),
            Access::Index("xs", "a[1]")
        ));
        assert!(matches!(last_access("nope"), Access::Name("nope")));
        assert_eq!(head("workers[0].nme"), "workers");
    }

    #[test]
    fn the_iterable_of_a_loop_variable_is_found() {
        let source =
            "{% for u in users if u.on %}{{ u.nme }}{% endfor %}{%- for w in groups.web -%}";
        assert_eq!(loop_iterable(source, "u"), Some("users"));
        assert_eq!(loop_iterable(source, "w"), Some("groups.web"));
        assert_eq!(loop_iterable(source, "x"), None);
    }

    #[test]
    fn the_caret_goes_on_the_failing_name() {
        let source = "a {{ x.y | default(b.c) }} {{ prot | upper }}";
        assert_eq!(narrow(source, 19..22, "b"), 19..20);
        // The engine's range is the filter's; the undefined input comes before it.
        let upper = source.find("upper").expect("upper");
        let prot = source.find("prot").expect("prot");
        assert_eq!(narrow(source, upper..upper + 5, "prot"), prot..prot + 4);
    }

    #[test]
    fn a_field_is_located_in_plain_quoted_and_escaped_text() {
        let mut sources = SourceMap::default();
        let text = "a: {{ x.y }}\nb: \"{{ x.y }}\"\nc: \"\\t{{ x.y }}\"\n";
        let file = sources.add("f".into(), "f".into(), text.into());
        let texts = SourceTexts::of(&sources);
        let plain = Span::new(file, 3, 12);
        assert_eq!(
            texts.locate(plain, "{{ x.y }}", 3..6),
            Some(Span::new(file, 6, 9))
        );
        let quoted = Span::new(file, 16, 27);
        assert_eq!(
            texts.locate(quoted, "{{ x.y }}", 3..6),
            Some(Span::new(file, 20, 23))
        );
        let escaped = Span::new(file, 31, 44);
        assert_eq!(
            texts.locate(escaped, "\t{{ x.y }}", 4..7),
            Some(Span::new(file, 37, 40))
        );
    }
}
