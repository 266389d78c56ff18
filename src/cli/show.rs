use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;
use super::output::{errln, out};
use crate::apply::Action;
use crate::apply::contract::Detail;
use crate::ops;
use crate::plan::{NodeKind, Plan, PlanNode, SENSITIVE, Summary};
use crate::printable::escape;

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The plan file (plan.json)
    plan: PathBuf,

    /// How the plan prints: for people, or as one JSON document
    #[arg(long, value_enum, default_value = "human")]
    format: ShowFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ShowFormat {
    /// Text, colored on a terminal
    Human,
    /// One JSON document: the nodes that do something, the summary, where reports go
    Json,
}

pub fn run(globals: &Globals, args: &ShowArgs) -> ExitCode {
    let plan = match ops::read_plan(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            errln!("error: {}", escape(&e));
            return ExitCode::FAILURE;
        }
    };
    match args.format {
        ShowFormat::Human => out!("{}", render(&plan, globals.stdout_color, true)),
        ShowFormat::Json => out!("{:#}\n", render_json(&plan)),
    }
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
    for node in plan.nodes.iter().filter(|n| !n.handler) {
        render_node(&mut out, node, color, with_diffs);
    }
    // Apart: a handler changes something only if a task notifying it does.
    let handlers: Vec<&PlanNode> = (plan.nodes.iter())
        .filter(|n| n.handler && n.action.changes())
        .collect();
    if !handlers.is_empty() {
        out.push_str("Handlers, run only when a task notifying them changes something:\n");
        for node in handlers {
            render_node(&mut out, node, color, with_diffs);
        }
    }
    if !plan.skipped.is_empty() {
        out.push_str("Not planned:\n");
        for skipped in &plan.skipped {
            let what = match &skipped.address {
                Some(address) => escape(address).into_owned(),
                None => format!(
                    "the task at {}:{}:{}",
                    escape(&skipped.source.file),
                    skipped.source.line,
                    skipped.source.column
                ),
            };
            out.push_str(&format!("  {what}: {}\n", escape(&skipped.reason)));
        }
    }
    // Counted here, not read from the plan's summary: the summary of what is shown.
    let s = Summary::of(&plan.nodes);
    let collect = match s.collect {
        0 => String::new(),
        1 => ", 1 collector to run".to_owned(),
        n => format!(", {n} collectors to run"),
    };
    let run = match s.run {
        0 => String::new(),
        n => format!(", {n} to run"),
    };
    let check = match s.check {
        0 => String::new(),
        n => format!(", {n} to check"),
    };
    let ship = match s.ship {
        0 => String::new(),
        1 => ", 1 log pipeline to ship".to_owned(),
        n => format!(", {n} log pipelines to ship"),
    };
    let handlers = match s.handlers {
        0 => String::new(),
        1 => ", 1 handler if notified".to_owned(),
        n => format!(", {n} handlers if notified"),
    };
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete{run}, {} unchanged{check}{collect}{ship}{handlers}.\n",
        s.create, s.update, s.delete, s.no_op
    ));
    for sink in &plan.audit {
        out.push_str(&format!(
            "Run reports go to {}.\n",
            escape(&sink.destination())
        ));
    }
    // `execute` renders sensitive values again with these: they are part of what is reviewed.
    for var in &plan.config.extra_vars {
        out.push_str(&format!("Made with -e {}\n", escape(var)));
    }
    for (option, values) in [
        ("--tags", &plan.config.tags),
        ("--skip-tags", &plan.config.skip_tags),
    ] {
        if !values.is_empty() {
            out.push_str(&format!(
                "Made with {option} {}\n",
                escape(&values.join(","))
            ));
        }
    }
    for (name, path) in &plan.config.secret_files {
        out.push_str(&format!(
            "Made with --secret {}=@{} (execute reads the file again)\n",
            escape(name),
            escape(path)
        ));
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

/// What `show` says of one node that does something.
struct Shown<'p> {
    node: &'p PlanNode,
    what: String,
    notes: Vec<&'static str>,
    details: Vec<Detail>,
    diff_lines: Vec<String>,
}

/// What `show` says of a node; nothing for a `no-op`, unless its family explains it.
fn shown(node: &PlanNode) -> Option<Shown<'_>> {
    // A family may say why a node does nothing (a command's guard that holds).
    if node.action == Action::NoOp && !node.family().is_some_and(|f| f.shows_no_op()) {
        return None;
    }
    // An apply node is described by its type's family, through its own state.
    let description = node.family().map(|family| family.describe(&node.view()));
    let what = match (&description, node.kind) {
        (_, NodeKind::Facts) => collector_summary(node),
        (_, NodeKind::Logs) => super::show_logs::summary(node),
        (Some(description), _) => description.what.clone(),
        (None, _) => String::new(),
    };
    let mut notes = Vec::new();
    if node.noop {
        notes.push("noop: will not run");
    }
    if node.handler {
        notes.push("handler: runs only when notified");
    }
    let (mut details, diff_lines) = match description {
        Some(description) => (description.details, description.diff_lines),
        None if node.kind == NodeKind::Facts => (collector_details(node), Vec::new()),
        None if node.kind == NodeKind::Logs => (super::show_logs::details(node), Vec::new()),
        None => (Vec::new(), Vec::new()),
    };
    details.extend(notified_handlers(node));
    details.extend(run_condition(node));
    Some(Shown {
        node,
        what,
        notes,
        details,
        diff_lines,
    })
}

/// A node's line, its details and (`with_diffs`) its diff; nothing for a `no-op`.
fn render_node(out: &mut String, node: &PlanNode, color: bool, with_diffs: bool) {
    let Some(shown) = shown(node) else {
        return;
    };
    let (symbol, code) = match node.action {
        Action::Create => ("+", GREEN),
        Action::Update => ("~", YELLOW),
        Action::Delete => ("-", RED),
        Action::Run => ("!", CYAN),
        Action::Collect => ("=", CYAN),
        Action::Check => ("?", CYAN),
        Action::Ship => (">", CYAN),
        Action::NoOp => ("=", ""),
    };
    let notes = if shown.notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", shown.notes.join(", "))
    };
    let name = match &node.name {
        Some(name) => format!(" ({})", escape(name)),
        None => String::new(),
    };
    out.push_str(&format!(
        "{} {}{name} {} {}{notes}\n",
        paint(color, code, symbol),
        paint(color, BOLD, &escape(&node.address)),
        paint(color, code, node.action.as_str()),
        shown.what
    ));
    for detail in shown.details {
        let code = if detail.warning { RED } else { "" };
        out.push_str(&format!("    {}\n", paint(color, code, &detail.text)));
    }
    if with_diffs {
        for line in shown.diff_lines {
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

/// `show --format json`: the same as the text, as one JSON document — every node that does
/// something (handlers marked), its details and diff lines, the summary, where reports go and
/// the `-e` vars and secret files the plan was made with. Values are the plan's own (JSON
/// escapes them); sensitive ones are `(sensitive)` there already.
pub fn render_json(plan: &Plan) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = (plan.nodes.iter())
        .filter_map(shown)
        .map(|shown| {
            serde_json::json!({
                "address": shown.node.address,
                "name": shown.node.name,
                "type": shown.node.type_name,
                "action": shown.node.action.as_str(),
                "what": shown.what,
                "handler": shown.node.handler,
                "noop": shown.node.noop,
                "when": shown.node.when,
                "details": shown.details.iter().map(|d| &d.text).collect::<Vec<_>>(),
                "warnings": (shown.details.iter().filter(|d| d.warning))
                    .map(|d| &d.text)
                    .collect::<Vec<_>>(),
                "diff": shown.diff_lines,
            })
        })
        .collect();
    serde_json::json!({
        "nodes": nodes,
        "summary": Summary::of(&plan.nodes),
        "audit": plan.audit,
        "skipped": plan.skipped,
        "extra_vars": plan.config.extra_vars,
        "secret_files": plan.config.secret_files,
    })
}

/// "runs only if r.changed …": a `when` over registered results, judged at execute time.
fn run_condition(node: &PlanNode) -> Option<Detail> {
    let condition = node.when.as_ref()?;
    let reads: Vec<String> = (condition.registers.iter())
        .map(|(name, address)| match address {
            Some(address) => format!("{} is {}", escape(name), escape(address)),
            None => format!("{} is not planned: skipped", escape(name)),
        })
        .collect();
    Some(Detail::plain(format!(
        "runs only if `{}` when its turn comes ({})",
        escape(&condition.expression),
        reads.join(", ")
    )))
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

/// "disk every 30s, thresholds on used_ratio" for a facts node.
fn collector_summary(node: &PlanNode) -> String {
    let mut text = escape(&node.type_name).into_owned();
    if let Some(interval) = node
        .after
        .as_json()
        .and_then(|a| a.get("interval"))
        .and_then(|i| i.as_str())
    {
        text.push_str(&format!(" every {}", escape(interval)));
    }
    let watched: Vec<String> = node
        .after
        .as_json()
        .and_then(|a| a.get("thresholds"))
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
    match node
        .after
        .as_json()
        .and_then(|a| a.get("collector"))
        .and_then(|c| c.as_object())
    {
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

pub(super) fn show_value(value: &serde_json::Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}
