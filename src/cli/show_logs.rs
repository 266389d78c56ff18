//! How `show` prints a logs node: the source and how far behind its files are, then the
//! parser, the filters, the outputs and each file with its checkpointed position.

use crate::apply::contract::Detail;
use crate::plan::{LogsBefore, PlanNode};
use crate::printable::escape;

/// "file source, 2 files, 10.0 KiB behind".
pub fn summary(node: &PlanNode) -> String {
    let before = before(node);
    let files = match before.files.len() {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    };
    format!(
        "{} source, {files}, {} behind",
        escape(&node.type_name),
        bytes(before.bytes_behind)
    )
}

/// One line per part of the pipeline, then one per file.
pub fn details(node: &PlanNode) -> Vec<Detail> {
    let after = node.after.as_json();
    let part = |name: &str| after.and_then(|a| a.get(name));
    let mut details = Vec::new();
    if let Some(source) = part("source").and_then(|s| s.as_object()) {
        for (name, value) in source.iter().filter(|(n, v)| *n != "type" && !v.is_null()) {
            details.push(Detail::plain(format!(
                "{}: {}",
                escape(name),
                escape(&super::show::show_value(value))
            )));
        }
    }
    details.push(Detail::plain(format!(
        "parser: {}",
        escape(&described(part("parser")))
    )));
    for filter in part("filters")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        details.push(Detail::plain(format!(
            "filter: {}",
            escape(&described(Some(filter)))
        )));
    }
    for output in part("outputs")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
    {
        details.push(Detail::plain(format!(
            "output: {}",
            escape(&described(Some(output)))
        )));
    }
    for file in before(node).files {
        details.push(Detail::plain(format!(
            "{}: at {} of {} ({} behind)",
            escape(&file.path),
            file.position,
            file.size,
            bytes(file.behind)
        )));
    }
    details
}

fn before(node: &PlanNode) -> LogsBefore {
    node.before
        .as_json()
        .and_then(|b| serde_json::from_value(b.clone()).ok())
        .unwrap_or(LogsBefore {
            files: Vec::new(),
            bytes_behind: 0,
        })
}

/// `json`, `include field=level pattern=^error`: a part by its type and fields.
fn described(part: Option<&serde_json::Value>) -> String {
    let Some(fields) = part.and_then(|p| p.as_object()) else {
        return "none".to_owned();
    };
    let mut text = fields
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("?")
        .to_owned();
    for (name, value) in fields.iter().filter(|(n, v)| *n != "type" && !v.is_null()) {
        text.push_str(&format!(" {name}={}", super::show::show_value(value)));
    }
    text
}

/// Bytes for people: `512 B`, `10.0 KiB`, `3.2 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
