//! Rendering one task: `when`, `loop`, task `vars`, every string, and its template file.

mod block;
mod plan_time;
pub mod plugin_task;
mod registered;
mod set_fact;
mod stat_result;

pub use plan_time::{PlanTime, SET_FACT, refuse_in_handlers};
pub use registered::{Registered, registered_names};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, Value as JinjaValue};
use rayon::prelude::*;

use super::render_error::{Access, Failure, SourceTexts, head, last_access, loop_iterable, narrow};
use super::scope::{Globals, SecretsView, TaskScope};
use super::taint::Taint;
use super::{
    RenderedFile, RenderedTask, SkippedTask, check_var_name, engine_trap, environment,
    node_to_value,
};
use crate::config::{ConfigDir, Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span, did_you_mean, one_of};
use crate::secrets::Secrets;
use plan_time::STAT;

/// Keys the template stage consumes; every other key of a task is rendered and passed on.
const TEMPLATE_KEYWORDS: &[&str] = &["when", "loop", "vars"];

/// How a condition (`when`, an assert's `that`) is written, for every diagnostic about one.
fn condition_help(keyword: &str) -> String {
    format!(
        "write a condition without braces, e.g. `{keyword}: facts.os.family == \"debian\"` (compare with `==`)"
    )
}

/// Task types with a field of conditions, evaluated like `when` (an assert's `that`).
const CONDITION_FIELDS: &[(&str, &str)] = &[("assert", "that")];

/// Task types with a field holding an expression whose value the task shows (a `debug`'s
/// `var`), evaluated like `when`.
const EXPRESSION_FIELDS: &[(&str, &str)] = &[("debug", "var")];

/// Task types that name a template file, and the field that names it.
const TEMPLATE_FILE_FIELDS: &[(&str, &str)] = &[("template", "src"), ("file", "template")];

/// The error of a render past the budget: one is kept per run.
pub fn over_budget_message() -> String {
    format!(
        "the config renders to more than {} MiB of text in all",
        super::MAX_RENDERED_BYTES >> 20
    )
}

/// What every item of one task shares.
struct Each<'a, 's> {
    section: &'static str,
    node: &'a Node,
    entries: &'a [(Key, Node)],
    id: Option<&'a str>,
    conditions_field: Option<&'static str>,
    expression_field: Option<&'static str>,
    locals: &'a BTreeMap<String, JinjaValue>,
    sources: &'a Mutex<&'s mut SourceMap>,
}

/// How one item of a task came out.
enum Item {
    /// `when` is false.
    Skipped(SkippedTask),
    /// A `set_fact`: its facts are set, nothing goes on to `check`.
    Set,
    /// Rendered, every field or not (`failed_fields`).
    Rendered(RenderedTask),
    /// `when` could not be evaluated: the task goes no further.
    Stopped,
}

pub struct Renderer {
    env: Environment<'static>,
    globals: Arc<Globals>,
    secrets: Arc<Secrets>,
    config_dir: ConfigDir,
    /// Template file names already resolved: a loop renders the same file many times.
    resolved: Mutex<HashMap<String, Result<PathBuf, String>>>,
    /// The names tasks `register`, with their results' fields: a `when` reading one is
    /// evaluated at execute time.
    registered: Registered,
    /// What `set_fact`s and `stat`s set, for the tasks after them.
    plan_time: Arc<PlanTime>,
    /// Bytes of text the tasks hold so far, every loop item counted, against
    /// [`super::MAX_RENDERED_BYTES`].
    rendered_bytes: AtomicU64,
    /// The config files' texts: an error's caret goes on the failing expression's column.
    texts: SourceTexts,
    /// The config's plugins: their filters are in `env`, their task types expanded here.
    plugins: Arc<crate::plugins::Plugins>,
    /// The facts as JSON, made once for the plugin tasks that ask for some.
    facts_json: std::sync::OnceLock<serde_json::Value>,
}

/// One task's context and the secrets view whose flag says whether a render read a secret.
struct Scope {
    root: JinjaValue,
    secrets: Arc<SecretsView>,
}

impl Renderer {
    pub fn new(
        globals: Arc<Globals>,
        secrets: Arc<Secrets>,
        config_dir: &ConfigDir,
        options: super::TemplateOptions,
        texts: SourceTexts,
    ) -> Self {
        let mut env = environment(options);
        let dir = config_dir.clone();
        // Template files (and what they include) load from the config dir, once each.
        env.set_loader(move |name| match dir.resolve_asset(name) {
            Ok(path) => match read_template_file(&path) {
                Ok(text) => match engine_trap(&text) {
                    Some(why) => Err(minijinja::Error::new(ErrorKind::SyntaxError, why)),
                    None => Ok(Some(text)),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read template file `{name}`: {e}"),
                )),
            },
            Err(_) => Ok(None),
        });
        Renderer {
            env,
            globals,
            secrets,
            config_dir: config_dir.clone(),
            resolved: Mutex::new(HashMap::new()),
            registered: Registered::new(),
            plan_time: Arc::new(PlanTime::default()),
            rendered_bytes: AtomicU64::new(0),
            texts,
            plugins: Arc::new(crate::plugins::Plugins::default()),
            facts_json: std::sync::OnceLock::new(),
        }
    }

    /// The config's plugins: their filters join the environment, their task types are
    /// expanded (`task/plugin_task.rs`).
    pub fn with_plugins(mut self, plugins: Arc<crate::plugins::Plugins>) -> Self {
        plugins.register_filters(&mut self.env);
        self.plugins = plugins;
        self
    }

    /// The names tasks register (see [`registered_names`]).
    pub fn with_registered(mut self, names: Registered) -> Self {
        self.registered = names;
        self
    }

    /// The names set at plan time (see [`PlanTime`]), shared by every renderer of one config.
    pub fn with_plan_time(mut self, plan_time: Arc<PlanTime>) -> Self {
        self.plan_time = plan_time;
        self
    }

    /// Counts `bytes` more text against the run's budget. Past it, every render fails, each
    /// saying why; `template::render` keeps the first of these errors in file and task order
    /// (renders run in parallel: the first to run out is not the first in the files).
    fn charge(&self, bytes: usize, span: Span) -> Result<(), Diagnostic> {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let total = self
            .rendered_bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if total <= super::MAX_RENDERED_BYTES {
            return Ok(());
        }
        Err(
            Diagnostic::error(over_budget_message())
            .at(span)
            .label("the budget ran out here")
            .help("loops multiply every field of their task; loop over fewer items, or make the fields smaller"),
        )
    }

    /// Evaluates a condition (an include's `when`) with `locals` over the vars.
    pub(super) fn holds(
        &self,
        node: &Node,
        locals: BTreeMap<String, JinjaValue>,
        diagnostics: &mut Diagnostics,
    ) -> Option<bool> {
        let scope = self.scope(locals, None);
        self.condition("when", node, &scope, diagnostics)
    }

    fn scope(
        &self,
        locals: BTreeMap<String, JinjaValue>,
        item: Option<(JinjaValue, Taint)>,
    ) -> Scope {
        let secrets = SecretsView::new(self.secrets.clone());
        let root = JinjaValue::from_object(TaskScope {
            globals: self.globals.clone(),
            locals,
            item,
            secrets: secrets.clone(),
            plan_time: self.plan_time.clone(),
        });
        Scope { root, secrets }
    }

    /// Renders one list entry of `apply`/`facts`/`logs` into zero (when false), one, or one per
    /// loop item tasks; a `block` into the tasks it holds.
    pub fn task(
        &self,
        section: &'static str,
        node: &Node,
        out: &mut Vec<RenderedTask>,
        skipped: &mut Vec<SkippedTask>,
        sources: &Mutex<&mut SourceMap>,
        diagnostics: &mut Diagnostics,
    ) {
        let outer = block::Inherited::default();
        let mut sink = block::Sink {
            out,
            skipped,
            sources,
            diagnostics,
        };
        self.task_in(section, node, &outer, &mut sink);
    }

    /// A task (or block) with what the blocks around it give it: vars and tags.
    fn task_in(
        &self,
        section: &'static str,
        node: &Node,
        inherited: &block::Inherited,
        sink: &mut block::Sink<'_, '_>,
    ) {
        if block::is_block(node) {
            return self.block(section, node, inherited, sink);
        }
        let with_tags = inherited.tag(node);
        let node = with_tags.as_ref().unwrap_or(node);
        let (out, skipped, sources, diagnostics) = (
            &mut *sink.out,
            &mut *sink.skipped,
            sink.sources,
            &mut *sink.diagnostics,
        );
        let Value::Map(entries) = &node.value else {
            diagnostics.push(
                Diagnostic::error(format!("a task must be a mapping, found {}", node.kind()))
                    .at(node.span)
                    .help("write each task as `- type: …` followed by its fields"),
            );
            return;
        };
        // A block's vars, then the task's own over them.
        let mut locals = inherited.locals.clone();
        if let Some(vars) = node.get("vars") {
            match self.task_vars(vars, diagnostics) {
                Some(own) => locals.extend(own),
                None => return,
            }
        }
        let items = match node.get("loop") {
            None => vec![(None, None)],
            Some(loop_node) => {
                let scope = self.scope(locals.clone(), None);
                match self.loop_items(loop_node, &scope, diagnostics) {
                    Some(items) => items
                        .into_iter()
                        .map(|(key, value, taint)| (Some(key), Some((value, taint))))
                        .collect(),
                    None => return,
                }
            }
        };
        let id = node.get("id").and_then(Node::as_str).map(str::to_owned);
        let type_name = (section == "apply")
            .then(|| node.get("type").and_then(Node::as_str))
            .flatten();
        let conditions_field = CONDITION_FIELDS
            .iter()
            .find(|(t, _)| {
                section == "apply" && node.get("type").and_then(Node::as_str) == Some(*t)
            })
            .map(|(_, field)| *field);
        let expression_field = EXPRESSION_FIELDS
            .iter()
            .find(|(t, _)| type_name == Some(*t))
            .map(|(_, field)| *field);
        let each = Each {
            section,
            node,
            entries,
            id: id.as_deref(),
            conditions_field,
            expression_field,
            locals: &locals,
            sources,
        };
        // Loop items render independently: in parallel, then taken in order, up to the first
        // that fails (the items after it would repeat its errors; theirs are dropped).
        // A `set_fact`'s items run in order: each may read what the one before set.
        let outcomes: Vec<(Item, Diagnostics)> = if items.len() > 1 && type_name != Some(SET_FACT) {
            items
                .into_par_iter()
                .map(|(loop_key, item)| self.item(&each, loop_key, item))
                .collect()
        } else {
            items
                .into_iter()
                .map(|(loop_key, item)| self.item(&each, loop_key, item))
                .collect()
        };
        for (outcome, found) in outcomes {
            diagnostics.extend(found);
            match outcome {
                Item::Skipped(task) => {
                    if type_name == Some(STAT) {
                        self.stat_skipped(node);
                    }
                    skipped.push(task)
                }
                Item::Set => {}
                Item::Rendered(task) => {
                    let failed = !task.failed_fields.is_empty();
                    out.push(task);
                    if failed {
                        return;
                    }
                }
                Item::Stopped => return,
            }
        }
    }

    /// One loop item (or the task without a loop) of the task `each` describes.
    fn item(
        &self,
        each: &Each<'_, '_>,
        loop_key: Option<String>,
        item: Option<(JinjaValue, Taint)>,
    ) -> (Item, Diagnostics) {
        let mut diagnostics = Diagnostics::default();
        let scope = self.scope(each.locals.clone(), item);
        let when_at_execute = match each.node.get("when") {
            Some(when) => match self.deferred_when(when, &mut diagnostics) {
                Ok(deferred) => deferred,
                Err(()) => return (Item::Stopped, diagnostics),
            },
            None => None,
        };
        let type_name = (each.section == "apply")
            .then(|| each.node.get("type").and_then(Node::as_str))
            .flatten();
        if let (Some(when), Some(plan_time_type @ (SET_FACT | STAT))) =
            (&when_at_execute, type_name)
        {
            diagnostics.push(
                Diagnostic::error(format!(
                    "a `{plan_time_type}` is evaluated when the config is planned, and this `when` reads a registered result known only when tasks run"
                ))
                .at(when.span)
                .help(format!("a `{plan_time_type}`'s `when` may read vars, facts, earlier `set_fact`s and `stat` results, not the result of a task that runs")),
            );
            return (Item::Stopped, diagnostics);
        }
        if let Some(when) = each.node.get("when").filter(|_| when_at_execute.is_none()) {
            match self.condition("when", when, &scope, &mut diagnostics) {
                Some(true) => {}
                Some(false) => {
                    let skipped = SkippedTask {
                        section: each.section,
                        span: each.node.span,
                        id: each.id.map(str::to_owned),
                        loop_key,
                    };
                    return (Item::Skipped(skipped), diagnostics);
                }
                None => return (Item::Stopped, diagnostics),
            }
        }
        if type_name == Some(SET_FACT) {
            self.set_facts(each.node, each.entries, &scope, &mut diagnostics);
            return (Item::Set, diagnostics);
        }
        let mut failed_fields = Vec::new();
        let rendered: Vec<(Key, Node)> = each
            .entries
            .iter()
            .filter(|(k, _)| !TEMPLATE_KEYWORDS.contains(&k.name.as_str()))
            .map(|(k, v)| {
                let mut failed = false;
                let value = if each.conditions_field == Some(k.name.as_str()) {
                    self.assertions(v, &scope, &mut failed, &mut diagnostics)
                } else if each.expression_field == Some(k.name.as_str()) {
                    self.shown_value(v, &scope, &mut failed, &mut diagnostics)
                } else {
                    self.node(v, &scope, &mut failed, &mut diagnostics)
                };
                if failed {
                    failed_fields.push(k.name.clone());
                }
                (k.clone(), value)
            })
            .collect();
        let rendered = Node::new(Value::Map(rendered), each.node.span);
        let observed = (type_name == Some(STAT) && failed_fields.is_empty() && loop_key.is_none())
            .then(|| self.observe_stat(&rendered, &mut diagnostics))
            .flatten()
            .map(Box::new);
        let template_file = if failed_fields.is_empty() {
            self.template_file(&rendered, &scope, each.sources, &mut diagnostics)
        } else {
            None
        };
        let task = RenderedTask {
            node: rendered,
            loop_key,
            template_file,
            failed_fields,
            when_at_execute,
            instance: None,
            observed,
        };
        (Item::Rendered(task), diagnostics)
    }

    /// `settings`: every string rendered with the top-level context.
    pub fn settings(&self, node: &Node, diagnostics: &mut Diagnostics) -> Option<Node> {
        let scope = self.scope(BTreeMap::new(), None);
        let mut failed = false;
        let rendered = self.node(node, &scope, &mut failed, diagnostics);
        (!failed).then_some(rendered)
    }

    fn task_vars(
        &self,
        vars: &Node,
        diagnostics: &mut Diagnostics,
    ) -> Option<BTreeMap<String, JinjaValue>> {
        let Value::Map(entries) = &vars.value else {
            diagnostics.push(
                Diagnostic::error(format!(
                    "task `vars` must be a mapping, found {}",
                    vars.kind()
                ))
                .at(vars.span),
            );
            return None;
        };
        let mut locals = BTreeMap::new();
        for (key, value) in entries {
            if let Some(reserved) = check_var_name(&key.name) {
                diagnostics.push(reserved.at(key.span));
                return None;
            }
            locals.insert(key.name.clone(), node_to_value(value));
        }
        Some(locals)
    }

    /// `loop:` a list (items rendered), or a string naming a list or mapping: `"{{ users }}"`.
    /// Each item comes with the parts of it that were read from a secret.
    fn loop_items(
        &self,
        node: &Node,
        scope: &Scope,
        diagnostics: &mut Diagnostics,
    ) -> Option<Vec<(String, JinjaValue, Taint)>> {
        let (value, taints) = match &node.value {
            Value::Seq(_) => {
                let mut failed = false;
                let rendered = self.node(node, scope, &mut failed, diagnostics);
                if failed {
                    return None;
                }
                let taints = match &rendered.value {
                    Value::Seq(items) => items.iter().map(Taint::of).collect(),
                    _ => Vec::new(),
                };
                (node_to_value(&rendered), Some(taints))
            }
            Value::Str(text) => match self.expression(text, node.span, scope) {
                // Read from a secret: every item is sensitive, as a whole.
                Ok(value) => (value, (!scope.secrets.take_touched()).then(Vec::new)),
                Err(diagnostic) => {
                    diagnostics.push(diagnostic.or_help(
                        "`loop` names a list or mapping: `loop: \"{{ names }}\"` or `loop: names`",
                    ));
                    return None;
                }
            },
            _ => {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "`loop` must be a list or a template naming one, found {}",
                        node.kind()
                    ))
                    .at(node.span)
                    .help("write `loop: [a, b]` or `loop: \"{{ names }}\"`"),
                );
                return None;
            }
        };
        // `None`: the loop value came from a secret; `Some`: per item (missing ones clean).
        let taint_of = |index: usize| match &taints {
            None => Taint::Secret,
            Some(taints) => taints.get(index).cloned().unwrap_or(Taint::Clean),
        };
        let items = match value.kind() {
            ValueKind::Seq | ValueKind::Iterable => value.try_iter().map(|it| {
                it.enumerate()
                    .map(|(i, v)| (i.to_string(), v, taint_of(i)))
                    .collect()
            }),
            ValueKind::Map if taints.is_none() => {
                // A mapping's keys name the tasks (`id[key]`), and ids are shown everywhere.
                diagnostics.push(
                    Diagnostic::error(
                        "`loop` over a mapping read from a secret: its keys would be shown in task ids",
                    )
                    .at(node.span)
                    .help("loop over a list instead (`dict2items`-style `[{key: …, value: …}]`), so items are numbered"),
                );
                return None;
            }
            ValueKind::Map => value.try_iter().map(|it| {
                it.map(|key| {
                    let item = JinjaValue::from(BTreeMap::from([
                        ("key", key.clone()),
                        ("value", value.get_item(&key).unwrap_or_default()),
                    ]));
                    (key.to_string(), item, Taint::Clean)
                })
                .collect()
            }),
            _ => {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "`loop` must give a list or a mapping, it gave {}",
                        kind_phrase(value.kind())
                    ))
                    .at(node.span)
                    .help("`loop` needs a list, e.g. `[alice, bob]`, or a mapping, e.g. `{ blog: 8080 }`"),
                );
                return None;
            }
        };
        items.ok()
    }

    /// Evaluates an expression (`when`, a `loop` string); `{{ … }}` around it is allowed.
    /// Strict undefined does not stop an expression that merely yields an undefined value, so
    /// that is checked here: a misspelt `when: is_prod` must not silently skip its task.
    fn expression(&self, text: &str, span: Span, scope: &Scope) -> Result<JinjaValue, Diagnostic> {
        let trimmed = text.trim();
        let expr = trimmed
            .strip_prefix("{{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(trimmed);
        // The undefined-name analysis reads templates, so it is given the expression as one.
        let as_template = format!("{{{{ {expr} }}}}");
        let value = self
            .env
            .compile_expression(expr)
            .and_then(|e| e.eval(scope.root.clone()))
            .map_err(|e| self.error(e, &as_template, span, None, scope))?;
        if !value.is_undefined() {
            return Ok(value);
        }
        Err(self
            .undefined(&as_template, scope, "")
            .unwrap_or_else(|| Diagnostic::error(format!("`{expr}` is undefined")))
            .at(span))
    }

    /// A condition (`when:`, an item of an assert's `that:`): an expression without braces, or
    /// a boolean.
    fn condition(
        &self,
        keyword: &str,
        node: &Node,
        scope: &Scope,
        diagnostics: &mut Diagnostics,
    ) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(expr) => match self.expression(expr, node.span, scope) {
                Ok(value) => {
                    // The outcome is public (the plan shows whether a task runs); what the
                    // condition read does not make the task's values sensitive.
                    scope.secrets.take_touched();
                    Some(value.is_true())
                }
                Err(diagnostic) => {
                    diagnostics.push(diagnostic.or_help(condition_help(keyword)));
                    None
                }
            },
            _ => {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "`{keyword}` must be an expression or a boolean, found {}",
                        node.kind()
                    ))
                    .at(node.span)
                    .help(condition_help(keyword)),
                );
                None
            }
        }
    }

    /// An assert's `that:` (one condition or a list), evaluated here like `when`: the check
    /// stage receives a list of booleans, each at the place its condition is written.
    fn assertions(
        &self,
        node: &Node,
        scope: &Scope,
        failed: &mut bool,
        diagnostics: &mut Diagnostics,
    ) -> Node {
        let items = match &node.value {
            Value::Seq(items) => items.clone(),
            _ => vec![node.clone()],
        };
        let results = items
            .iter()
            .map(|item| {
                let value = match self.condition("that", item, scope, diagnostics) {
                    Some(holds) => Value::Bool(holds),
                    None => {
                        *failed = true;
                        Value::Null
                    }
                };
                Node::new(value, item.span)
            })
            .collect();
        Node::new(Value::Seq(results), node.span)
    }

    /// A `debug`'s `var`: the expression's value as `EXPRESSION: VALUE` (the value as JSON),
    /// sensitive when it read a secret. Another kind of value is left for `check` to refuse.
    fn shown_value(
        &self,
        node: &Node,
        scope: &Scope,
        failed: &mut bool,
        d: &mut Diagnostics,
    ) -> Node {
        let Value::Str(text) = &node.value else {
            return node.clone();
        };
        // What an earlier condition read is not this value's.
        scope.secrets.take_touched();
        match self.expression(text, node.span, scope) {
            Ok(value) => {
                let json = serde_json::to_string(&value).unwrap_or_else(|_| value.to_string());
                let expression = text.trim().trim_start_matches("{{").trim_end_matches("}}");
                Node {
                    value: Value::Str(format!("{}: {json}", expression.trim())),
                    span: node.span,
                    sensitive: scope.secrets.take_touched(),
                    templated: true,
                }
            }
            Err(diagnostic) => {
                *failed = true;
                d.push(diagnostic.or_help(
                    "`var` names a var or an expression, without braces: `var: facts.os`",
                ));
                node.clone()
            }
        }
    }

    /// Renders every string in the subtree; keys are not rendered.
    fn node(&self, node: &Node, scope: &Scope, failed: &mut bool, d: &mut Diagnostics) -> Node {
        let with_value = |value| Node {
            value,
            span: node.span,
            sensitive: node.sensitive,
            templated: node.templated,
        };
        match &node.value {
            Value::Str(text) if is_template(text) => {
                let rendered = match engine_trap(text) {
                    Some(why) => Err(minijinja::Error::new(ErrorKind::SyntaxError, why)),
                    None => self.env.render_str(text, scope.root.clone()),
                };
                let rendered = rendered
                    .map_err(|e| self.error(e, text, node.span, None, scope))
                    .and_then(|value| self.charge(value.len(), node.span).map(|()| value));
                let sensitive = scope.secrets.take_touched();
                match rendered {
                    Ok(value) => Node {
                        value: Value::Str(value),
                        span: node.span,
                        sensitive,
                        templated: true,
                    },
                    Err(diagnostic) => {
                        *failed = true;
                        d.push(diagnostic);
                        node.clone()
                    }
                }
            }
            // Literal text is copied into every loop item: it counts as much as rendered text.
            Value::Str(text) => {
                if let Err(diagnostic) = self.charge(text.len(), node.span) {
                    *failed = true;
                    d.push(diagnostic);
                }
                node.clone()
            }
            Value::Seq(items) => with_value(Value::Seq(
                items
                    .iter()
                    .map(|n| self.node(n, scope, failed, d))
                    .collect(),
            )),
            Value::Map(entries) => with_value(Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.node(v, scope, failed, d)))
                    .collect(),
            )),
            _ => node.clone(),
        }
    }

    /// For `template` and `file` tasks: reads and renders the template file they name.
    fn template_file(
        &self,
        task: &Node,
        scope: &Scope,
        sources: &Mutex<&mut SourceMap>,
        diagnostics: &mut Diagnostics,
    ) -> Option<RenderedFile> {
        let task_type = task.get("type")?.as_str()?;
        let (_, field) = TEMPLATE_FILE_FIELDS.iter().find(|(t, _)| *t == task_type)?;
        let src = task.get(field)?;
        // A file name read from a secret is refused by the check stage (a public field); it
        // is not looked up, so no message here can name it.
        if src.any_sensitive() {
            return None;
        }
        let relative = src.as_str()?;
        let resolved = self
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(relative.to_owned())
            .or_insert_with(|| self.config_dir.resolve_asset(relative))
            .clone();
        let path = match resolved {
            Ok(path) => path,
            Err(why) => {
                diagnostics.push(
                    Diagnostic::error(format!("template file refused: {why}"))
                        .at(src.span)
                        .help(
                            "keep template files in the config directory, e.g. templates/motd.j2",
                        ),
                );
                return None;
            }
        };
        // Compiled once per run through the environment's loader, whatever the loop count.
        let rendered = self
            .env
            .get_template(relative)
            .and_then(|template| template.render(scope.root.clone()));
        match rendered {
            Ok(content) => {
                let sensitive = scope.secrets.take_touched();
                if let Err(diagnostic) = self.charge(content.len(), src.span) {
                    diagnostics.push(diagnostic);
                    return None;
                }
                Some(RenderedFile {
                    path: relative.to_owned(),
                    content,
                    sensitive,
                })
            }
            Err(e) if e.kind() == ErrorKind::TemplateNotFound => {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "no template file `{relative}` in the config directory"
                    ))
                    .at(src.span)
                    .help(
                        "template files are named relative to the config directory, e.g. \
                         templates/motd.j2",
                    ),
                );
                None
            }
            Err(e) => {
                // The error may be in a file the template includes: point into that one.
                let failing = innermost(&e)
                    .name()
                    .filter(|n| *n != relative && !n.starts_with('<'));
                let included = failing.and_then(|name| {
                    let path = self.config_dir.resolve_asset(name).ok()?;
                    let text = read_template_file(&path).ok()?;
                    Some((name.to_owned(), path, text))
                });
                let (name, path, text, e) = match included {
                    Some((name, path, text)) => (name, path, text, e),
                    None => {
                        let text = read_template_file(&path).unwrap_or_default();
                        // A range in a file that could not be read again points nowhere.
                        let e = match failing {
                            Some(_) => {
                                let inner = innermost(&e);
                                minijinja::Error::new(
                                    inner.kind(),
                                    inner.detail().unwrap_or_default().to_owned(),
                                )
                            }
                            None => e,
                        };
                        (relative.to_owned(), path, text, e)
                    }
                };
                let file =
                    sources
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .add(name, path, text.clone());
                let span = Span::new(file, 0, 0);
                let diagnostic = self.error(e, &text, span, Some(src.span), scope);
                diagnostics.push(diagnostic);
                None
            }
        }
    }

    /// A diagnostic for a failed render. `span` is the template's text (a field's value or a
    /// whole template file); the caret goes on the expression the engine failed at, which is
    /// named: an undefined variable or field (with a suggestion), an unknown filter or test.
    fn error(
        &self,
        error: minijinja::Error,
        source: &str,
        span: Span,
        used_at: Option<Span>,
        scope: &Scope,
    ) -> Diagnostic {
        // Inside an `{% include %}`, the engine's error wraps the included file's.
        let inner = innermost(&error);
        // `source` is the text of the innermost error, except when a field includes a file:
        // then only the include statement's place in the field is known.
        let in_source = used_at.is_some() || inner.name().is_none_or(|n| n.starts_with('<'));
        let field_text = source;
        let source = if in_source { source } else { "" };
        let failure = Failure::of(inner, source);
        let range = match (&failure, inner.range()) {
            _ if !in_source => error.range(),
            (Failure::Unknown { name, .. }, Some(range)) => Some(narrow(source, range, name)),
            (Failure::Undefined { expr }, Some(range)) => Some(narrow(source, range, expr)),
            (Failure::Required { .. }, Some(range)) => {
                let name = source.get(range.clone()).map_or("", |r| {
                    r.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or("")
                });
                Some(narrow(source, range, name))
            }
            (_, range) => range,
        };
        let at = match (range, used_at) {
            // Inside a template file, the range is exact.
            (Some(range), Some(_)) => Span::new(span.file, range.start, range.end),
            // Inside a field, where the field's text matches the template.
            (Some(range), None) => self.texts.locate(span, field_text, range).unwrap_or(span),
            _ => span,
        };
        let in_file = match (used_at, inner.name()) {
            (Some(_), _) => " in template file".to_owned(),
            (None, Some(name)) if !in_source => format!(" in included file {name}"),
            _ => String::new(),
        };
        match &failure {
            Failure::Unknown { kind, name } => {
                let known: Vec<&str> = match *kind {
                    "filter" => super::filters::names().collect(),
                    _ => super::filters::TESTS.to_vec(),
                };
                return Diagnostic::error(format!("unknown {kind} `{name}`{in_file}"))
                    .at(at)
                    .label(format!("no such {kind}"))
                    .help(did_you_mean(name, known).unwrap_or_else(|| {
                        format!("the {kind}s templates know are listed in docs/config/templates.md")
                    }));
            }
            Failure::Undefined { expr } => {
                if let Some(diagnostic) = self.undefined_expression(expr, source, scope, &in_file) {
                    return diagnostic.at(at);
                }
            }
            Failure::Required { message } => {
                // The message may be made from a secret (`mandatory(secrets.MSG)`).
                let message = if scope.secrets.touched() {
                    "a required value is undefined (details hidden: the template read a secret)"
                } else {
                    message
                };
                let named = self.undefined(source, scope, &in_file).map(|d| d.message);
                return Diagnostic::error(format!("{message}{in_file}"))
                    .at(at)
                    .label("required here")
                    .maybe_help(named);
            }
            Failure::Other => {}
        }
        if inner.kind() == ErrorKind::UndefinedError
            && let Some(diagnostic) = self.undefined(source, scope, &in_file)
        {
            return diagnostic.at(at);
        }
        // A failing expression that read a secret may quote the value it failed on.
        let detail = match inner.detail() {
            Some(_) if scope.secrets.touched() => {
                ": (details hidden: the template read a secret)".to_owned()
            }
            Some(d) => format!(": {d}"),
            None => String::new(),
        };
        if inner.kind() == ErrorKind::OutOfFuel {
            return Diagnostic::error(format!(
                "template{in_file} does too much work: it used up its budget of {} fuel units",
                super::TEMPLATE_FUEL
            ))
            .at(at)
            .help("a render may run about a million instructions or make about 64 MiB of data; loop over less, or split the template");
        }
        let what = match inner.kind() {
            ErrorKind::SyntaxError => "template syntax error",
            ErrorKind::UndefinedError => "undefined value",
            _ => "template error",
        };
        // A filter given an undefined value fails on its type ("value is not a string"): say
        // which variable is undefined.
        let undefined_input = (inner.kind() == ErrorKind::InvalidOperation)
            .then(|| self.undefined(source, scope, &in_file))
            .flatten()
            .map(|d| format!("{} (the filter was given it)", d.message));
        Diagnostic::error(format!("{what}{in_file}{detail}"))
            .at(at)
            .maybe_help(undefined_input)
    }

    /// The undefined expression the engine stopped at (`w.nme`, `workers[3]`, `nope`), named
    /// with what is there instead. A variable the template sets itself (`for`, `set`) has no
    /// value outside the render, so its fields are not listed.
    fn undefined_expression(
        &self,
        expr: &str,
        source: &str,
        scope: &Scope,
        in_file: &str,
    ) -> Option<Diagnostic> {
        let head = head(expr);
        // Without the text the error is in (a file a field includes), nothing is local.
        let template = (!source.is_empty())
            .then(|| self.env.template_from_str(source).ok())
            .flatten();
        let local = !head.is_empty()
            && template.is_some_and(|t| !t.undeclared_variables(false).contains(head));
        let access = last_access(expr);
        if local {
            let (message, help) = match access {
                Access::Field(parent, field) => (
                    format!("`{parent}` has no field `{field}`{in_file}"),
                    self.loop_item_fields(source, parent, scope)
                        .map(|fields| field_help(parent, field, &fields))
                        .unwrap_or_else(|| format!(
                            "`{head}` is set by the template itself (`for` or `set`); check the field's name"
                        )),
                ),
                Access::Index(parent, index) => (
                    format!("`{parent}` has no item `{index}`{in_file}"),
                    format!(
                        "`{head}` is set by the template itself (`for` or `set`); check the index"
                    ),
                ),
                Access::Name(name) => (
                    format!("`{name}` is undefined{in_file}"),
                    "it is set by the template itself (`for` or `set`)".to_owned(),
                ),
            };
            return Some(Diagnostic::error(message).label("not defined").help(help));
        }
        // Names and dotted fields of the context: the whole-path analysis (secrets included).
        if !expr.contains(['[', '(']) {
            return self.undefined(&format!("{{{{ {expr} }}}}"), scope, in_file);
        }
        let (parent, missing) = match access {
            Access::Field(parent, field) => (parent, Err(field)),
            Access::Index(parent, index) => (parent, Ok(index)),
            Access::Name(_) => return None,
        };
        let value = self
            .env
            .compile_expression(parent)
            .and_then(|e| e.eval(scope.root.clone()))
            .ok()
            .filter(|v| !v.is_undefined());
        let Some(value) = value else {
            return self.undefined_expression(parent, source, scope, in_file);
        };
        let hidden = scope.secrets.touched();
        let (message, help) = match missing {
            Err(field) => (
                format!("`{parent}` has no field `{field}`{in_file}"),
                if hidden {
                    format!("the fields of `{parent}` are not listed: it was read from a secret")
                } else if value.kind() == ValueKind::Map {
                    let fields: Vec<String> = value
                        .try_iter()
                        .map(|it| it.map(|k| k.to_string()).collect())
                        .unwrap_or_default();
                    field_help(parent, field, &fields)
                } else {
                    format!(
                        "`{parent}` is {}, it has no fields",
                        kind_phrase(value.kind())
                    )
                },
            ),
            Ok(index) => (
                format!("`{parent}` has no item `{index}`{in_file}"),
                match value.len() {
                    _ if hidden => {
                        format!(
                            "the items of `{parent}` are not counted: it was read from a secret"
                        )
                    }
                    Some(0) => format!("`{parent}` is empty"),
                    Some(n) if value.kind() == ValueKind::Seq => {
                        format!("`{parent}` has {n} items, indexed 0 to {}", n - 1)
                    }
                    _ => format!("`{parent}` is {}", kind_phrase(value.kind())),
                },
            ),
        };
        Some(Diagnostic::error(message).label("not defined").help(help))
    }

    /// The fields the items of the loop that sets `name` have (`{% for w in workers %}`: the
    /// keys of `workers`' mappings), when its list comes from the context and was not read
    /// from a secret.
    fn loop_item_fields(&self, source: &str, name: &str, scope: &Scope) -> Option<Vec<String>> {
        let iterable = loop_iterable(source, name)?;
        let items = self
            .env
            .compile_expression(iterable)
            .and_then(|e| e.eval(scope.root.clone()))
            .ok()?;
        if scope.secrets.touched() || items.kind() != ValueKind::Seq {
            return None;
        }
        let mut fields: Vec<String> = Vec::new();
        for item in items.try_iter().ok()? {
            if item.kind() != ValueKind::Map {
                return None;
            }
            for key in item.try_iter().ok()? {
                let key = key.to_string();
                if !fields.contains(&key) {
                    fields.push(key);
                }
            }
        }
        fields.sort();
        Some(fields)
    }

    /// Which name of the template is undefined, and what was probably meant.
    fn undefined(&self, source: &str, scope: &Scope, in_file: &str) -> Option<Diagnostic> {
        if engine_trap(source).is_some() {
            return None;
        }
        let template = self.env.template_from_str(source).ok()?;
        let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        names.sort();
        for name in names {
            let mut parts = name.split('.');
            let head = parts.next()?;
            if head == "secrets"
                && let Some(secret) = parts.next()
            {
                if let Some(why) = scope.secrets.failure(secret) {
                    return Some(
                        Diagnostic::error(format!("secret `{secret}` cannot be read{in_file}: {why}"))
                            .help(format!(
                                "export {secret}=… in the environment, or add the line `{secret}=…` to the env file"
                            )),
                    );
                }
                continue;
            }
            let Some(mut value) = scope.root.get_attr(head).ok().filter(|v| !v.is_undefined())
            else {
                if let Some(at) = self.plan_time.declared_at(head) {
                    return Some(
                        Diagnostic::error(format!("`{head}` is read before the task that sets it{in_file}"))
                            .label("not set yet")
                            .help(format!(
                                "`{head}` is set at {at}, by a task that comes after this one; tasks see what a `set_fact` or `stat` sets only after it (files in path order, then role instances): move this task after it"
                            )),
                    );
                }
                let candidates = self
                    .globals
                    .names()
                    .chain(super::RESERVED.iter().copied())
                    .collect::<Vec<_>>();
                return Some(
                    Diagnostic::error(format!("undefined variable `{head}`{in_file}"))
                        .label("not defined")
                        .help(did_you_mean(head, candidates).unwrap_or_else(|| {
                            format!("define `{head}` under `vars:`, in the task's `vars:`, or with `-e {head}=…`")
                        })),
                );
            };
            let mut path = head.to_owned();
            for part in parts {
                let next = value.get_attr(part).ok().filter(|v| !v.is_undefined());
                let Some(next) = next else {
                    let help = if scope.secrets.touched() {
                        // The value (or the render) came from a secret: its keys may be one.
                        format!("the fields of `{path}` are not listed: it was read from a secret")
                    } else if value.kind() == ValueKind::Map {
                        let fields: Vec<String> = value
                            .try_iter()
                            .map(|it| it.map(|k| k.to_string()).collect())
                            .unwrap_or_default();
                        field_help(&path, part, &fields)
                    } else {
                        format!(
                            "`{path}` is {}, it has no fields",
                            kind_phrase(value.kind())
                        )
                    };
                    return Some(
                        Diagnostic::error(format!("`{path}` has no field `{part}`{in_file}"))
                            .label("not defined")
                            .help(help),
                    );
                };
                path = format!("{path}.{part}");
                value = next;
            }
        }
        None
    }
}

/// The error an `{% include %}` wraps, down to the one that failed first.
fn innermost(error: &minijinja::Error) -> &minijinja::Error {
    let mut current = error;
    while let Some(inner) =
        std::error::Error::source(current).and_then(|e| e.downcast_ref::<minijinja::Error>())
    {
        current = inner;
    }
    current
}

/// What to write instead of `path.part` in a mapping: a near field, else the fields there are.
fn field_help(path: &str, part: &str, fields: &[String]) -> String {
    if fields.is_empty() {
        return format!("`{path}` is an empty mapping, it has no fields");
    }
    did_you_mean(part, fields.iter().map(String::as_str)).unwrap_or_else(|| {
        format!(
            "the fields of `{path}` are {}",
            one_of(fields.iter().map(String::as_str))
        )
    })
}

/// "a string", "a number": a value kind as a message says it.
fn kind_phrase(kind: ValueKind) -> String {
    let name = kind.to_string();
    match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {name}"),
        _ => format!("a {name}"),
    }
}

pub(super) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A template file's text: a regular file (a FIFO or device is refused, not read) of at most
/// [`crate::fsutil::MAX_FILE_BYTES`], in UTF-8.
fn read_template_file(path: &Path) -> std::io::Result<String> {
    let bytes = crate::fsutil::read_regular_file(path)?;
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}
