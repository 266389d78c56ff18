//! `facts:` tasks as plan nodes: `facts.<id>`, action `collect`.
//!
//! A collector changes nothing on the host, so its node observes nothing and has no
//! precondition. Its `after` is the collector as reviewed — the type's fields, interval and
//! thresholds — which `execute` compares with the config it runs the collector from. Facts
//! nodes come after every `apply` node: they may depend on apply tasks (the file a `textfile`
//! collector reads, the script a `command` collector runs), never the other way round.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Dependency, NodeKind, PlanNode, Precondition, SENSITIVE, SourceLocation};
use crate::apply::Action;
use crate::apply::contract::Recorded;
use crate::diagnostics::SourceMap;
use crate::model::facts::Threshold;
use crate::model::values::Duration;
use crate::model::{ApplyTask, FactsTask, TaskIndex};

/// The address of a facts task's node.
pub fn address(task: &FactsTask) -> String {
    format!("facts.{}", task.meta.id)
}

/// A facts node's `after`: the collector as it will run.
#[derive(Serialize, JsonSchema)]
pub struct CollectorAfter {
    /// The collector type's own fields (filters, command, directory …), as in the config.
    pub collector: Map<String, Value>,
    /// How often the agent runs it; `null`: on every scrape.
    pub interval: Option<Duration>,
    pub thresholds: BTreeMap<String, Threshold>,
}

/// The `after` a facts task plans: its settings, or `(sensitive)` when a secret went into
/// them. `execute` runs a collector only when the config still renders this same value.
pub fn collector_after(task: &FactsTask) -> Value {
    if task.sensitive {
        return Value::from(SENSITIVE);
    }
    // The enum serializes as `{"<type>": {fields}}`; the type is the node's `type` already.
    let collector = match serde_json::to_value(&task.collector) {
        Ok(Value::Object(tagged)) => tagged
            .into_iter()
            .next()
            .and_then(|(_, fields)| match fields {
                Value::Object(fields) => Some(fields),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Map::new(),
    };
    let after = CollectorAfter {
        collector,
        interval: task.keywords.interval.as_ref().map(|i| i.value),
        thresholds: task.keywords.thresholds.clone(),
    };
    serde_json::to_value(after).unwrap_or(Value::Null)
}

/// One node per facts task, in the order written, after the `apply` nodes.
pub fn lower(collectors: &[FactsTask], tasks: &[ApplyTask], sources: &SourceMap) -> Vec<PlanNode> {
    let index = TaskIndex::new(tasks.iter().map(|t| &t.meta));
    collectors
        .iter()
        .map(|task| {
            let mut depends_on: Vec<Dependency> = task
                .meta
                .depends_on
                .iter()
                .flat_map(|reference| index.resolve(&reference.value))
                .map(|&t| Dependency {
                    address: super::address(&tasks[t]),
                    reason: "depends_on".to_owned(),
                })
                .collect();
            depends_on.sort_by(|a, b| a.address.cmp(&b.address));
            depends_on.dedup();
            PlanNode {
                address: address(task),
                name: None,
                kind: NodeKind::Facts,
                type_name: task.collector.type_name().to_owned(),
                source: SourceLocation::of(sources, task.meta.span),
                depends_on,
                notifies: Vec::new(),
                handler: false,
                noop: false,
                when: None,
                locks: Vec::new(),
                action: Action::Collect,
                precondition: Precondition::None,
                before: Recorded::Json(Value::Null),
                after: Recorded::Json(collector_after(task)),
                before_sensitive: Value::Bool(false),
                after_sensitive: Value::Bool(task.sensitive),
                fingerprint: String::new(),
                route: String::new(),
                diff: None,
            }
        })
        .collect()
}
