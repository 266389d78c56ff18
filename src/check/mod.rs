//! Stage 4, check: rendered values into the typed [`Config`], with every finding diagnosed.
//!
//! Entry point: [`check`]. Each task is split into its keywords and its type's fields, both
//! type-checked through the node deserializer (`de.rs`); then each type's own rules
//! (`rules.rs`) and the rules across tasks (`graph.rs`: unique ids, known references, no cycles,
//! no two tasks managing one path) run. A task with errors is left out of the model but still
//! counts as declared, so one mistake does not cascade into "unknown id" errors elsewhere.

pub mod agent;
mod de;
mod graph;
mod log_outputs;
pub mod log_processing;
mod log_sources;
mod rules;
mod secret_fields;
mod sinks;
mod tags;
pub mod web_config;

use rayon::prelude::*;

use crate::apply::ApplySpec;
use crate::config::{ConfigDir, Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::model::assert::{ASSERT, AssertSpec};
use crate::model::facts::{CollectorSpec, FACTS_KEYWORDS, FactsKeywords};
use crate::model::meta::{KEYWORDS, SkipReason, SkippedTask, TagSelection, TaskKeywords};
use crate::model::{
    ApplyTask, Config, FactsTask, LogPipeline, RenderedContent, Settings, Spanned, TaskMeta,
};
use crate::template::{RenderedConfig, RenderedTask};
use de::DeContext;

/// Ids every task declared, checked or not.
#[derive(Default)]
pub struct Declared {
    pub ids: Vec<String>,
    /// The `depends_on`/`notify` references of tasks left out of the model for other errors:
    /// still checked to name known tasks, so one run reports both kinds of mistake.
    pub references_of_failed: Vec<(&'static str, Spanned<String>)>,
}

/// Type-checks the rendered config. The returned model is complete only when no error was
/// found; callers look at `diagnostics` first.
pub fn check(
    rendered: RenderedConfig,
    config_dir: &ConfigDir,
    selection: &TagSelection,
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> Config {
    let mut found = Vec::new();
    let mut declared = Declared::default();
    let mut apply = Vec::new();
    // Tasks check independently: in parallel, joined in order.
    // Handlers after the other tasks: plan order breaks ties by declaration order.
    let tasks = (rendered.apply.iter().map(|t| (t, false)))
        .chain(rendered.handlers.iter().map(|t| (t, true)))
        .collect::<Vec<_>>();
    let checked: Vec<_> = tasks
        .par_iter()
        .map(|&(task, handler)| {
            let mut task_found = Vec::new();
            let mut task_declared = Declared::default();
            let mut task_asserts = Asserts::default();
            let task = check_apply_task(
                task,
                handler,
                config_dir,
                &mut task_declared,
                &mut task_asserts,
                &mut task_found,
            );
            (task, task_declared, task_asserts, task_found)
        })
        .collect();
    let mut asserts = Asserts::default();
    let mut skipped: Vec<SkippedTask> = rendered
        .skipped
        .iter()
        .map(|s| SkippedTask {
            section: s.section,
            id: s.id.clone().map(|id| match &s.loop_key {
                Some(key) => format!("{id}[{key}]"),
                None => id,
            }),
            span: s.span,
            reason: SkipReason::When,
        })
        .collect();
    let mut all_tags: Vec<String> = Vec::new();
    for (task, task_declared, task_asserts, task_found) in checked {
        if let Some(task) = task {
            all_tags.extend(task.meta.tags.iter().cloned());
            // Left out like a `when: false` task; still declared (above), so a `depends_on`
            // naming it holds.
            match tags::left_out(selection, &task.meta.tags) {
                Some(why) if !task.meta.handler => skipped.push(SkippedTask {
                    section: "apply",
                    id: Some(task.meta.id.clone()),
                    span: task.meta.span,
                    reason: SkipReason::Tags(why),
                }),
                _ => apply.push(task),
            }
        }
        asserts.held += task_asserts.held;
        asserts.ids.extend(task_asserts.ids);
        declared.ids.extend(task_declared.ids);
        declared
            .references_of_failed
            .extend(task_declared.references_of_failed);
        found.extend(task_found);
    }
    let facts = rendered
        .facts
        .iter()
        .filter_map(|task| check_facts_task(task, &mut found))
        .collect();
    let logs = rendered
        .logs
        .iter()
        .filter_map(|task| check_log_pipeline(task, &rendered.plugin_log_filters, &mut found))
        .collect();
    let settings = check_settings(&rendered.settings, sources, &mut found);
    // In the order the tasks are written, whatever left each out.
    skipped.sort_by_key(|s| (s.span.file, s.span.start));
    let config = Config {
        apply,
        facts,
        logs,
        settings,
        skipped,
        assertions_held: asserts.held,
    };
    // A reference to a task skipped by `when` is not an error: like Ansible, a skipped task
    // counts as done, so the dependency on it holds trivially.
    for skipped in rendered.skipped.iter().filter(|s| s.section == "apply") {
        if let Some(id) = &skipped.id {
            declared.ids.push(id.clone());
            if let Some(key) = &skipped.loop_key {
                declared.ids.push(format!("{id}[{key}]"));
            }
        }
    }
    graph::check_apply_graph(&config.apply, &asserts.ids, &declared, sources, &mut found);
    graph::check_unique_registers(&config.apply, sources, &mut found);
    graph::check_facts_references(&config.facts, &config.apply, &declared, &mut found);
    graph::check_unique_ids(
        config.facts.iter().map(|t| graph::IdUse {
            id: &t.meta.id,
            span: t.meta.id_span,
            derived: t.keywords.id.is_none(),
        }),
        "facts",
        sources,
        &mut found,
    );
    graph::check_unique_ids(
        config.logs.iter().map(|p| graph::IdUse {
            id: &p.id.value,
            span: p.id.span,
            derived: false,
        }),
        "logs",
        sources,
        &mut found,
    );
    found.extend(tags::unused_selectors(
        selection,
        all_tags.iter().map(String::as_str),
    ));
    found.into_iter().for_each(|d| diagnostics.push(d));
    config
}

/// The task's mapping split into the keywords (`keywords` names) and the type's own fields.
fn split(node: &Node, keywords: &[&str]) -> Option<(Node, Node)> {
    let entries = node.as_map()?;
    let (kw, body): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|(k, _)| keywords.contains(&k.name.as_str()));
    let map = |entries| Node {
        value: Value::Map(entries),
        ..node.clone()
    };
    Some((map(kw), map(body)))
}

/// `depends_on: a` is short for `depends_on: [a]`.
fn one_or_many(node: &mut Node, names: &[&str]) {
    if let Value::Map(entries) = &mut node.value {
        for (key, value) in entries.iter_mut() {
            if names.contains(&key.name.as_str()) && matches!(value.value, Value::Str(_)) {
                *value = Node {
                    value: Value::Seq(vec![value.clone()]),
                    ..value.clone()
                };
            }
        }
    }
}

fn type_name(body: &Node) -> String {
    body.get("type")
        .and_then(Node::as_str)
        .map_or_else(|| "a".to_owned(), |t| format!("a `{t}`"))
}

/// The fields of a task left out of its type-check: those whose rendering failed (already
/// diagnosed) and those holding a secret where none may go (diagnosed here).
fn failed_fields(section: &str, task: &RenderedTask, found: &mut Vec<Diagnostic>) -> Vec<String> {
    let mut failed = task.failed_fields.clone();
    for field in secret_fields::misplaced_secrets(section, &task.node, found) {
        if !failed.contains(&field) {
            failed.push(field);
        }
    }
    failed
}

/// The id a task declares: given (with the loop key), or `<type>:<primary key>`; in a role,
/// prefixed by the role instance (`nginx[site-a]/conf`).
fn task_id(
    given: Option<&Spanned<String>>,
    derived: impl FnOnce() -> String,
    task: &RenderedTask,
) -> String {
    let id = match (given, &task.loop_key) {
        (Some(id), Some(key)) => format!("{}[{key}]", id.value),
        (Some(id), None) => id.value.clone(),
        (None, _) => derived(),
    };
    match &task.instance {
        Some(instance) => format!("{instance}/{id}"),
        None => id,
    }
}

fn check_apply_task(
    task: &RenderedTask,
    handler: bool,
    config_dir: &ConfigDir,
    declared: &mut Declared,
    asserts: &mut Asserts,
    found: &mut Vec<Diagnostic>,
) -> Option<ApplyTask> {
    // A type with a `name` field of its own (package, service, user …) takes `name:`; the
    // task keyword `name` is then not available on it.
    let keywords_here: Vec<&str> = match task.node.get("type").and_then(Node::as_str) {
        Some(t) if crate::apply::type_has_field(t, "name") => {
            KEYWORDS.iter().copied().filter(|k| *k != "name").collect()
        }
        _ => KEYWORDS.to_vec(),
    };
    let (mut keywords_node, body) = split(&task.node, &keywords_here)?;
    let failed = failed_fields("apply", task, found);
    if body.get("type").and_then(Node::as_str) == Some(ASSERT) && handler {
        let span = body.get("type").map_or(task.node.span, |t| t.span);
        found.push(
            Diagnostic::error("an `assert` cannot be a handler")
                .at(span)
                .help("move it to `apply:`; an assertion holds whatever changed"),
        );
        return None;
    }
    if body.get("type").and_then(Node::as_str) == Some(ASSERT) {
        check_assert(
            task,
            &failed,
            &keywords_node,
            &body,
            declared,
            asserts,
            found,
        );
        return None;
    }
    one_or_many(&mut keywords_node, &["depends_on", "notify", "tags"]);
    let what = format!("{} task", type_name(&body));
    let keywords_cx = DeContext::new(what.clone(), &[], failed.clone());
    let keywords: Option<TaskKeywords> = de::deserialize(&keywords_node, &keywords_cx, found);
    // `set_fact` is consumed by the template stage; it is still a type a task may name.
    let body_cx = DeContext::new(what, &keywords_here, failed.clone())
        .with_other_types(&[ASSERT, crate::template::SET_FACT]);
    let spec: Option<ApplySpec> = de::deserialize(&body, &body_cx, found);
    // Declared even when it failed, so references to it are not reported as unknown.
    // A name read from a secret is not declared: it would be printed as a known id.
    let public = |f: &str| {
        task.node
            .get(f)
            .or_else(|| body.get(f))
            .filter(|n| !n.sensitive)
    };
    let raw_id = public("id").and_then(Node::as_str);
    let raw_path = ["path", "dest"].iter().find_map(|f| public(f)?.as_str());
    let raw_type = public("type").and_then(Node::as_str);
    let (keywords, spec) = match (keywords, spec) {
        (Some(k), Some(s)) if failed.is_empty() => (k, s),
        (keywords, _) => {
            if let Some(id) = raw_id
                .map(str::to_owned)
                .or_else(|| Some(format!("{}:{}", raw_type?, raw_path?)))
            {
                declared.ids.push(match &task.instance {
                    Some(instance) => format!("{instance}/{id}"),
                    None => id,
                });
            }
            if let Some(keywords) = keywords {
                let references = keywords.depends_on.into_iter().map(|r| ("depends_on", r));
                let notified = keywords.notify.into_iter().map(|r| ("notify", r));
                declared
                    .references_of_failed
                    .extend(references.chain(notified));
            }
            return None;
        }
    };
    let id = task_id(keywords.id.as_ref(), || spec.default_id(), task);
    declared.ids.push(id.clone());
    let cx = crate::apply::contract::CheckContext {
        config_dir,
        task: task.node.span,
        handler,
    };
    spec.check(&cx, found);
    if let (ApplySpec::Stat(stat), Some(observed)) = (&spec, &task.observed) {
        stat.rendered_with(observed.as_ref().clone());
    }
    // Only for a task that is otherwise right: its other errors come first.
    if let ApplySpec::Fail(fail) = &spec
        && task.when_at_execute.is_none()
        && !handler
        && found.is_empty()
    {
        // Known to hold now: stop like a false assert, before anything is planned.
        found.push(
            Diagnostic::error(format!("failed: {}", fail.message()))
                .at(task.node.span)
                .label("this `fail` applies to this host")
                .help("it has no `when`, or its `when` is true on this host (`driftless facts` shows the facts conditions are evaluated with); a `when` reading a registered result would decide when the task runs"),
        );
        return None;
    }
    if let Some(id_node) = &keywords.id {
        rules::check_id(id_node, found);
    }
    rules::check_name_and_tags(&keywords, handler, keywords_node.key("tags"), found);
    rules::check_register(keywords.register.as_ref(), task.loop_key.is_some(), found);
    Some(ApplyTask {
        meta: TaskMeta {
            id,
            id_span: keywords.id.as_ref().map_or(task.node.span, |i| i.span),
            name: keywords.name.as_ref().map(|n| n.value.clone()),
            tags: keywords.tags.iter().map(|t| t.value.clone()).collect(),
            register: keywords.register.clone(),
            when_at_execute: task.when_at_execute.clone(),
            span: task.node.span,
            depends_on: keywords.depends_on,
            notify: keywords.notify,
            noop: keywords.noop,
            handler,
            loop_key: task.loop_key.clone(),
        },
        spec,
        rendered: task.template_file.as_ref().map(|f| RenderedContent {
            text: f.content.clone(),
            sensitive: f.sensitive,
        }),
    })
}

/// What the `assert` tasks leave for the model and the cross-task rules.
#[derive(Default)]
struct Asserts {
    /// Conditions that held.
    held: usize,
    /// Given ids (with a loop item's key) and where each is written: unique among all
    /// `apply` ids.
    ids: Vec<(String, Span)>,
}

/// An assert: every condition must be true on this host. It plans nothing, so it takes none
/// of the keywords that order or trigger tasks; its id is declared (a `depends_on` naming it
/// holds trivially: it is checked before any task runs).
fn check_assert(
    task: &RenderedTask,
    failed: &[String],
    keywords_node: &Node,
    body: &Node,
    declared: &mut Declared,
    asserts: &mut Asserts,
    found: &mut Vec<Diagnostic>,
) {
    for keyword in ["depends_on", "notify", "noop"] {
        if let Some(key) = keywords_node.key(keyword) {
            found.push(
                Diagnostic::error(format!("`{keyword}` has no meaning on an `assert` task"))
                    .at(key.span)
                    .help("an assert is checked when the config is compiled, before any task runs; remove it"),
            );
        }
    }
    let id = keywords_node.get("id").and_then(|id| {
        let cx = DeContext::new("an `assert` task".to_owned(), &[], failed.to_vec());
        de::deserialize::<Spanned<String>>(id, &cx, found)
    });
    if let Some(id) = &id {
        rules::check_id(id, found);
        let id_value = task_id(Some(id), String::new, task);
        declared.ids.push(id_value.clone());
        asserts.ids.push((id_value, id.span));
    }
    let cx = DeContext::new("an `assert` task".to_owned(), KEYWORDS, failed.to_vec());
    let spec: Option<AssertSpec> = de::deserialize(body, &cx, found);
    let Some(AssertSpec::Assert(assert)) = spec.filter(|_| failed.is_empty()) else {
        return;
    };
    let help = match &assert.fail_msg {
        // A message rendered from a secret would print it.
        Some(message) if message.sensitive => crate::apply::SENSITIVE.to_owned(),
        Some(message) => message.value.clone(),
        None => "the config requires this of the host; `driftless facts` shows the facts \
                 conditions are evaluated with"
            .to_owned(),
    };
    for condition in assert.that.iter().filter(|c| !c.value) {
        found.push(
            Diagnostic::error("assertion failed")
                .at(condition.span)
                .label("false on this host")
                .help(help.clone()),
        );
    }
    asserts.held += assert.that.iter().filter(|c| c.value).count();
}

fn check_facts_task(task: &RenderedTask, found: &mut Vec<Diagnostic>) -> Option<FactsTask> {
    let (mut keywords_node, body) = split(&task.node, FACTS_KEYWORDS)?;
    let failed = failed_fields("facts", task, found);
    one_or_many(&mut keywords_node, &["depends_on"]);
    let what = format!("{} collector", type_name(&body));
    let keywords_cx = DeContext::new(what.clone(), &[], failed.clone());
    let keywords: Option<FactsKeywords> = de::deserialize(&keywords_node, &keywords_cx, found);
    let body_cx = DeContext::new(what, FACTS_KEYWORDS, failed.clone());
    let collector: Option<CollectorSpec> = de::deserialize(&body, &body_cx, found);
    let (keywords, collector) = (keywords?, collector?);
    if !failed.is_empty() {
        return None;
    }
    rules::check_collector(&collector, keywords_node.get("thresholds"), found);
    let id = task_id(
        keywords.id.as_ref(),
        || collector.type_name().to_owned(),
        task,
    );
    Some(FactsTask {
        meta: TaskMeta {
            id,
            id_span: keywords.id.as_ref().map_or(task.node.span, |i| i.span),
            name: None,
            tags: Vec::new(),
            register: None,
            when_at_execute: None,
            span: task.node.span,
            depends_on: keywords.depends_on.clone(),
            notify: Vec::new(),
            noop: false,
            handler: false,
            loop_key: task.loop_key.clone(),
        },
        keywords,
        collector,
        sensitive: task.node.any_sensitive(),
    })
}

fn check_log_pipeline(
    task: &RenderedTask,
    plugin_log_filters: &[String],
    found: &mut Vec<Diagnostic>,
) -> Option<LogPipeline> {
    let failed = failed_fields("logs", task, found);
    let cx = DeContext::new("a log pipeline".to_owned(), &[], failed.clone());
    let mut pipeline: LogPipeline = de::deserialize(&task.node, &cx, found)?;
    if !failed.is_empty() {
        return None;
    }
    if let Some(key) = &task.loop_key {
        pipeline.id.value = format!("{}[{key}]", pipeline.id.value);
    }
    rules::check_log_pipeline(&pipeline, plugin_log_filters, found);
    log_outputs::check_log_outputs(&pipeline, task.node.get("outputs"), found);
    Some(pipeline)
}

/// All files' `settings` merged into one; a key set in two files is an error.
fn check_settings(nodes: &[Node], sources: &SourceMap, found: &mut Vec<Diagnostic>) -> Settings {
    let mut merged: Vec<(Key, Node)> = Vec::new();
    let mut span = None;
    for node in nodes {
        let Some(entries) = node.as_map() else {
            found.push(
                Diagnostic::error(format!(
                    "`settings` must be a mapping, found {}",
                    node.kind()
                ))
                .at(node.span)
                .help("write `settings:` followed by `name: value` lines, e.g. `metrics:`"),
            );
            continue;
        };
        span.get_or_insert(node.span);
        for (key, value) in entries {
            if let Some((first, _)) = merged.iter().find(|(k, _)| k.name == key.name) {
                let (line, _) = sources.line_col(first.span.file, first.span.start);
                found.push(
                    Diagnostic::error(format!("setting `{}` is set twice", key.name))
                        .at(key.span)
                        .help(format!(
                            "first set in {}:{line}; each setting belongs in one file",
                            sources.path(first.span.file)
                        )),
                );
                continue;
            }
            merged.push((key.clone(), value.clone()));
        }
    }
    let Some(span) = span else {
        return Settings::default();
    };
    let merged = Node::new(Value::Map(merged), span);
    let misplaced = secret_fields::misplaced_secrets("settings", &merged, found);
    let cx = DeContext::new("`settings`".to_owned(), &[], misplaced);
    let settings: Option<Settings> = de::deserialize(&merged, &cx, found);
    let settings = settings.unwrap_or_default();
    rules::check_settings(&settings, &merged, found);
    settings
}
