//! Task lists before each task is rendered: `include:` items expanded into the tasks of their
//! file (with the include's `vars` under each task's own, and its `when` deciding for all of
//! them), and a role instance's tasks made its own: their ids prefixed by the instance, their
//! references to the instance's ids (`depends_on`, `notify`) too, the role's parameters under
//! each task's vars, and file names (`src`, `template`) looked up in the role first.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use minijinja::Value as JinjaValue;

use super::task::Renderer;
use super::{RenderedTask, SkippedTask, node_to_value};
use crate::config::fleet::MAX_INCLUDE_DEPTH;
use crate::config::{ConfigDir, Includes, Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap};

const INCLUDE_KEYS: &[&str] = &["include", "vars", "when"];

/// Task fields that name a file of the config, by task type: in a role, a name is looked up
/// in the role's directory first.
const FILE_FIELDS: &[(&str, &str)] = &[("template", "src"), ("file", "template"), ("copy", "src")];

/// A role applied to a host under one instance name.
pub struct Instance {
    /// `nginx` or `nginx[site-a]`: the prefix of its task ids (`nginx[site-a]/conf`).
    pub name: Arc<str>,
    /// `roles/nginx`, relative to the config dir.
    pub role_dir: String,
    /// The role use's `vars:`.
    pub params: Option<Node>,
    /// The ids the role's tasks and handlers give themselves (in included files too): a
    /// `depends_on`/`notify` naming one of them means this instance's task.
    pub ids: HashSet<String>,
}

/// Where the rendered tasks of one task list go.
pub struct Output<'a, 's> {
    pub tasks: &'a mut Vec<RenderedTask>,
    pub skipped: &'a mut Vec<SkippedTask>,
    pub sources: &'a Mutex<&'s mut SourceMap>,
    pub diagnostics: &'a mut Diagnostics,
}

pub struct Expander<'a> {
    pub renderer: &'a Renderer,
    pub includes: &'a Includes,
    pub instance: Option<&'a Instance>,
    pub config_dir: &'a ConfigDir,
}

impl Expander<'_> {
    /// Renders the task list `items` of `section` into `out`.
    pub fn list(&self, section: &'static str, items: &[Node], out: &mut Output<'_, '_>) {
        self.items(section, items, out, &mut Vec::new());
    }

    fn items(
        &self,
        section: &'static str,
        items: &[Node],
        out: &mut Output<'_, '_>,
        stack: &mut Vec<String>,
    ) {
        for item in items {
            if item.get("include").is_some() {
                self.include(section, item, out, stack);
                continue;
            }
            let first = out.tasks.len();
            let first_skipped = out.skipped.len();
            match self.instance {
                None => self.renderer.task(
                    section,
                    item,
                    out.tasks,
                    out.skipped,
                    out.sources,
                    out.diagnostics,
                ),
                Some(instance) => {
                    let own = self.make_own(item, instance);
                    self.renderer.task(
                        section,
                        &own,
                        out.tasks,
                        out.skipped,
                        out.sources,
                        out.diagnostics,
                    );
                    for task in &mut out.tasks[first..] {
                        task.instance = Some(instance.name.clone());
                    }
                    for task in &mut out.skipped[first_skipped..] {
                        task.id = task.id.take().map(|id| format!("{}/{id}", instance.name));
                    }
                }
            }
            // Plugin tasks become the built-in tasks they stand for, before `check`.
            self.renderer
                .expand_plugin_tasks(out.tasks, first, out.diagnostics);
        }
    }

    fn include(
        &self,
        section: &'static str,
        item: &Node,
        out: &mut Output<'_, '_>,
        stack: &mut Vec<String>,
    ) {
        let entries = item.as_map().unwrap_or_default();
        for (key, _) in entries {
            if !INCLUDE_KEYS.contains(&key.name.as_str()) {
                out.diagnostics.push(
                    Diagnostic::error(format!("`{}` cannot go on an `include`", key.name))
                        .at(key.span)
                        .help("an include takes `include`, `vars` and `when`; put other keywords on the included tasks"),
                );
                return;
            }
        }
        let Some(target) = item.get("include") else {
            return;
        };
        let Some(path) = target.as_str() else {
            out.diagnostics.push(
                Diagnostic::error(format!(
                    "`include` must name a task file, found {}",
                    target.kind()
                ))
                .at(target.span)
                .help("write `include: tasks/common.yaml`"),
            );
            return;
        };
        if stack.iter().any(|p| p == path) || stack.len() >= MAX_INCLUDE_DEPTH {
            let mut cycle = stack.clone();
            cycle.push(path.to_owned());
            out.diagnostics.push(
                Diagnostic::error(format!("includes form a cycle: {}", cycle.join(" -> ")))
                    .at(target.span)
                    .help("a task file cannot include itself, directly or through others"),
            );
            return;
        }
        // Not loaded: the loader said why.
        let Some(tasks) = self.includes.get(path) else {
            return;
        };
        let vars = item.get("vars");
        if let Some(vars) = vars
            && vars.as_map().is_none()
        {
            out.diagnostics.push(
                Diagnostic::error(format!(
                    "an include's `vars` must be a mapping, found {}",
                    vars.kind()
                ))
                .at(vars.span),
            );
            return;
        }
        if let Some(when) = item.get("when") {
            let mut locals = BTreeMap::new();
            for source in [self.instance.and_then(|i| i.params.as_ref()), vars]
                .into_iter()
                .flatten()
            {
                locals.extend(local_values(source));
            }
            match self.renderer.holds(when, locals, out.diagnostics) {
                None => return,
                Some(false) => {
                    for task in tasks {
                        let id =
                            task.get("id")
                                .and_then(Node::as_str)
                                .map(|id| match self.instance {
                                    Some(instance) => format!("{}/{id}", instance.name),
                                    None => id.to_owned(),
                                });
                        out.skipped.push(SkippedTask {
                            section,
                            span: task.span,
                            id,
                            loop_key: None,
                        });
                    }
                    return;
                }
                Some(true) => {}
            }
        }
        let included: Vec<Node> = match (vars, item.key("vars")) {
            (Some(vars), Some(key)) => tasks
                .iter()
                .map(|t| with_vars_under(t, key, vars))
                .collect(),
            _ => tasks.clone(),
        };
        stack.push(path.to_owned());
        self.items(section, &included, out, stack);
        stack.pop();
    }

    /// A role task as its instance runs it.
    fn make_own(&self, task: &Node, instance: &Instance) -> Node {
        let mut own = match (&instance.params, task.as_map()) {
            (Some(params), Some(_)) => {
                let key = Key {
                    name: "vars".to_owned(),
                    span: params.span,
                };
                with_vars_under(task, &key, params)
            }
            _ => task.clone(),
        };
        let task_type = own.get("type").and_then(Node::as_str).map(str::to_owned);
        let Value::Map(entries) = &mut own.value else {
            return own;
        };
        for (key, value) in entries.iter_mut() {
            match key.name.as_str() {
                "depends_on" | "notify" => prefix_references(value, instance),
                field => {
                    let names_file = FILE_FIELDS
                        .iter()
                        .any(|(t, f)| Some(*t) == task_type.as_deref() && *f == field);
                    if names_file {
                        self.role_file(value, instance);
                    }
                }
            }
        }
        own
    }

    /// `src: templates/site.conf.j2` in a role names `roles/<role>/templates/site.conf.j2`
    /// when that file exists; otherwise the repo's file of that name.
    fn role_file(&self, value: &mut Node, instance: &Instance) {
        let Some(written) = value.as_str() else {
            return;
        };
        if written.contains("{{") || written.contains("{%") {
            return;
        }
        let in_role = format!("{}/{written}", instance.role_dir);
        if self
            .config_dir
            .resolve_asset(&in_role)
            .is_ok_and(|path| path.is_file())
        {
            value.value = Value::Str(in_role);
        }
    }
}

/// `depends_on: conf` in a role means the instance's own `conf`.
fn prefix_references(value: &mut Node, instance: &Instance) {
    let prefix = |node: &mut Node| {
        if let Some(id) = node.as_str()
            && instance.ids.contains(id)
        {
            node.value = Value::Str(format!("{}/{id}", instance.name));
        }
    };
    match &mut value.value {
        Value::Seq(items) => items.iter_mut().for_each(prefix),
        Value::Str(_) => prefix(value),
        _ => {}
    }
}

/// `task` with `vars` (a mapping) under its own `vars`: the task's own win.
fn with_vars_under(task: &Node, vars_key: &Key, vars: &Node) -> Node {
    let (Value::Map(entries), Some(lower)) = (&task.value, vars.as_map()) else {
        return task.clone();
    };
    let mut out = entries.clone();
    match out.iter_mut().find(|(k, _)| k.name == "vars") {
        Some((_, own)) => {
            if let Value::Map(own_entries) = &own.value {
                let mut merged: Vec<(Key, Node)> = lower
                    .iter()
                    .filter(|(k, _)| !own_entries.iter().any(|(o, _)| o.name == k.name))
                    .cloned()
                    .collect();
                merged.extend(own_entries.iter().cloned());
                own.value = Value::Map(merged);
            }
        }
        None => out.push((vars_key.clone(), vars.clone())),
    }
    Node {
        value: Value::Map(out),
        span: task.span,
        sensitive: task.sensitive,
        templated: task.templated,
    }
}

fn local_values(vars: &Node) -> impl Iterator<Item = (String, JinjaValue)> + '_ {
    vars.as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.name.clone(), node_to_value(v)))
}

/// The ids the tasks of a role give themselves, in included files too.
pub fn declared_ids(lists: &[&[Node]], includes: &Includes) -> HashSet<String> {
    fn walk(
        items: &[Node],
        includes: &Includes,
        ids: &mut HashSet<String>,
        seen: &mut HashSet<String>,
    ) {
        for item in items {
            if let Some(id) = item.get("id").and_then(Node::as_str) {
                ids.insert(id.to_owned());
            }
            if let Some(path) = item.get("include").and_then(Node::as_str)
                && seen.insert(path.to_owned())
                && let Some(tasks) = includes.get(path)
            {
                walk(tasks, includes, ids, seen);
            }
        }
    }
    let mut ids = HashSet::new();
    let mut seen = HashSet::new();
    for list in lists {
        walk(list, includes, &mut ids, &mut seen);
    }
    ids
}
