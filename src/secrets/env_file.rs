use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use secrecy::SecretString;

use super::{SecretError, SecretSource};

/// An env file larger than this is refused: secrets are short, and a mistaken path (a log, a
/// device) must not be read into memory.
const MAX_SIZE: u64 = 1024 * 1024;

/// An env file (`NAME=value` lines), read on the first lookup that needs it. A file that group
/// or others may read is refused: secrets belong to the user running driftless. Syntax:
/// `parse`, below.
pub struct EnvFileSource {
    path: PathBuf,
    values: OnceLock<Result<HashMap<String, SecretString>, SecretError>>,
}

impl EnvFileSource {
    pub fn new(path: PathBuf) -> Self {
        EnvFileSource {
            path,
            values: OnceLock::new(),
        }
    }

    fn read(&self) -> Result<HashMap<String, SecretString>, SecretError> {
        let path = self.path.display();
        let Some(text) = super::private_file::read(&self.path, "the env file", MAX_SIZE)? else {
            return Ok(HashMap::new());
        };
        let values = parse(&text, &|name| std::env::var(name).ok())
            .map_err(|e| format!("the env file {path} is malformed: {e}"))?;
        Ok(values
            .into_iter()
            .map(|(name, value)| (name, SecretString::from(value)))
            .collect())
    }
}

impl SecretSource for EnvFileSource {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        match self.values.get_or_init(|| self.read()) {
            Ok(values) => Ok(values.get(name).cloned()),
            Err(e) => Err(e.clone()),
        }
    }

    fn describe(&self) -> String {
        format!("the env file {}", self.path.display())
    }
}

/// Parses an env file. Values are taken literally, as systemd's `EnvironmentFile=` and
/// Docker's `--env-file` take them, unless double-quoted:
///
/// - `NAME=value` (optionally `export NAME=value`); a name is letters, digits and `_`, not
///   starting with a digit. Blank lines and lines starting with `#` are skipped; a later line
///   overrides an earlier one.
/// - **unquoted**: the rest of the line, blanks around it removed; `$`, `\`, `#` and quotes in
///   it are plain characters;
/// - **single quotes**: everything up to the next `'`, literally, newlines included;
/// - **double quotes**: up to the next unescaped `"`, newlines included, with the escapes
///   `\\`, `\"`, `\$`, `\n`, `\t`, `\r`, and `${NAME}` or `$NAME` replaced by the value of a
///   name set earlier in the file, else of the environment (`lookup`); a name set in neither
///   is an error. A `$` not followed by a name or `{` is a `$`.
///
/// After a closing quote only blanks and a `# comment` may follow. Errors give the line and
/// column, never the text of the file.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
        values: HashMap::new(),
        lookup,
    };
    parser.file()?;
    Ok(parser.values)
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    values: HashMap<String, String>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    /// "line L, column C" of a position, both 1-based, in characters.
    fn error(&self, at: usize, what: &str) -> String {
        let before = &self.chars[..at.min(self.chars.len())];
        let line = before.iter().filter(|&&c| c == '\n').count() + 1;
        let column = before.iter().rev().take_while(|&&c| c != '\n').count() + 1;
        format!("line {line}, column {column}: {what}")
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.at += 1;
        }
    }

    /// At a line's end (`\n`, `\r\n` or the end of the text): steps past it.
    fn end_of_line(&mut self) -> bool {
        match (self.peek(), self.peek_at(1)) {
            (None, _) => true,
            (Some('\n'), _) => {
                self.at += 1;
                true
            }
            (Some('\r'), Some('\n')) => {
                self.at += 2;
                true
            }
            _ => false,
        }
    }

    fn skip_line(&mut self) {
        while !self.end_of_line() {
            self.at += 1;
        }
    }

    fn file(&mut self) -> Result<(), String> {
        while self.at < self.chars.len() {
            self.skip_blanks();
            if self.end_of_line() {
                continue;
            }
            if self.peek() == Some('#') {
                self.skip_line();
                continue;
            }
            self.assignment()?;
        }
        Ok(())
    }

    fn name(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(is_name_char) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn assignment(&mut self) -> Result<(), String> {
        let start = self.at;
        let mut name = self.name();
        if name == "export" && self.peek().is_some_and(is_blank) {
            self.skip_blanks();
            name = self.name();
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error(
                start,
                "expected NAME=value (a name is letters, digits and `_`, not starting with a \
                 digit)",
            ));
        }
        self.skip_blanks();
        if self.peek() != Some('=') {
            // The name is not quoted: a line without `=` may be a stray piece of a value.
            return Err(self.error(self.at, "expected `=` after the name"));
        }
        self.at += 1;
        self.skip_blanks();
        let value = match self.peek() {
            Some('\'') => self.single_quoted()?,
            Some('"') => self.double_quoted()?,
            _ => self.unquoted(),
        };
        self.values.insert(name, value);
        Ok(())
    }

    fn unquoted(&mut self) -> String {
        let start = self.at;
        while !matches!(
            (self.peek(), self.peek_at(1)),
            (None, _) | (Some('\n'), _) | (Some('\r'), Some('\n'))
        ) {
            self.at += 1;
        }
        let value: String = self.chars[start..self.at].iter().collect();
        self.end_of_line();
        value.trim_end_matches(is_blank).to_owned()
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let open = self.at;
        self.at += 1;
        let start = self.at;
        while self.peek() != Some('\'') {
            if self.peek().is_none() {
                return Err(self.error(open, "the single quote opened here is not closed"));
            }
            self.at += 1;
        }
        let value = self.chars[start..self.at].iter().collect();
        self.at += 1;
        self.after_quote()?;
        Ok(value)
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let open = self.at;
        self.at += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(open, "the double quote opened here is not closed"));
            };
            match c {
                '"' => {
                    self.at += 1;
                    break;
                }
                '\\' => {
                    value.push(self.escape()?);
                    self.at += 2;
                }
                '$' => value.push_str(&self.expansion()?),
                c => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
        self.after_quote()?;
        Ok(value)
    }

    fn escape(&self) -> Result<char, String> {
        match self.peek_at(1) {
            Some(c @ ('\\' | '"' | '$')) => Ok(c),
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            _ => Err(self.error(
                self.at,
                "unknown escape in double quotes (they know \\\\, \\\", \\$, \\n, \\t and \\r; \
                 single quotes take a backslash as it is)",
            )),
        }
    }

    /// `$NAME`, `${NAME}`, or a lone `$`; the cursor is on the `$`.
    fn expansion(&mut self) -> Result<String, String> {
        let dollar = self.at;
        let name = match self.peek_at(1) {
            Some('{') => {
                self.at += 2;
                let name = self.name();
                if self.peek() != Some('}') || name.is_empty() {
                    return Err(self.error(
                        dollar,
                        "`${` must be followed by a name and `}`; write `\\$` for a literal `$`",
                    ));
                }
                self.at += 1;
                name
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.at += 1;
                self.name()
            }
            _ => {
                self.at += 1;
                return Ok("$".to_owned());
            }
        };
        match self
            .values
            .get(&name)
            .cloned()
            .or_else(|| (self.lookup)(&name))
        {
            Some(value) => Ok(value),
            None => Err(self.error(
                dollar,
                // The name is not quoted: in a mistyped password (`"pa$word"`) it is part
                // of the secret.
                "this `$` names a variable set neither earlier in the file nor in the \
                 environment; write `\\$` for a literal `$`, or use single quotes",
            )),
        }
    }

    /// After a closing quote: blanks, an optional comment, the end of the line.
    fn after_quote(&mut self) -> Result<(), String> {
        self.skip_blanks();
        if self.peek() == Some('#') {
            self.skip_line();
            return Ok(());
        }
        if !self.end_of_line() {
            return Err(self.error(
                self.at,
                "unexpected text after the closing quote (quote the whole value)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> HashMap<String, String> {
        parse(text, &|name| {
            (name == "FROM_ENV").then(|| "env-value".to_owned())
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn value(line: &str) -> String {
        parsed(line)["A"].clone()
    }

    #[test]
    fn unquoted_values_are_literal() {
        assert_eq!(value("A=pa$word123"), "pa$word123");
        assert_eq!(value("A=${FROM_ENV}"), "${FROM_ENV}");
        assert_eq!(value("A=back\\slash\\n"), "back\\slash\\n");
        assert_eq!(
            value("A=pass#word # not a comment"),
            "pass#word # not a comment"
        );
        assert_eq!(value("A=it's \"quoted\""), "it's \"quoted\"");
        assert_eq!(
            value("A=  trailing and leading blanks  \t"),
            "trailing and leading blanks"
        );
        assert_eq!(value("A="), "");
        assert_eq!(value("A=a=b=c"), "a=b=c");
        assert_eq!(value("A=windows\r\n"), "windows");
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            value("A='pa$word ${FROM_ENV} \\n # \"x\"  '"),
            "pa$word ${FROM_ENV} \\n # \"x\"  "
        );
        assert_eq!(value("A='line one\nline two'"), "line one\nline two");
        assert_eq!(value("A='x'   # comment"), "x");
    }

    #[test]
    fn double_quotes_escape_and_expand() {
        assert_eq!(
            value("A=\"a\\\\b \\\"q\\\" \\$x \\n\\t\""),
            "a\\b \"q\" $x \n\t"
        );
        assert_eq!(
            value("A=\"${FROM_ENV}/x $FROM_ENV\""),
            "env-value/x env-value"
        );
        assert_eq!(parsed("B=one\nA=\"${B}-two\"")["A"], "one-two");
        assert_eq!(value("A=\"cost $5 and $ alone\""), "cost $5 and $ alone");
        assert_eq!(value("A=\"  kept blanks  \""), "  kept blanks  ");
        assert_eq!(
            value("A=\"-----BEGIN-----\nkey\n-----END-----\""),
            "-----BEGIN-----\nkey\n-----END-----"
        );
    }

    #[test]
    fn comments_blank_lines_export_and_overrides() {
        let values = parsed("# comment\n\n   # indented comment\nexport A=1\n B = 2 \nA=3\n");
        assert_eq!(values["A"], "3");
        assert_eq!(values["B"], "2");
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn errors_name_the_place_and_never_the_value() {
        let error = |text: &str| parse(text, &|_| None).expect_err("an error");
        let cases = [
            (
                "A=1\nsecretvalue\n",
                "line 2, column 12: expected `=` after the name",
            ),
            (
                "A=\"unclosed secret",
                "line 1, column 3: the double quote opened here",
            ),
            (
                "A='unclosed secret",
                "line 1, column 3: the single quote opened here",
            ),
            ("A=\"se\\qcret\"", "line 1, column 6: unknown escape"),
            (
                "A=\"${UNSET_NAME}\"",
                "line 1, column 4: this `$` names a variable set neither",
            ),
            ("A=\"${open\"", "line 1, column 4: `${` must be followed"),
            (
                "A=\"x\"secret",
                "line 1, column 6: unexpected text after the closing quote",
            ),
            ("1A=x", "line 1, column 1: expected NAME=value"),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert!(message.starts_with(expected), "{text:?}: {message}");
            assert!(
                !message.contains("secret"),
                "{text:?} quotes the value: {message}"
            );
        }
    }
}
