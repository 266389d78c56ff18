//! Values on a terminal: every value driftless prints (paths, ids, content lines of diffs,
//! messages) goes through [`escape`], so a value cannot start a line of its own, move the
//! cursor, recolor or retitle the terminal, or reorder what is shown — a review can only be
//! fooled by what it shows.

use std::borrow::Cow;

/// `text` with every character that is not shown as itself written as an escape: `\n`, `\r`,
/// `\t`, and `\u{…}` for the other control characters (C0, DEL, C1 — ESC starts every ANSI
/// sequence), the Unicode line and paragraph separators and the bidirectional controls (which
/// make text display in another order than it is read). Other text, backslashes included,
/// is unchanged.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Line and paragraph separators: some terminals and viewers break lines there.
            '\u{2028}' | '\u{2029}'
            // Bidirectional marks, embeddings, overrides and isolates ("Trojan Source").
            | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            escape("/etc/motd ~ ü → 東 \\n"),
            std::borrow::Cow::Borrowed("/etc/motd ~ ü → 東 \\n")
        ));
    }

    #[test]
    fn control_characters_separators_and_bidi_controls_are_escaped() {
        assert_eq!(
            escape("a\nb\rc\td\u{1b}[31me\u{7f}\u{85}\u{2028}\u{202e}f\0"),
            "a\\nb\\rc\\td\\u{1b}[31me\\u{7f}\\u{85}\\u{2028}\\u{202e}f\\u{0}"
        );
    }
}
