use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use crate::apply::fs_state::sha256_hex;
use crate::apply::{Action, EntryKind, FsState};
use crate::ops;
use crate::plan::{AuditDestination, NodeKind, Plan, PlanNode, SENSITIVE, Summary};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The plan file (plan.json)
    plan: PathBuf,
}

pub fn run(globals: &Globals, args: &ShowArgs) -> ExitCode {
    let plan = match ops::read_plan(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {}", escape(&e));
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&plan, globals.stdout_color, true));
    ExitCode::SUCCESS
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The plan for humans: one line per node that changes something, what it creates (kind, mode,
/// owner, group) or changes, the handlers it notifies, its diff, the summary counted from the
/// nodes, where run reports go and the `-e` vars the plan was made with. Every value
/// from the plan is escaped ([`escape`]); setuid, setgid and world-writable modes get a
/// warning line.
pub fn render(plan: &Plan, color: bool, with_diffs: bool) -> String {
    let mut out = String::new();
    for node in &plan.nodes {
        render_node(&mut out, node, color, with_diffs);
    }
    // Counted here, not read from the plan's summary: the summary of what is shown.
    let s = Summary::of(&plan.nodes);
    let collect = match s.collect {
        0 => String::new(),
        1 => ", 1 collector to run".to_owned(),
        n => format!(", {n} collectors to run"),
    };
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete, {} unchanged{collect}.\n",
        s.create, s.update, s.delete, s.no_op
    ));
    for AuditDestination::Directory { path } in &plan.audit {
        out.push_str(&format!("Run reports go to {}.\n", escape(path)));
    }
    // `execute` renders sensitive values again with these: they are part of what is reviewed.
    for var in &plan.config.extra_vars {
        out.push_str(&format!("Made with -e {}\n", escape(var)));
    }
    out
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color && !code.is_empty() {
        format!("{code}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

/// A node's line, its details and (`with_diffs`) its diff; nothing for a `no-op`.
fn render_node(out: &mut String, node: &PlanNode, color: bool, with_diffs: bool) {
    let (symbol, code) = match node.action {
        Action::Create => ("+", GREEN),
        Action::Update => ("~", YELLOW),
        Action::Delete => ("-", RED),
        Action::Run => ("!", CYAN),
        Action::Collect => ("=", CYAN),
        Action::NoOp => return,
    };
    let state = (node.kind != NodeKind::Facts)
        .then(|| serde_json::from_value::<FsState>(node.after.clone()).ok())
        .flatten();
    let what = match (&state, node.kind) {
        (_, NodeKind::Facts) => collector_summary(node),
        (Some(after), _) => escape(&after.path).into_owned(),
        (None, _) => String::new(),
    };
    let mut notes = Vec::new();
    if node.noop {
        notes.push("noop: will not run");
    }
    if node.handler {
        notes.push("handler: runs only when notified");
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    out.push_str(&format!(
        "{} {} {} {what}{notes}\n",
        paint(color, code, symbol),
        paint(color, BOLD, &escape(&node.address)),
        paint(color, code, action_name(node.action))
    ));
    let mut details = match node.kind {
        NodeKind::Facts => collector_details(node),
        _ => entry_details(node, state.as_ref()),
    };
    details.extend(notified_handlers(node));
    for detail in details {
        let code = if detail.warning { RED } else { "" };
        out.push_str(&format!("    {}\n", paint(color, code, &detail.text)));
    }
    if with_diffs && let Some(diff) = &node.diff {
        for line in diff_lines(diff, state.as_ref()) {
            let code = match line.as_bytes().first() {
                Some(b'+') => GREEN,
                Some(b'-') => RED,
                Some(b'@') => CYAN,
                _ => "",
            };
            out.push_str(&format!("    {}\n", paint(color, code, &escape(&line))));
        }
    }
}

/// "notifies apply.restart": the handlers a change of this node makes run.
fn notified_handlers(node: &PlanNode) -> Option<Detail> {
    (!node.notifies.is_empty()).then(|| {
        let handlers: Vec<String> = node
            .notifies
            .iter()
            .map(|h| escape(h).into_owned())
            .collect();
        Detail::plain(format!("notifies {}", handlers.join(", ")))
    })
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Run => "run",
        Action::Collect => "collect",
    }
}

/// One indented line under a node; `warning` lines are painted red.
struct Detail {
    text: String,
    warning: bool,
}

impl Detail {
    fn plain(text: String) -> Self {
        Detail {
            text,
            warning: false,
        }
    }
}

/// The lines of a diff, split where the line diff splits lines. When the diff only says that
/// binary content differs and the wanted content is text, that text follows in full, so that
/// no text is written that was not shown; other summarised content is named by its size and
/// hash.
fn diff_lines(diff: &str, after: Option<&FsState>) -> Vec<String> {
    // A line's `\n` is the printed line break; any other terminator is shown escaped.
    let printed = |line: &str| line.strip_suffix('\n').unwrap_or(line).to_owned();
    let mut lines: Vec<String> = crate::apply::lines(diff).into_iter().map(printed).collect();
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
                    crate::apply::lines(&text)
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

/// "disk every 30s, thresholds on used_ratio" for a facts node.
fn collector_summary(node: &PlanNode) -> String {
    let mut text = escape(&node.type_name).into_owned();
    if let Some(interval) = node.after.get("interval").and_then(|i| i.as_str()) {
        text.push_str(&format!(" every {}", escape(interval)));
    }
    let watched: Vec<String> = node
        .after
        .get("thresholds")
        .and_then(|t| t.as_object())
        .map(|t| t.keys().map(|k| escape(k).into_owned()).collect())
        .unwrap_or_default();
    if !watched.is_empty() {
        text.push_str(&format!(", thresholds on {}", watched.join(", ")));
    }
    text
}

/// The collector's own fields (the command it runs, the files it reads …), one per line.
fn collector_details(node: &PlanNode) -> Vec<Detail> {
    match node.after.get("collector").and_then(|c| c.as_object()) {
        Some(fields) => fields
            .iter()
            .map(|(name, value)| {
                Detail::plain(format!("{}: {}", escape(name), escape(&show_value(value))))
            })
            .collect(),
        None if node.is_sensitive() => vec![Detail::plain(format!("settings: {SENSITIVE}"))],
        None => Vec::new(),
    }
}

fn show_value(value: &serde_json::Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// What a file-family node makes: for a create, the kind of entry with its mode, owner and
/// group; for an update, each attribute that changes; for a delete, what is removed; and how
/// the path is reached when that is not plain.
fn entry_details(node: &PlanNode, after: Option<&FsState>) -> Vec<Detail> {
    let Some(after) = after else {
        return Vec::new();
    };
    let before: Option<FsState> = serde_json::from_value(node.before.clone()).ok();
    let mut details = Vec::new();
    match (node.action, &before) {
        (Action::Create, _) => details.push(created(after)),
        (Action::Update, Some(before)) => details.extend(attribute_changes(before, after)),
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
    details.extend(mode_warning(after));
    details
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
