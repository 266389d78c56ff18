//! A file-family node read back from plan.json: that it holds together (what `show` prints
//! of it is what `execute` does with it), and how `show` prints it.

use serde_json::{Value, json};

use super::super::Action;
use super::super::contract::{Description, Detail, NodeView, SENSITIVE};
use super::super::fs_state::{EntryKind, FsState, fingerprint, sha256_hex};
use super::super::text;
use super::{action, decode};
use crate::fsutil::check_plain_absolute;
use crate::printable::escape;

/// Its action follows from its states, its fingerprint and diff are those of its states, its
/// sensitivity masks are the ones `plan` makes, and a `chained` node without an earlier edit
/// of its file is a hard link waiting on its target's tasks.
pub fn verify(node: &NodeView<'_>) -> Result<(), String> {
    let before = decode(node.before, node.address, "before")?;
    let after = decode(node.after, node.address, "after")?;
    if before.path != after.path {
        return Err("`before` and `after` are of different paths".to_owned());
    }
    check_plain_absolute(&after.path)?;
    if after.state == EntryKind::HardLink {
        check_plain_absolute(after.target.as_deref().unwrap_or_default())?;
    }
    for mode in [&before.mode, &after.mode].into_iter().flatten() {
        check_mode(mode)?;
    }
    // Without one, `execute` would pick a mode `show` cannot print.
    if matches!(after.state, EntryKind::File | EntryKind::Directory) && after.mode.is_none() {
        return Err("a wanted file or directory has no `mode`".to_owned());
    }
    if node.chained
        && !node.after_same_file
        && !(node.after_link_target && after.state == EntryKind::HardLink)
    {
        return Err(
            "it is `chained`, but no earlier node edits its file or its link's target".to_owned(),
        );
    }
    let sensitive = node.is_sensitive();
    check_sensitivity(node, &before, &after, sensitive)?;
    if !sensitive {
        check_content(&before, &after)?;
    }
    let action = action(&before, &after);
    // A sensitive node's content hashes are left out: a change of content alone is an update
    // its states cannot show (`execute` renders the content again and converges to it).
    let hidden_content_change = sensitive
        && action == Action::NoOp
        && node.action == Action::Update
        && after.state == EntryKind::File;
    if node.action != action && !hidden_content_change {
        return Err(format!(
            "its action is `{}`, but its `before` and `after` make it `{}`",
            node.action.as_str(),
            action.as_str()
        ));
    }
    if node.fingerprint != fingerprint(&before, node.route, !sensitive) {
        return Err("its fingerprint is not the one of its `before`".to_owned());
    }
    text::verify_diff(node.diff, &before, &after, sensitive, node.action)
}

/// Modes are written as `set_mode` writes them: four octal digits, nothing more.
fn check_mode(mode: &str) -> Result<(), String> {
    let bits = u32::from_str_radix(mode, 8).ok().filter(|b| *b <= 0o7777);
    match bits {
        Some(bits) if format!("{bits:04o}") == mode => Ok(()),
        _ => Err(format!(
            "mode `{mode}` is not four octal digits as `driftless plan` writes them"
        )),
    }
}

/// A sensitive node has exactly the redactions `plan` makes, and nothing else hidden.
fn check_sensitivity(
    node: &NodeView<'_>,
    before: &FsState,
    after: &FsState,
    sensitive: bool,
) -> Result<(), String> {
    let consistent = if sensitive {
        *node.after_sensitive == json!({ "content": true })
            && *node.before_sensitive == json!({ "sha256": true })
            && after.content.as_deref() == Some(SENSITIVE)
            && after.content_base64.is_none()
            && after.sha256.is_none()
            && after.size.is_none()
            && before.sha256.is_none()
            && before.size.is_none()
    } else {
        *node.before_sensitive == Value::Bool(false)
    };
    if consistent {
        Ok(())
    } else {
        Err("its sensitivity masks do not match its `before` and `after`".to_owned())
    }
}

/// The wanted content is the one the hash names, and only regular files have one.
fn check_content(before: &FsState, after: &FsState) -> Result<(), String> {
    let has_content = after.content.is_some() || after.content_base64.is_some();
    if after.state != EntryKind::File {
        return if has_content || after.sha256.is_some() || after.size.is_some() {
            Err("only a regular file has content".to_owned())
        } else {
            Ok(())
        };
    }
    if after.content.is_some() && after.content_base64.is_some() {
        return Err("`after` has both `content` and `content_base64`".to_owned());
    }
    match after.content_bytes()? {
        Some(bytes) => {
            if after.sha256.as_deref() != Some(&*sha256_hex(&bytes))
                || after.size != Some(bytes.len() as u64)
            {
                return Err(
                    "`after.sha256` and `after.size` are not those of `after`'s content".to_owned(),
                );
            }
        }
        // Content kept as it is: the hash, if any, is the observed one.
        None => {
            if (after.sha256.is_some() || after.size.is_some())
                && (after.sha256 != before.sha256 || after.size != before.size)
            {
                return Err("`after` keeps the content but names another hash".to_owned());
            }
        }
    }
    Ok(())
}

/// The path; for a create, the kind of entry with its mode, owner and group; for an update,
/// each attribute that changes; for a delete, what is removed; how the path is reached when
/// that is not plain; and the diff's lines.
pub fn describe(node: &NodeView<'_>) -> Description {
    let after = decode(node.after, node.address, "after").ok();
    let before = decode(node.before, node.address, "before").ok();
    let Some(after) = after else {
        return Description {
            what: String::new(),
            details: Vec::new(),
            diff_lines: diff_lines(node.diff, None),
        };
    };
    let mut details = Vec::new();
    match (node.action, &before) {
        (Action::Create, _) => details.push(created(&after)),
        (Action::Update, Some(before)) => details.extend(attribute_changes(before, &after)),
        // Removing a followed link removes the link, not what it points to.
        (Action::Delete, Some(before)) if before.follow => details.push(Detail::plain(
            "removes the symbolic link at this path (not what it points to)".to_owned(),
        )),
        (Action::Delete, Some(before)) => details.push(Detail::plain(format!(
            "removes the {}{}",
            kind_name(before.state),
            if after.force && before.state == EntryKind::Directory && !before.follow {
                " with everything in it"
            } else {
                ""
            }
        ))),
        _ => {}
    }
    if after.follow && node.action != Action::Delete {
        details.push(Detail::plain(
            "through the symbolic link at this path (follow: true)".to_owned(),
        ));
    }
    details.extend(write_checks(node, before.as_deref(), &after));
    details.extend(mode_warning(&after));
    Description {
        what: escape(&after.path).into_owned(),
        details,
        diff_lines: diff_lines(node.diff, Some(&after)),
    }
}

/// What runs around the write of new content: the `validate` command, the backup.
fn write_checks(node: &NodeView<'_>, before: Option<&FsState>, after: &FsState) -> Vec<Detail> {
    let replaces = before.is_some_and(|b| b.state == EntryKind::File);
    let writes = after.state == EntryKind::File && (!replaces || node.diff.is_some());
    let mut details = Vec::new();
    if !writes {
        return details;
    }
    if let Some(argv) = &after.validate {
        details.push(Detail::plain(format!(
            "validate: `{}` must accept the new content (%s: a temporary copy) before it is written",
            escape(&argv.join(" "))
        )));
    }
    if after.backup && replaces {
        details.push(Detail::plain(format!(
            "backup: the old file is kept as {}.<pid>.<YYYY-MM-DD@HH:MM:SS>~",
            escape(&after.path)
        )));
    }
    details
}

/// The lines of a diff, split where the line diff splits lines. When the diff only says that
/// binary content differs and the wanted content is text, that text follows in full, so that
/// no text is written that was not shown; other summarised content is named by its size and
/// hash.
fn diff_lines(diff: Option<&str>, after: Option<&FsState>) -> Vec<String> {
    let Some(diff) = diff else {
        return Vec::new();
    };
    // A line's `\n` is the printed line break; any other terminator is shown escaped.
    let printed = |line: &str| line.strip_suffix('\n').unwrap_or(line).to_owned();
    let mut lines: Vec<String> = text::lines(diff).into_iter().map(printed).collect();
    let binary = lines.last().is_some_and(|l| l == "Binary content differs");
    let too_large = lines
        .last()
        .is_some_and(|l| l.starts_with("Content differs ("));
    let new_content = after.and_then(|a| a.content_bytes().ok().flatten());
    match new_content {
        Some(bytes) if binary || too_large => match String::from_utf8(bytes) {
            Ok(text) if binary => {
                lines.push("New content:".to_owned());
                lines.extend(
                    text::lines(&text)
                        .into_iter()
                        .map(|l| format!("+{}", printed(l))),
                );
            }
            // Not shown line by line: named by its size and hash (checked against the content
            // when the plan was read).
            text => {
                let bytes = text.map_or_else(|e| e.into_bytes(), String::into_bytes);
                lines.push(format!(
                    "New content: {} bytes, SHA-256 {}",
                    bytes.len(),
                    sha256_hex(&bytes)
                ));
            }
        },
        _ => {}
    }
    lines
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Absent => "nothing",
        EntryKind::File => "file",
        EntryKind::Directory => "directory",
        EntryKind::Link => "symbolic link",
        EntryKind::HardLink => "hard link",
        EntryKind::Other => "special file",
    }
}

/// "file, mode 0644, owner root (0), group root (0)".
fn created(after: &FsState) -> Detail {
    let mut parts = vec![kind_name(after.state).to_owned()];
    if let Some(target) = &after.target {
        parts[0].push_str(&format!(" to {}", escape(target)));
    }
    if after.parents {
        parts[0].push_str(" (and its missing parents)");
    }
    if let Some(mode) = &after.mode {
        parts.push(format!("mode {}", escape(mode)));
    }
    if let Some(owner) = principal(&after.owner, after.uid) {
        parts.push(format!("owner {owner}"));
    }
    if let Some(group) = principal(&after.group, after.gid) {
        parts.push(format!("group {group}"));
    }
    if after.uid.is_none() && after.gid.is_none() {
        parts.push("owned by the user who runs it".to_owned());
    }
    Detail::plain(parts.join(", "))
}

/// A name with the id `execute` sets: `root (0)`.
fn principal(name: &Option<String>, id: Option<u32>) -> Option<String> {
    match (name, id) {
        (Some(name), Some(id)) => Some(format!("{} ({id})", escape(name))),
        (None, Some(id)) => Some(id.to_string()),
        // Without an id nothing is set, whatever the name says.
        (_, None) => None,
    }
}

/// "mode: 0644 → 0600" lines for an update's metadata.
fn attribute_changes(before: &FsState, after: &FsState) -> Vec<Detail> {
    let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let text = |v: &Option<String>| v.as_deref().map(|t| escape(t).into_owned());
    let mut changes = Vec::new();
    if before.state != after.state {
        changes.push(format!(
            "state: {} → {}",
            kind_name(before.state),
            kind_name(after.state)
        ));
    }
    if after.mode.is_some() && before.mode != after.mode {
        changes.push(format!(
            "mode: {} → {}",
            show(text(&before.mode)),
            show(text(&after.mode))
        ));
    }
    let principals = [
        (
            "owner",
            (&before.owner, before.uid),
            (&after.owner, after.uid),
        ),
        (
            "group",
            (&before.group, before.gid),
            (&after.group, after.gid),
        ),
    ];
    for (field, (before_name, before_id), (after_name, after_id)) in principals {
        if after_id.is_some() && (before_id != after_id || before_name != after_name) {
            changes.push(format!(
                "{field}: {} → {}",
                show(principal(before_name, before_id)),
                show(principal(after_name, after_id))
            ));
        }
    }
    if before.target != after.target {
        changes.push(format!(
            "target: {} → {}",
            show(text(&before.target)),
            show(text(&after.target))
        ));
    }
    changes.into_iter().map(Detail::plain).collect()
}

/// A line naming what a wanted mode lets others do beyond reading and writing their own.
fn mode_warning(after: &FsState) -> Option<Detail> {
    let bits = after.mode_bits()?;
    let mut risks = Vec::new();
    if bits & 0o4000 != 0 {
        risks.push("setuid");
    }
    if bits & 0o2000 != 0 {
        risks.push("setgid");
    }
    if bits & 0o002 != 0 {
        risks.push("world-writable");
    }
    (!risks.is_empty()).then(|| Detail {
        text: format!("warning: mode {:04o} is {}", bits, risks.join(", ")),
        warning: true,
    })
}
