//! Unified diffs of content changes, as plan.json and `show` present them.

use similar::TextDiff;

use super::{Action, EntryKind, FsState, Observed};

/// Content larger than this is summarised, not diffed line by line.
const MAX_DIFF_BYTES: usize = 1 << 20;

/// The diff of a file's content, when the content changes. Sensitive content is never shown:
/// the diff says only that it changed.
pub fn diff(before: &Observed, after: &FsState, sensitive: bool, action: Action) -> Option<String> {
    if !action.changes() {
        return None;
    }
    let new_bytes = match after.state {
        EntryKind::File => after.content_bytes().ok().flatten(),
        _ => Some(Vec::new()),
    };
    let new: &[u8] = match &new_bytes {
        Some(bytes) => bytes,
        // Content kept as is: nothing to diff.
        None => return None,
    };
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
    if old == new {
        return None;
    }
    let path = &after.path;
    if sensitive {
        return Some(hidden(path));
    }
    let (Ok(old_text), Ok(new_text)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return Some(format!("--- {path}\n+++ {path}\nBinary content differs\n"));
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

/// What a diff of content too large to show says instead.
fn too_large(path: &str, old: u64, new: usize) -> String {
    format!("--- {path}\n+++ {path}\nContent differs ({old} → {new} bytes; too large to show)\n")
}

/// What a diff of sensitive content says instead.
pub fn hidden(path: &str) -> String {
    format!("--- {path}\n+++ {path}\n(sensitive content changed; not shown)\n")
}
