//! Lines of an `authorized_keys` file, as sshd reads them (`sshd(8)`, AUTHORIZED_KEYS FILE
//! FORMAT): `[options] type base64 [comment]`. A key is known by its type and body.

use base64::Engine;

/// The key types sshd accepts.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// One key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    pub options: Option<String>,
    pub key_type: String,
    pub body: String,
    pub comment: Option<String>,
}

impl KeyLine {
    /// The line as written to the file.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(options) = &self.options {
            out.push_str(options);
            out.push(' ');
        }
        out.push_str(&self.key_type);
        out.push(' ');
        out.push_str(&self.body);
        if let Some(comment) = &self.comment {
            out.push(' ');
            out.push_str(comment);
        }
        out
    }

    /// What tells one key from another: its type and body.
    pub fn identity(&self) -> String {
        format!("{} {}", self.key_type, self.body)
    }
}

/// Whether a line holds no key (blank or a comment).
pub fn is_blank(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

/// Parses a key line; why it is not one.
pub fn parse(line: &str) -> Result<KeyLine, String> {
    let line = line.trim();
    let (options, rest) = match first_word(line) {
        (word, _) if KEY_TYPES.contains(&word) => (None, line),
        (word, _) if !looks_like_options(word) => {
            let shown: String = word.chars().take(40).collect();
            return Err(format!(
                "`{}` is not a key type sshd knows ({}) nor options",
                shown.escape_default(),
                KEY_TYPES.join(", ")
            ));
        }
        _ => {
            let end = options_end(line)?;
            (Some(line[..end].to_owned()), line[end..].trim_start())
        }
    };
    let (key_type, rest) = first_word(rest);
    if !KEY_TYPES.contains(&key_type) {
        let shown: String = key_type.chars().take(40).collect();
        return Err(format!(
            "`{}` is not a key type sshd knows ({})",
            shown.escape_default(),
            KEY_TYPES.join(", ")
        ));
    }
    let (body, rest) = first_word(rest.trim_start());
    check_body(key_type, body)?;
    let comment = rest.trim();
    Ok(KeyLine {
        options,
        key_type: key_type.to_owned(),
        body: body.to_owned(),
        comment: (!comment.is_empty()).then(|| comment.to_owned()),
    })
}

/// The options sshd takes without a value; others are `name="value"`.
const FLAGS: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-X11-forwarding",
    "port-forwarding",
    "pty",
    "restrict",
    "user-rc",
    "X11-forwarding",
    "no-touch-required",
    "verify-required",
];

/// Whether the first word of a line can be options: flags and `name=…`, comma-separated.
fn looks_like_options(word: &str) -> bool {
    word.contains('=') || word.split(',').all(|flag| FLAGS.contains(&flag))
}

fn first_word(text: &str) -> (&str, &str) {
    match text.find([' ', '\t']) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    }
}

/// Where the options end: the first blank outside double quotes.
fn options_end(line: &str) -> Result<usize, String> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Ok(i),
            _ => {}
        }
    }
    Err(if quoted {
        "its options have an unclosed `\"`".to_owned()
    } else {
        "it has no key after its options".to_owned()
    })
}

/// The body is base64 of an SSH wire-format key whose first string is its type.
fn check_body(key_type: &str, body: &str) -> Result<(), String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "its key body is not base64".to_owned())?;
    let named = bytes
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| bytes.get(4..4 + len));
    if named != Some(key_type.as_bytes()) {
        return Err(format!("its key body is not a {key_type} key"));
    }
    Ok(())
}

/// Options as a task gives them: one line, no unclosed quote.
pub fn check_options(options: &str) -> Result<(), String> {
    if options.contains(['\n', '\r']) {
        return Err("options are one line".to_owned());
    }
    if options.chars().filter(|c| *c == '"').count() % 2 == 1 {
        return Err("options have an unclosed `\"`".to_owned());
    }
    if options.trim().is_empty() {
        return Err("options are empty".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const ED25519: &str =
        "AAAAC3NzaC1lZDI1NTE5AAAAIMqXgRLKG73K+sIxs5oj3E2nhu/4FHxOcrmAd4Wv7ki7";

    #[test]
    fn key_lines_are_parsed_with_options_and_comments() {
        let line = format!("from=\"10.0.0.1,10.0.0.2\",no-pty ssh-ed25519 {ED25519} me@host");
        let key = parse(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            key.options.as_deref(),
            Some("from=\"10.0.0.1,10.0.0.2\",no-pty")
        );
        assert_eq!(key.key_type, "ssh-ed25519");
        assert_eq!(key.comment.as_deref(), Some("me@host"));
        assert_eq!(key.render(), line);
        let bare = parse(&format!("ssh-ed25519 {ED25519}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.options, None);
        assert_eq!(bare.comment, None);
    }

    #[test]
    fn bad_keys_say_why() {
        assert!(parse("ssh-foo AAAA").is_err_and(|e| e.contains("not a key type")));
        assert_eq!(
            parse("ssh-ed25519 !!!"),
            Err("its key body is not base64".to_owned())
        );
        assert_eq!(
            parse(&format!("ssh-rsa {ED25519}")),
            Err("its key body is not a ssh-rsa key".to_owned())
        );
        assert!(parse("no-pty,command=\"x ssh-ed25519 AAAA").is_err());
    }
}
