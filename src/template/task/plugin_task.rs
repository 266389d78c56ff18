//! Plugin tasks expanded into the built-in tasks they stand for, right after they are
//! rendered and before `check` (which then checks, plans and applies them like written
//! ones). Each returned task is the plugin task's loop item of its key: ids
//! `<id>[<key>]` (`<id>[<loop key>/<key>]` in a loop), so a `depends_on`/`notify` naming the
//! plugin task names all of them; they carry its keywords (`name`, `tags`, `depends_on`,
//! `notify`, `noop`), its `when` for execute time and its role instance; and every node is
//! placed at its `type`, so a finding about one points at the plugin task.

use super::{RenderedTask, Renderer};
use crate::config::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// The plugin task's keywords each returned task takes over.
const INHERITED: &[&str] = &["name", "tags", "notify", "noop"];

impl Renderer {
    /// Replaces every task of `tasks[first..]` whose type is a plugin's by its expansion. A
    /// task whose rendering or expansion failed (diagnosed) is dropped.
    pub fn expand_plugin_tasks(
        &self,
        tasks: &mut Vec<RenderedTask>,
        first: usize,
        diagnostics: &mut Diagnostics,
    ) {
        if !self.plugins.has_task_types() {
            return;
        }
        let is_plugin_task = |task: &RenderedTask| {
            task.node
                .get("type")
                .and_then(Node::as_str)
                .is_some_and(|t| self.plugins.is_task_type(t))
        };
        if !tasks[first..].iter().any(is_plugin_task) {
            return;
        }
        let written: Vec<RenderedTask> = tasks.drain(first..).collect();
        for task in written {
            if is_plugin_task(&task) {
                tasks.extend(self.expand_one(&task, diagnostics));
            } else {
                tasks.push(task);
            }
        }
    }

    fn expand_one(&self, task: &RenderedTask, diagnostics: &mut Diagnostics) -> Vec<RenderedTask> {
        let Some(type_node) = task.node.get("type") else {
            return Vec::new();
        };
        let type_name = type_node.as_str().unwrap_or_default();
        if !task.failed_fields.is_empty() {
            return Vec::new();
        }
        if let Some(key) = task.node.key("register") {
            diagnostics.push(
                Diagnostic::error(format!("a `{type_name}` task cannot `register` a result"))
                    .at(key.span)
                    .help("it stands for several tasks; register nothing, or use a built-in task"),
            );
            return Vec::new();
        }
        let keywords: &[&str] = crate::model::meta::KEYWORDS;
        let entries = task.node.as_map().unwrap_or_default();
        let fields = Node::new(
            Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.name != "type" && !keywords.contains(&k.name.as_str()))
                    .cloned()
                    .collect(),
            ),
            task.node.span,
        );
        let facts = self.facts_json.get_or_init(|| {
            serde_json::to_value(&self.globals.facts).unwrap_or(serde_json::Value::Null)
        });
        let Some(expansion) =
            self.plugins
                .expand(type_name, &fields, type_node.span, facts, diagnostics)
        else {
            return Vec::new();
        };
        let written_id = task.node.get("id");
        let id = match (written_id.and_then(Node::as_str), &expansion.default_id) {
            (Some(id), _) => id.to_owned(),
            (None, Some(id)) => id.clone(),
            (None, None) => {
                diagnostics.push(
                    Diagnostic::error(format!("this `{type_name}` task needs an `id`"))
                        .at(type_node.span)
                        .help("its plugin gives it none: write `id: …`"),
                );
                return Vec::new();
            }
        };
        let span = type_node.span;
        let id_node = written_id.cloned().unwrap_or_else(|| {
            let mut node = Node::new(Value::Str(id.clone()), span);
            node.sensitive = fields.any_sensitive();
            node
        });
        let item_key = |key: &str| match &task.loop_key {
            Some(item) => format!("{item}/{key}"),
            None => key.to_owned(),
        };
        let full_id = |key: &str| {
            let own = format!("{id}[{}]", item_key(key));
            match &task.instance {
                Some(instance) => format!("{instance}/{own}"),
                None => own,
            }
        };
        let written_depends_on: Vec<Node> = match task.node.get("depends_on") {
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        };
        expansion
            .tasks
            .into_iter()
            .map(|returned| {
                let mut entries = vec![(key("id", span), id_node.clone())];
                // A type with a `name` field of its own (package, service …) reads `name` as
                // that field, not as the task's name.
                let own_name = returned
                    .node
                    .get("type")
                    .and_then(Node::as_str)
                    .is_some_and(|t| crate::apply::type_has_field(t, "name"));
                entries.extend(
                    entries_of(&task.node)
                        .filter(|(k, _)| INHERITED.contains(&k.name.as_str()))
                        .filter(|(k, _)| !(own_name && k.name == "name"))
                        .cloned(),
                );
                let depends_on: Vec<Node> = written_depends_on
                    .iter()
                    .cloned()
                    .chain(
                        returned
                            .after
                            .iter()
                            .map(|sibling| Node::new(Value::Str(full_id(sibling)), span)),
                    )
                    .collect();
                if !depends_on.is_empty() {
                    entries.push((
                        key("depends_on", span),
                        Node::new(Value::Seq(depends_on), span),
                    ));
                }
                entries.extend(entries_of(&returned.node).cloned());
                RenderedTask {
                    node: Node::new(Value::Map(entries), task.node.span),
                    loop_key: Some(item_key(&returned.key)),
                    template_file: None,
                    failed_fields: Vec::new(),
                    when_at_execute: task.when_at_execute.clone(),
                    instance: task.instance.clone(),
                    observed: None,
                }
            })
            .collect()
    }
}

fn key(name: &str, span: crate::diagnostics::Span) -> Key {
    Key {
        name: name.to_owned(),
        span,
    }
}

fn entries_of(node: &Node) -> impl Iterator<Item = &(Key, Node)> {
    node.as_map().unwrap_or_default().iter()
}
