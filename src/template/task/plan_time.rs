//! Values known at plan time and visible to the tasks after the one that makes them, in task
//! order: the facts a `set_fact` sets, and the result a `stat` registers (observed on the host
//! when the task is rendered). The config's files render in path order and then the role
//! instances in the order the host gets them; within a list, tasks render in the order
//! written, includes in place. A template reading such a name before the task that sets it is
//! an error naming that task, not a silent fallback to another value.

use std::collections::HashMap;
use std::sync::Mutex;

use minijinja::Value as JinjaValue;

use super::registered::each_task;
use crate::config::{LoadedConfig, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap};
use crate::template::taint::Taint;

/// The `set_fact` type's name.
pub const SET_FACT: &str = "set_fact";

/// The `stat` type's name: its registered result is observed at plan time.
pub const STAT: &str = "stat";

/// The keys of a `set_fact` that are not facts: how the task is written, and `cacheable`
/// (Ansible's fact cache across runs; driftless computes every fact afresh on every plan, so
/// there is nothing to cache and the flag changes nothing).
pub const SET_FACT_KEYS: &[&str] = &["type", "name", "tags", "when", "loop", "vars", "cacheable"];

/// A `set_fact` or `stat` written as a handler (blocks opened): refused, since what it sets
/// would be set when the config is planned, notified or not.
pub fn refuse_in_handlers(handlers: &[Node], diagnostics: &mut Diagnostics) {
    for handler in handlers {
        if let Some(Node {
            value: Value::Seq(inner),
            ..
        }) = handler
            .get("block")
            .filter(|_| handler.get("type").is_none())
        {
            refuse_in_handlers(inner, diagnostics);
            continue;
        }
        if let Some(kind @ (SET_FACT | STAT)) = handler.get("type").and_then(Node::as_str) {
            let at = handler.get("type").map_or(handler.span, |t| t.span);
            diagnostics.push(
                Diagnostic::error(format!("a `{kind}` cannot be a handler"))
                    .at(at)
                    .help(format!("a `{kind}` is evaluated when the config is planned, before anything runs or notifies; move it to `apply:`")),
            );
        }
    }
}

/// The names set at plan time, where each is set, and the values set so far.
#[derive(Default)]
pub struct PlanTime {
    /// Every name some task sets, with where the first such task is (`file:line:col`): read
    /// before anything renders, so a template reading the name too early can say where it is
    /// set.
    declared: HashMap<String, String>,
    /// The values the tasks rendered so far set, with the parts read from a secret.
    values: Mutex<HashMap<String, (JinjaValue, Taint)>>,
    /// The host the config is compiled for from its recorded facts (`check --host`), which
    /// may not be the machine a `stat` looks at.
    recorded_host: Option<String>,
}

impl PlanTime {
    /// Every name the config's `set_fact`s set and its `stat`s register; `recorded_host`
    /// when the config is compiled for a host from its recorded facts.
    pub fn declare(
        loaded: &LoadedConfig,
        sources: &SourceMap,
        recorded_host: Option<String>,
    ) -> PlanTime {
        let mut declared = HashMap::new();
        let mut add = |name: &str, node: &Node| {
            declared.entry(name.to_owned()).or_insert_with(|| {
                let (line, column) = sources.line_col(node.span.file, node.span.start);
                format!("{}:{line}:{column}", sources.path(node.span.file))
            });
        };
        each_task(loaded, |task| {
            match task.get("type").and_then(Node::as_str) {
                Some(SET_FACT) => {
                    for (key, _) in task.as_map().unwrap_or_default() {
                        if !SET_FACT_KEYS.contains(&key.name.as_str()) {
                            add(&key.name, task);
                        }
                    }
                }
                Some(STAT) => {
                    if let Some(name) = task.get("register").and_then(Node::as_str) {
                        add(name, task);
                    }
                }
                _ => {}
            }
        });
        PlanTime {
            declared,
            values: Mutex::new(HashMap::new()),
            recorded_host,
        }
    }

    /// The host compiled for from its recorded facts, if it is one.
    pub fn recorded_host(&self) -> Option<&str> {
        self.recorded_host.as_deref()
    }

    /// Whether no task sets anything at plan time: then the order tasks render in does not
    /// matter, and they render in parallel.
    pub fn is_empty(&self) -> bool {
        self.declared.is_empty()
    }

    /// Where the first task setting `name` is, when one does.
    pub fn declared_at(&self, name: &str) -> Option<&str> {
        self.declared.get(name).map(String::as_str)
    }

    /// The value `name` was set to by a task rendered before, with its secret parts.
    pub fn get(&self, name: &str) -> Option<(JinjaValue, Taint)> {
        if !self.declared.contains_key(name) {
            return None;
        }
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.get(name).cloned()
    }

    /// Sets `name` for the tasks rendered after this one (a later set replaces it).
    pub fn set(&self, name: &str, value: JinjaValue, taint: Taint) {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        values.insert(name.to_owned(), (value, taint));
    }
}
