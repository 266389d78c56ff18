//! `logs:` pipelines as plan nodes: `logs.<id>`, action `ship`.
//!
//! A logs node records what its pipeline would read now — every file its globs match, with
//! the position its checkpoint holds and the bytes after it — and the pipeline as it will
//! run: source, parser, filters and outputs (credentials are secrets' names, never values).
//! `execute` runs the pipeline once over what its files hold and checkpoints, as it runs a
//! collector once; it changes nothing on the host but driftless's own state, so the node has
//! no precondition and its `before` is a report, not a fingerprint: files grow between plan
//! and execute, and what was added is shipped too. Logs nodes come after every other node.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{NodeKind, PlanNode, Precondition, SourceLocation};
use crate::apply::Action;
use crate::apply::contract::Recorded;
use crate::diagnostics::SourceMap;
use crate::model::logs::{LogPipeline, LogSource};

/// The address of a pipeline's node.
pub fn address(pipeline: &LogPipeline) -> String {
    format!("logs.{}", pipeline.id.value)
}

/// The node's `type`: its source's.
pub fn source_type(pipeline: &LogPipeline) -> &'static str {
    match pipeline.source {
        LogSource::File(_) => "file",
    }
}

/// The source types a logs node may have.
pub const SOURCE_TYPES: &[&str] = &["file"];

/// One file a pipeline's globs match, as `plan` saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObservedLogFile {
    pub path: String,
    /// Where the pipeline's checkpoint says reading goes on (bytes); for a file it has never
    /// read, where `start_at` makes it start.
    pub position: u64,
    pub size: u64,
    /// `size - position`: what `execute` will ship of it at least.
    pub behind: u64,
}

/// A logs node's `before`: the files its globs match now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogsBefore {
    pub files: Vec<ObservedLogFile>,
    /// The sum of `behind`.
    pub bytes_behind: u64,
}

impl LogsBefore {
    pub fn of(mut files: Vec<ObservedLogFile>) -> LogsBefore {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        LogsBefore {
            bytes_behind: files.iter().map(|f| f.behind).sum(),
            files,
        }
    }
}

/// A logs node's `after`: the pipeline as it will run, each part with its `type`.
#[derive(Serialize, JsonSchema)]
pub struct LogsAfter {
    pub source: Map<String, Value>,
    pub parser: Map<String, Value>,
    pub filters: Vec<Map<String, Value>>,
    pub outputs: Vec<Map<String, Value>>,
}

/// The `after` a pipeline plans; `execute` runs a pipeline only when the config still gives
/// this same value.
pub fn pipeline_after(pipeline: &LogPipeline) -> Value {
    let Ok(Value::Object(mut written)) = serde_json::to_value(pipeline) else {
        return Value::Null;
    };
    let mut part = |name: &str| written.remove(name).unwrap_or(Value::Null);
    let (source, parser, filters, outputs) = (
        part("source"),
        part("parser"),
        part("filters"),
        part("outputs"),
    );
    let each = |list: Value| match list {
        Value::Array(items) => items.into_iter().map(typed).collect(),
        _ => Vec::new(),
    };
    let after = LogsAfter {
        source: typed(source),
        parser: typed(parser),
        filters: each(filters),
        outputs: each(outputs),
    };
    serde_json::to_value(after).unwrap_or(Value::Null)
}

/// A serialized enum variant as `{type, fields…}` without the fields left unset (`null`): a
/// unit variant serializes as its name, one with fields as `{name: {fields}}`.
fn typed(variant: Value) -> Map<String, Value> {
    let mut part = tagged(variant);
    part.retain(|_, value| !value.is_null());
    part
}

fn tagged(variant: Value) -> Map<String, Value> {
    match variant {
        Value::String(name) => Map::from_iter([("type".to_owned(), Value::String(name))]),
        Value::Object(tagged) if tagged.len() == 1 => {
            let Some((name, fields)) = tagged.into_iter().next() else {
                return Map::new();
            };
            let mut out = Map::from_iter([("type".to_owned(), Value::String(name))]);
            match fields {
                Value::Object(fields) => out.extend(fields),
                Value::Null => {}
                other => {
                    out.insert("value".to_owned(), other);
                }
            }
            out
        }
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

/// One node per pipeline, in the order written, after every other node. `observe` says what
/// files a pipeline's globs match now, with their checkpointed positions.
pub fn lower(
    pipelines: &[LogPipeline],
    sources: &SourceMap,
    observe: &dyn Fn(&LogPipeline) -> Vec<ObservedLogFile>,
) -> Vec<PlanNode> {
    pipelines
        .iter()
        .map(|pipeline| PlanNode {
            address: address(pipeline),
            name: None,
            kind: NodeKind::Logs,
            type_name: source_type(pipeline).to_owned(),
            source: SourceLocation::of(sources, pipeline.id.span),
            depends_on: Vec::new(),
            notifies: Vec::new(),
            handler: false,
            noop: false,
            when: None,
            locks: Vec::new(),
            action: Action::Ship,
            precondition: Precondition::None,
            before: Recorded::Json(
                serde_json::to_value(LogsBefore::of(observe(pipeline))).unwrap_or(Value::Null),
            ),
            after: Recorded::Json(pipeline_after(pipeline)),
            before_sensitive: Value::Bool(false),
            after_sensitive: Value::Bool(false),
            fingerprint: String::new(),
            route: String::new(),
            diff: None,
        })
        .collect()
}
