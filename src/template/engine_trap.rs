//! The one template form minijinja 3.1 panics on, refused before the engine sees it.
//!
//! minijinja parses the target of `{% import EXPR as TARGET %}` as any expression, but its
//! code generator handles only a name (or a list or attribute) there and hits an
//! `unreachable!` on anything else, e.g. `as t | upper`. A panic is not a diagnostic (and the
//! shipped binary aborts on one), so every `import` statement is read here first and accepted
//! only in the plain form: a string or a (dotted) name, `as`, a name, and optionally `with
//! context` or `without context`. Statements end where minijinja's lexer ends them: at the
//! first `%}` outside a string.

/// Why minijinja must not compile `source`, if it must not: a syntax error's message.
pub fn engine_trap(source: &str) -> Option<String> {
    let mut rest = source;
    while let Some(open) = rest.find("{%") {
        let after = &rest[open + 2..];
        let (statement, next) = statement_body(after);
        rest = next;
        let tokens = tokens(statement.trim_start_matches(['-', '+']));
        if tokens.first() == Some(&Token::Name("import")) && !is_plain_import(&tokens[1..]) {
            return Some(
                "write an import as `{% import 'file.j2' as name %}`: after `as`, only a name"
                    .to_owned(),
            );
        }
    }
    None
}

/// The text of a statement up to its `%}` (outside strings), and the text after it.
fn statement_body(text: &str) -> (&str, &str) {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            None if text[i..].starts_with("%}") => return (&text[..i], &text[i + 2..]),
            None => {}
        }
    }
    (text, "")
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Name(&'a str),
    Str,
    Dot,
    /// Anything else: an operator, a bracket, a number, whitespace control.
    Other,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\'' | '"' => {
                let mut escaped = false;
                for (_, d) in chars.by_ref() {
                    match d {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        d if d == c => break,
                        _ => {}
                    }
                }
                out.push(Token::Str);
            }
            '.' => out.push(Token::Dot),
            c if c == '_' || c.is_ascii_alphabetic() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d == '_' || d.is_ascii_alphanumeric() {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Name(&text[i..end]));
            }
            _ => out.push(Token::Other),
        }
    }
    // Whitespace control before `%}` (`-%}`, `+%}`) is part of the delimiter.
    if matches!(out.last(), Some(Token::Other)) && text.trim_end().ends_with(['-', '+']) {
        out.pop();
    }
    out
}

/// `'file' as name`, `some.var as name`, each optionally followed by `with context` or
/// `without context`.
fn is_plain_import(tokens: &[Token<'_>]) -> bool {
    let source_len = match tokens {
        [Token::Str, ..] => 1,
        [Token::Name(_), ..] => {
            let mut n = 1;
            while let [Token::Dot, Token::Name(_), ..] = &tokens[n..] {
                n += 2;
            }
            n
        }
        _ => return false,
    };
    matches!(
        &tokens[source_len..],
        [Token::Name("as"), Token::Name(_)]
            | [
                Token::Name("as"),
                Token::Name(_),
                Token::Name("with" | "without"),
                Token::Name("context")
            ]
    )
}

#[cfg(test)]
mod tests {
    use super::engine_trap;

    #[test]
    fn an_import_target_that_is_not_a_name_is_refused_before_minijinja_panics() {
        for source in [
            "{% import 'a.j2' as t | upper %}",
            "{%- import 'a.j2' as t|upper -%}",
            "x {% import 'a.j2' as t.x %} y",
            "{% import 'a.j2' as (t) %}",
            "{% import 'a.j2'as(t|upper) %}",
            "{% import '%}a.j2' as m | upper %}",
            "{% import \"a\\\"%}\" as m | upper %}",
            "{% import 'a as b' as 1 %}",
            "{% import 'a.j2' as t ~ 'x' %}",
        ] {
            assert!(engine_trap(source).is_some(), "{source} passed");
        }
        for source in [
            "{% import 'a.j2' as macros %}",
            "{%- import \"a.j2\" as _m2 -%}{{ _m2.x() }}",
            "{%+ import 'a.j2' as m with context +%}",
            "{% import files.macros as m without context %}",
            "{% from 'a.j2' import x as y %}",
            "{% if imported %}{% endif %}",
            "no statements",
            "{% unclosed",
        ] {
            assert_eq!(engine_trap(source), None, "{source} refused");
        }
    }
}
