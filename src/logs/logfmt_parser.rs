//! logfmt / key-value lines: `level=info msg="disk \"sda\" full" retry`. Values are strings
//! (a quoted value with `\"`, `\\`, `\n`, `\r`, `\t` escapes); a bare key is `true`, as in
//! logfmt; a later key replaces an earlier one.

use serde_json::Value;

use super::log_parsers::Parsed;

pub fn parse(line: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut pairs = 0;
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let Some(after_equals) = rest.strip_prefix('=') else {
            parsed.set(key, Value::Bool(true));
            continue;
        };
        if key.is_empty() {
            return Err("a value without a key (`=` at the start of a word)".to_owned());
        }
        let (value, after) = match after_equals.strip_prefix('"') {
            Some(quoted) => unquote(quoted)
                .ok_or_else(|| format!("the quoted value of `{key}` has no closing `\"`"))?,
            None => {
                let end = after_equals
                    .find(char::is_whitespace)
                    .unwrap_or(after_equals.len());
                (after_equals[..end].to_owned(), &after_equals[end..])
            }
        };
        parsed.set(key, value);
        pairs += 1;
        rest = after;
    }
    if pairs == 0 {
        return Err("no `key=value` pair".to_owned());
    }
    Ok(parsed)
}

/// A quoted value after its opening quote: the text with escapes resolved, and what follows
/// the closing quote; `None` without one.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                // `\"`, `\\`, and any other escaped character stand for themselves.
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(line: &str) -> Value {
        let parsed = parse(line).unwrap();
        Value::Object(parsed.fields.into_iter().collect())
    }

    #[test]
    fn pairs_quotes_and_bare_keys() {
        assert_eq!(
            fields(r#"level=info msg="disk \"sda\" is full\n" took=12ms  cached"#),
            json!({"level": "info", "msg": "disk \"sda\" is full\n", "took": "12ms", "cached": true})
        );
    }

    #[test]
    fn empty_values_and_unicode() {
        assert_eq!(
            fields(r#"user= name="José" path=/ü"#),
            json!({"user": "", "name": "José", "path": "/ü"})
        );
    }

    #[test]
    fn malformed_lines_fail() {
        assert!(parse(r#"msg="never closed"#).is_err());
        assert!(parse("just some words").is_err());
        assert!(parse("=value").is_err());
        assert!(parse("").is_err());
        assert!(parse(r#"a="ends in escape\"#).is_err());
    }
}
