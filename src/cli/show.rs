use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use crate::apply::Action;
use crate::plan::{NodeKind, Plan, json};

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The plan file (plan.json)
    plan: PathBuf,
}

pub fn run(globals: &Globals, args: &ShowArgs) -> ExitCode {
    let plan = match read_plan(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&plan, globals.stdout_color, true));
    ExitCode::SUCCESS
}

pub fn read_plan(path: &std::path::Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plan {}: {e}", path.display()))?;
    json::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The plan for humans: one line per node that changes something, its diff, and the summary.
pub fn render(plan: &Plan, color: bool, with_diffs: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    for node in &plan.nodes {
        let (symbol, code) = match node.action {
            Action::Create => ("+", GREEN),
            Action::Update => ("~", YELLOW),
            Action::Delete => ("-", RED),
            Action::Run => ("!", CYAN),
            Action::Collect => ("=", CYAN),
            Action::NoOp => continue,
        };
        let what = match node.kind {
            NodeKind::Facts => collector_summary(node),
            _ => node
                .after
                .get("path")
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_owned(),
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
        let action = serde_json::to_value(node.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {} {} {what}{notes}\n",
            paint(code, symbol),
            paint(BOLD, &node.address),
            paint(code, &action)
        ));
        for change in attribute_changes(node) {
            out.push_str(&format!("    {change}\n"));
        }
        if with_diffs && let Some(diff) = &node.diff {
            for line in diff.lines() {
                let code = match line.as_bytes().first() {
                    Some(b'+') => GREEN,
                    Some(b'-') => RED,
                    Some(b'@') => CYAN,
                    _ => "",
                };
                out.push_str("    ");
                out.push_str(&if code.is_empty() {
                    line.to_owned()
                } else {
                    paint(code, line)
                });
                out.push('\n');
            }
        }
    }
    let s = &plan.summary;
    let collect = match s.collect {
        0 => String::new(),
        1 => ", 1 collector to run".to_owned(),
        n => format!(", {n} collectors to run"),
    };
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete, {} unchanged{collect}.\n",
        s.create, s.update, s.delete, s.no_op
    ));
    out
}

/// "disk every 30s, thresholds on used_ratio" for a facts node.
fn collector_summary(node: &crate::plan::PlanNode) -> String {
    let mut text = node.type_name.clone();
    if let Some(interval) = node.after.get("interval").and_then(|i| i.as_str()) {
        text.push_str(&format!(" every {interval}"));
    }
    let watched: Vec<&str> = node
        .after
        .get("thresholds")
        .and_then(|t| t.as_object())
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if !watched.is_empty() {
        text.push_str(&format!(", thresholds on {}", watched.join(", ")));
    }
    text
}

/// "mode 0644 → 0600" lines for an update's metadata.
fn attribute_changes(node: &crate::plan::PlanNode) -> Vec<String> {
    if node.action != Action::Update {
        return Vec::new();
    }
    ["state", "mode", "owner", "group", "target"]
        .iter()
        .filter_map(|field| {
            let before = node.before.get(field)?;
            let after = node.after.get(field)?;
            (before != after).then(|| {
                let show =
                    |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{field}: {} → {}", show(before), show(after))
            })
        })
        .collect()
}
