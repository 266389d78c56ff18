//! A `command` task's `cmd` split into words by the quoting rules of a POSIX shell — and by
//! nothing else: no variables, globs, redirections, pipes or `;`. `echo hi; rm -rf /` is the
//! program `echo` with the arguments `hi;`, `rm`, `-rf` and `/`.

/// The words of `text`: blanks separate words; `'…'` keeps everything literally; `"…"` keeps
/// everything but a backslash before `"`, `\`, `$`, `` ` `` or a newline; outside quotes a
/// backslash keeps the next character (and a backslash-newline joins lines). An unclosed quote
/// or a trailing backslash is an error.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word was started (`''` is an empty word, not nothing).
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".to_owned()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    started = true;
                    word.push(c);
                }
                None => return Err("a backslash ends the command".to_owned()),
            },
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_are_split_by_blanks_and_joined_by_quotes() {
        assert_eq!(split("  ls   -l\t/tmp ").unwrap(), ["ls", "-l", "/tmp"]);
        assert_eq!(
            split(r#"echo 'a  b' "c \"d\" \$e \x" f\ g ''"#).unwrap(),
            ["echo", "a  b", r#"c "d" $e \x"#, "f g", ""]
        );
        assert_eq!(split(r#"a"b"'c'd"#).unwrap(), ["abcd"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn shell_syntax_is_only_text() {
        assert_eq!(
            split("echo hi; rm -rf / && $(id) | `x` > f *").unwrap(),
            [
                "echo", "hi;", "rm", "-rf", "/", "&&", "$(id)", "|", "`x`", ">", "f", "*"
            ]
        );
    }

    #[test]
    fn unclosed_quotes_are_errors() {
        assert!(split("echo 'a").is_err());
        assert!(split("echo \"a").is_err());
        assert!(split("echo a\\").is_err());
    }
}
