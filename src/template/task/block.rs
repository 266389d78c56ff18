//! `block`: `apply` tasks that share a `when`, `vars` and `tags` (and a `name` for whoever
//! reads the config). A block has no address: the tasks inside keep their own ids, and it is
//! expanded here, before `check`, into the tasks it holds. `rescue` and `always` are refused:
//! every task is planned before any runs, so there is no failure to recover from at plan time,
//! and at execute time a failed node's dependents are skipped while the rest go on.

use std::collections::BTreeMap;
use std::sync::Mutex;

use minijinja::Value as JinjaValue;

use super::Renderer;
use crate::config::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, did_you_mean};
use crate::template::{RenderedTask, SkippedTask};

/// The keys a block takes.
const BLOCK_KEYWORDS: &[&str] = &["block", "name", "when", "vars", "tags"];

/// Ansible's error handling around a block, which driftless does not have.
const REFUSED: &[&str] = &["rescue", "always"];

/// What the blocks around a task give it.
#[derive(Default)]
pub struct Inherited {
    /// The blocks' vars, inner over outer; the task's own vars go over them.
    pub locals: BTreeMap<String, JinjaValue>,
    /// The blocks' tags, each at the place it is written.
    tags: Vec<Node>,
    /// The innermost block's `tags` key, for a task that has no `tags` of its own.
    tags_key: Option<Key>,
}

impl Inherited {
    /// The task with the blocks' tags added to its own; `None` when no block gives tags.
    pub fn tag(&self, node: &Node) -> Option<Node> {
        let key = self.tags_key.as_ref()?;
        let Value::Map(entries) = &node.value else {
            return None;
        };
        let mut entries = entries.clone();
        match entries.iter_mut().find(|(k, _)| k.name == "tags") {
            Some((_, own)) => {
                let mut all = self.tags.clone();
                match &own.value {
                    Value::Seq(items) => all.extend(items.iter().cloned()),
                    _ => all.push(own.clone()),
                }
                own.value = Value::Seq(all);
            }
            None => entries.push((
                key.clone(),
                Node::new(Value::Seq(self.tags.clone()), key.span),
            )),
        }
        Some(Node {
            value: Value::Map(entries),
            ..node.clone()
        })
    }
}

/// Where the tasks of a section go.
pub struct Sink<'a, 'm> {
    pub out: &'a mut Vec<RenderedTask>,
    pub skipped: &'a mut Vec<SkippedTask>,
    pub sources: &'a Mutex<&'m mut SourceMap>,
    pub diagnostics: &'a mut Diagnostics,
}

/// A `block:` without a `type`: a `blockinfile` task has a `block` field of its own.
pub fn is_block(node: &Node) -> bool {
    node.get("block").is_some() && node.get("type").is_none()
}

impl Renderer {
    /// The tasks of a block, each with the block's vars and tags; all skipped when its `when`
    /// is false.
    pub(super) fn block(
        &self,
        section: &'static str,
        node: &Node,
        inherited: &Inherited,
        sink: &mut Sink<'_, '_>,
    ) {
        let Some(entries) = node.as_map() else {
            return;
        };
        if !block_keys_valid(section, entries, sink.diagnostics) {
            return;
        }
        let Some(list) = node.get("block") else {
            return;
        };
        let Value::Seq(tasks) = &list.value else {
            sink.diagnostics.push(
                Diagnostic::error(format!(
                    "`block` must be a list of tasks, found {}",
                    list.kind()
                ))
                .at(list.span)
                .help("write `block:` followed by `- type: …` items"),
            );
            return;
        };
        let mut locals = inherited.locals.clone();
        if let Some(vars) = node.get("vars") {
            match self.task_vars(vars, sink.diagnostics) {
                Some(own) => locals.extend(own),
                None => return,
            }
        }
        if let Some(when) = node.get("when") {
            let scope = self.scope(locals.clone(), None);
            match self.condition("when", when, &scope, sink.diagnostics) {
                Some(true) => {}
                Some(false) => {
                    skip_all(section, tasks, sink.skipped);
                    return;
                }
                None => return,
            }
        }
        let mut tags = inherited.tags.clone();
        let mut tags_key = inherited.tags_key.clone();
        if let (Some(key), Some(own)) = (node.key("tags"), node.get("tags")) {
            match &own.value {
                Value::Seq(items) => tags.extend(items.iter().cloned()),
                _ => tags.push(own.clone()),
            }
            tags_key = Some(key.clone());
        }
        let inner = Inherited {
            locals,
            tags,
            tags_key,
        };
        for task in tasks {
            self.task_in(section, task, &inner, sink);
        }
    }
}

/// Whether the block's keys are all block keywords, in a section that has blocks; each
/// mistake diagnosed.
fn block_keys_valid(section: &str, entries: &[(Key, Node)], found: &mut Diagnostics) -> bool {
    let mut valid = true;
    for (key, _) in entries {
        let name = key.name.as_str();
        if name == "block" && section != "apply" {
            found.push(
                Diagnostic::error("`block` groups `apply:` tasks only")
                    .at(key.span)
                    .help("write the tasks one by one here; handlers, collectors and log pipelines have no blocks"),
            );
            valid = false;
        } else if REFUSED.contains(&name) {
            found.push(
                Diagnostic::error(format!("`{name}` is not supported in a block"))
                    .at(key.span)
                    .help("driftless plans every task before any runs, so there is no failure to rescue at plan time; at execute time a failed task's dependents are skipped and the rest go on. For work after a change, use `notify` and a handler; for order, `depends_on`"),
            );
            valid = false;
        } else if !BLOCK_KEYWORDS.contains(&name) {
            found.push(
                Diagnostic::error(format!("`{name}` is not a block keyword"))
                    .at(key.span)
                    .help(did_you_mean(name, BLOCK_KEYWORDS.iter().copied()).unwrap_or_else(|| {
                        format!("a block takes `block`, `name`, `when`, `vars` and `tags`; put `{name}` on the tasks inside")
                    })),
            );
            valid = false;
        }
    }
    valid
}

/// Every task of a block whose `when` is false, nested blocks included, as skipped.
fn skip_all(section: &'static str, tasks: &[Node], skipped: &mut Vec<SkippedTask>) {
    for task in tasks {
        if let Some(Value::Seq(inner)) = is_block(task)
            .then(|| task.get("block"))
            .flatten()
            .map(|b| &b.value)
        {
            skip_all(section, inner, skipped);
            continue;
        }
        skipped.push(SkippedTask {
            section,
            span: task.span,
            id: task.get("id").and_then(Node::as_str).map(str::to_owned),
            loop_key: None,
        });
    }
}
