//! Unified diffs of content changes, as plan.json and `show` present them.

use similar::TextDiff;

use super::fs_state::sha256_hex;
use super::{Action, EntryKind, FsState, Observed};

/// Content larger than this is summarised, not diffed line by line.
const MAX_DIFF_BYTES: usize = 1 << 20;

/// The diff of a file's content, when the content changes. Sensitive content is never shown:
/// the diff says only that it changed.
pub fn diff(before: &Observed, after: &FsState, sensitive: bool, action: Action) -> Option<String> {
    if !action.changes() {
        return None;
    }
    // Content kept as is: nothing to diff.
    let new = wanted_content(after).ok().flatten()?;
    let old: &[u8] = match (before.state.state, &before.content) {
        (EntryKind::File, Some(content)) => content,
        // Too large to have been read (only hashed): nothing to diff against.
        (EntryKind::File, None) if before.state.sha256 == after.sha256 => return None,
        (EntryKind::File, None) if !sensitive => {
            let old_size = before.state.size.unwrap_or_default();
            return Some(too_large(&after.path, old_size, new.len()));
        }
        _ => b"",
    };
    contents_diff(&after.path, old, &new, sensitive)
}

/// The content a wanted state leaves at its path: its content for a regular file (`None`:
/// kept as it is), nothing for anything else.
fn wanted_content(after: &FsState) -> Result<Option<Vec<u8>>, String> {
    match after.state {
        EntryKind::File => after.content_bytes(),
        _ => Ok(Some(Vec::new())),
    }
}

/// The diff between two contents of the file at `path`; `None` when they are equal.
fn contents_diff(path: &str, old: &[u8], new: &[u8], sensitive: bool) -> Option<String> {
    if old == new {
        return None;
    }
    if sensitive {
        return Some(hidden(path));
    }
    let (Ok(old_text), Ok(new_text)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return Some(binary(path));
    };
    if old.len() + new.len() > MAX_DIFF_BYTES {
        return Some(too_large(path, old.len() as u64, new.len()));
    }
    let diff = TextDiff::from_lines(old_text, new_text);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(path, path)
            .missing_newline_hint(true)
            .to_string(),
    )
}

fn binary(path: &str) -> String {
    format!("--- {path}\n+++ {path}\nBinary content differs\n")
}

/// What a diff of content too large to show says instead.
fn too_large(path: &str, old: u64, new: usize) -> String {
    format!("--- {path}\n+++ {path}\nContent differs ({old} → {new} bytes; too large to show)\n")
}

/// What a diff of sensitive content says instead.
pub fn hidden(path: &str) -> String {
    format!("--- {path}\n+++ {path}\n(sensitive content changed; not shown)\n")
}

/// Checks a plan's `diff` against the states it says it is between, so that what `show` prints
/// is the change `execute` makes: the diff must be exactly the one `before` (as far as the plan
/// records it: the hash and size of a regular file's content) and `after` give. A line diff of
/// a file is applied backwards to the wanted content and must give back content with the
/// recorded hash. `sensitive`: the content is `(sensitive)` and the diff only says it changed.
pub fn verify_diff(
    diff: Option<&str>,
    before: &FsState,
    after: &FsState,
    sensitive: bool,
    action: Action,
) -> Result<(), String> {
    let path = &after.path;
    let expect = |holds: bool| {
        if holds {
            Ok(())
        } else {
            Err("its `diff` is not the change from `before` to `after`".to_owned())
        }
    };
    if !action.changes() {
        return expect(diff.is_none());
    }
    if sensitive {
        return expect(diff.is_none() || diff == Some(hidden(path).as_str()));
    }
    let Some(new) = wanted_content(after)? else {
        // The content is kept as it is.
        return expect(diff.is_none());
    };
    if after.state != EntryKind::File && diff.is_none() {
        // Nothing is written; the change of kind is what `show` prints.
        return Ok(());
    }
    expect(match (before.state, diff) {
        (EntryKind::File, None) => before.sha256.as_deref() == Some(&*sha256_hex(&new)),
        (EntryKind::File, Some(diff)) => file_diff_matches(diff, before, path, &new),
        (_, diff) => contents_diff(path, b"", &new, false).as_deref() == diff,
    })
}

/// Whether `diff` is the diff from the file `before` records to `new`.
fn file_diff_matches(diff: &str, before: &FsState, path: &str, new: &[u8]) -> bool {
    let old_size = before.size;
    if diff == binary(path) {
        // Either side is not UTF-8; the old side cannot be checked, and `show` prints the
        // wanted content whenever it is text.
        return before.sha256.as_deref() != Some(&*sha256_hex(new));
    }
    if let Some(old_size) = old_size
        && std::str::from_utf8(new).is_ok()
        && usize::try_from(old_size)
            .map_or(true, |old| old.saturating_add(new.len()) > MAX_DIFF_BYTES)
        && diff == too_large(path, old_size, new.len())
    {
        return before.sha256.as_deref() != Some(&*sha256_hex(new));
    }
    let Ok(new_text) = std::str::from_utf8(new) else {
        return false;
    };
    let Some(old) = old_content(diff, path, new_text) else {
        return false;
    };
    before.sha256.as_deref() == Some(&*sha256_hex(old.as_bytes()))
        && contents_diff(path, old.as_bytes(), new, false).as_deref() == Some(diff)
}

/// The old content a unified line diff (as [`contents_diff`] writes it) was made from, given
/// the new content: the diff applied backwards. `None` when it cannot be applied.
fn old_content(diff: &str, path: &str, new: &str) -> Option<String> {
    let body = diff.strip_prefix(&format!("--- {path}\n+++ {path}\n"))?;
    let new_lines = lines(new);
    let mut old = String::with_capacity(new.len());
    let mut position = 0;
    let mut diff_lines = lines(body).into_iter().peekable();
    while let Some(line) = diff_lines.next() {
        if let Some(header) = line.strip_prefix("@@ ") {
            let start = new_range_start(header)?;
            old.push_str(&new_lines.get(position..start)?.concat());
            position = start;
            continue;
        }
        let (tag, mut text) = line.split_at_checked(1)?;
        // A line without a line break is written with one, then this marker.
        if diff_lines.peek() == Some(&"\\ No newline at end of file\n") {
            diff_lines.next();
            text = text.strip_suffix('\n')?;
        }
        match tag {
            " " | "+" if new_lines.get(position) != Some(&text) => return None,
            " " => {
                old.push_str(text);
                position += 1;
            }
            "+" => position += 1,
            "-" => old.push_str(text),
            _ => return None,
        }
    }
    old.push_str(&new_lines.get(position..)?.concat());
    Some(old)
}

/// The 0-based index in the new content where a hunk starts, from its header
/// (`-1,3 +1,4 @@`): a line number, or for an empty range the line before it.
fn new_range_start(header: &str) -> Option<usize> {
    let range = header.split(' ').nth(1)?.strip_prefix('+')?;
    let (line, length) = match range.split_once(',') {
        Some((line, length)) => (line.parse::<usize>().ok()?, length.parse::<usize>().ok()?),
        None => (range.parse::<usize>().ok()?, 1),
    };
    if length == 0 {
        Some(line)
    } else {
        line.checked_sub(1)
    }
}

/// Lines as the line diff sees them: each with its terminator (`\n`, `\r\n` or a lone `\r`).
pub fn lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' | b'\n' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(path: &str, content: Option<&[u8]>) -> FsState {
        let mut state = FsState::absent(path);
        if let Some(bytes) = content {
            state.state = EntryKind::File;
            state.set_content(bytes);
            state.content = None;
            state.content_base64 = None;
        }
        state
    }

    fn wanted(path: &str, content: &[u8]) -> FsState {
        let mut state = FsState::absent(path);
        state.state = EntryKind::File;
        state.set_content(content);
        state
    }

    /// Text made of a few distinct lines, with every kind of line ending.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "", "x y", "\r", "\n", "\r\n", "\\"]),
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn every_diff_of_two_texts_is_verified_against_them(old in text(), new in text()) {
            let before = file("/p", Some(old.as_bytes()));
            let after = wanted("/p", new.as_bytes());
            let action = crate::apply::files::action(&before, &after);
            let diff = contents_diff("/p", old.as_bytes(), new.as_bytes(), false);
            prop_assert_eq!(verify_diff(diff.as_deref(), &before, &after, false, action), Ok(()));
        }

        #[test]
        fn a_diff_of_other_texts_is_refused(
            old in text(), new in text(), shown_old in text(), shown_new in text()
        ) {
            prop_assume!(shown_old != old || shown_new != new);
            let before = file("/p", Some(old.as_bytes()));
            let after = wanted("/p", new.as_bytes());
            let action = crate::apply::files::action(&before, &after);
            let shown = contents_diff("/p", shown_old.as_bytes(), shown_new.as_bytes(), false);
            let real = contents_diff("/p", old.as_bytes(), new.as_bytes(), false);
            prop_assume!(shown != real);
            prop_assert!(verify_diff(shown.as_deref(), &before, &after, false, action).is_err());
        }
    }

    #[test]
    fn a_new_file_shows_all_of_its_lines() {
        let before = file("/p", None);
        let after = wanted("/p", b"one\ntwo");
        let diff = contents_diff("/p", b"", b"one\ntwo", false);
        assert_eq!(
            verify_diff(diff.as_deref(), &before, &after, false, Action::Create),
            Ok(())
        );
        let kept_old_diff = contents_diff("/p", b"", b"one\n", false);
        assert!(
            verify_diff(
                kept_old_diff.as_deref(),
                &before,
                &after,
                false,
                Action::Create
            )
            .is_err()
        );
        assert!(verify_diff(None, &before, &after, false, Action::Create).is_err());
    }

    #[test]
    fn a_binary_summary_is_refused_when_the_content_does_not_change() {
        let before = file("/p", Some(b"same"));
        let after = wanted("/p", b"same");
        assert!(verify_diff(Some(&binary("/p")), &before, &after, false, Action::Update).is_err());
        assert_eq!(
            verify_diff(None, &before, &after, false, Action::Update),
            Ok(())
        );
    }
}
