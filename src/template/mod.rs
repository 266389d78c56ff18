//! Stage 2, template: every string field of every task rendered with minijinja.
//!
//! Entry point: [`render`]. Merges the vars of all files, then for each task of `apply`,
//! `facts` and `logs`: evaluates `when` (a false task is skipped), expands `loop` (one task per
//! item), and renders every string (strict undefined). A string whose rendering read a secret
//! is marked sensitive. Template files named by a task (`template: src`, `file: template`) are
//! rendered here too, so `check` sees their final content. `settings` strings are rendered with
//! the top-level context.

mod engine_trap;
mod expand;
mod filters;
pub mod fleet;
pub mod layers;
mod render_error;
mod scope;
mod taint;
mod task;

use engine_trap::engine_trap;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use minijinja::{Environment, UndefinedBehavior, Value as JinjaValue};

use rayon::prelude::*;

use crate::config::{ConfigDir, Document, LoadedConfig, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::facts::HostFacts;
use crate::secrets::Secrets;
pub use scope::RESERVED;
use scope::{GlobalVar, Globals};
pub use task::SET_FACT;

/// A task after templating: `when`, `loop` and `vars` are consumed, every string is final.
#[derive(Debug, Clone)]
pub struct RenderedTask {
    pub node: Node,
    /// The loop item's index (lists) or key (mappings) when the task came from a `loop`.
    pub loop_key: Option<String>,
    /// The rendered template file, for tasks that name one.
    pub template_file: Option<RenderedFile>,
    /// Top-level fields whose rendering failed (already diagnosed). The task is still
    /// type-checked without them, so its other mistakes are reported too, but it is not used.
    pub failed_fields: Vec<String>,
    /// A `when` reading a registered result, left for execute time.
    pub when_at_execute: Option<crate::model::meta::DeferredWhen>,
    /// The role instance the task belongs to (`nginx[site-a]`): the prefix of its id.
    pub instance: Option<Arc<str>>,
    /// A `stat`'s observation, made when it was rendered: what later tasks read, so what its
    /// plan node records.
    pub observed: Option<Box<crate::host::path_stat::PathStat>>,
}

#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// Relative to the config dir, as written in the task.
    pub path: String,
    pub content: String,
    pub sensitive: bool,
}

/// A task whose `when` was false: not in the model, but a plan can say it was skipped.
#[derive(Debug, Clone)]
pub struct SkippedTask {
    pub section: &'static str,
    pub span: Span,
    /// The `id` as written (a skipped task's fields are not rendered, so no default id).
    pub id: Option<String>,
    pub loop_key: Option<String>,
}

#[derive(Debug, Default)]
pub struct RenderedConfig {
    pub apply: Vec<RenderedTask>,
    /// The `handlers:` tasks: apply tasks that run only when notified.
    pub handlers: Vec<RenderedTask>,
    pub facts: Vec<RenderedTask>,
    pub logs: Vec<RenderedTask>,
    /// One rendered `settings` mapping per file that has one.
    pub settings: Vec<Node>,
    pub skipped: Vec<SkippedTask>,
    /// The role instances applied to the host: (role, instance name).
    pub instances: Vec<(String, Arc<str>)>,
    /// The log filters the config's plugins provide, by name, for `check` to know a
    /// pipeline's `plugin` filter.
    pub plugin_log_filters: Vec<String>,
}

/// What templates call out to beyond the config: the secret stores (`secret()`) and the
/// config's plugins (their filters and task types).
pub struct Providers {
    pub secrets: Arc<Secrets>,
    pub plugins: Arc<crate::plugins::Plugins>,
}

/// Renders the loaded config as the host `host` sees it (by default the one named by its
/// hostname fact): in a fleet repo, its groups' and host entries' vars and role instances.
/// Template files read are added to `sources`, so diagnostics can point into them.
pub fn render(
    loaded: &LoadedConfig,
    config_dir: &ConfigDir,
    facts: &HostFacts,
    host: Option<&str>,
    providers: Providers,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> RenderedConfig {
    let Providers { secrets, plugins } = providers;
    refuse_shadowing_filters(&plugins, diagnostics);
    let facts_value = facts_value(facts);
    // A host named by the caller is compiled from its recorded facts, maybe elsewhere.
    let recorded_host = host.map(str::to_owned);
    let host = host.unwrap_or(&facts.hostname);
    let options = TemplateOptions::of(loaded, diagnostics);
    let texts = render_error::SourceTexts::of(sources);
    let selection = select_host(
        loaded,
        config_dir,
        (host, &facts.tags),
        &facts_value,
        (&secrets, &texts),
        diagnostics,
    );
    let defs = layers::collect(loaded, &selection, diagnostics);
    let globals = Arc::new(Globals {
        vars: Arc::new(layers::host_vars(&defs, sources, diagnostics)),
        defaults: HashMap::new(),
        facts: facts_value,
    });
    let registered = task::registered_names(loaded);
    let plan_time = Arc::new(task::PlanTime::declare(loaded, sources, recorded_host));
    let renderer = task::Renderer::new(
        globals.clone(),
        secrets.clone(),
        config_dir,
        options,
        texts.clone(),
    )
    .with_registered(registered.clone())
    .with_plan_time(plan_time.clone())
    .with_plugins(plugins.clone());
    let base = expand::Expander {
        renderer: &renderer,
        includes: &loaded.includes,
        instance: None,
        config_dir,
    };
    // Files render independently: in parallel, then joined in file order — unless a task
    // sets something at plan time (`set_fact`, `stat`) that the tasks after it read: then in
    // order, files first, then role instances. Template files with errors are added to
    // `sources` under the lock (only on the error path).
    let in_order = !plan_time.is_empty();
    let instances = instances(loaded, &selection, &defs, &globals, sources, diagnostics);
    let sources = Mutex::new(sources);
    let parts: Vec<(RenderedConfig, Diagnostics)> =
        in_order_or_parallel(&loaded.documents, in_order, |document| {
            render_document(&base, document, &sources)
        });
    let role_parts: Vec<(RenderedConfig, Diagnostics)> = in_order_or_parallel(
        &instances,
        in_order,
        |(instance, instance_globals, role)| {
            let renderer = task::Renderer::new(
                instance_globals.clone(),
                secrets.clone(),
                config_dir,
                options,
                texts.clone(),
            )
            .with_registered(registered.clone())
            .with_plan_time(plan_time.clone())
            .with_plugins(plugins.clone());
            let expander = expand::Expander {
                renderer: &renderer,
                includes: &loaded.includes,
                instance: Some(instance),
                config_dir,
            };
            render_role(&expander, role, &sources)
        },
    );
    let mut out = RenderedConfig::default();
    for (part, found) in parts.into_iter().chain(role_parts) {
        out.apply.extend(part.apply);
        out.handlers.extend(part.handlers);
        out.facts.extend(part.facts);
        out.logs.extend(part.logs);
        out.settings.extend(part.settings);
        out.skipped.extend(part.skipped);
        diagnostics.extend(found);
    }
    out.instances = instances
        .iter()
        .map(|(instance, _, role)| (role.name.clone(), instance.name.clone()))
        .collect();
    out.plugin_log_filters = plugins.log_filter_names().map(str::to_owned).collect();
    // Past the budget every render fails and says so: the first in the files is enough.
    diagnostics.retain_first(|d| d.message == task::over_budget_message());
    // A failed render stops at its first error, so the vars it would have used look unused:
    // the warning is only trustworthy when every template rendered.
    if !diagnostics.has_errors() {
        warn_unused_vars(&globals, diagnostics);
    }
    out
}

/// A plugin filter may not replace a filter templates already have: a config would read
/// differently with the plugin than without.
fn refuse_shadowing_filters(plugins: &crate::plugins::Plugins, diagnostics: &mut Diagnostics) {
    let built_in: Vec<&str> = filters::names().collect();
    for name in plugins.filter_names() {
        if built_in.contains(&name) {
            diagnostics.push(
                Diagnostic::error(format!(
                    "a plugin provides the filter `{name}`, which templates already have"
                ))
                .help("rename the plugin's filter"),
            );
        }
    }
}

/// `render` applied to each of `items`, in parallel or one after the other, the results in
/// the order of `items`.
fn in_order_or_parallel<T: Sync, R: Send>(
    items: &[T],
    in_order: bool,
    render: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    if in_order {
        items.iter().map(render).collect()
    } else {
        items.par_iter().map(render).collect()
    }
}

/// Where the var `name` is set for the host, the winning definition first (`driftless vars`).
pub fn explain_var(
    loaded: &LoadedConfig,
    config_dir: &ConfigDir,
    facts: &HostFacts,
    host: Option<&str>,
    name: &str,
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> Vec<layers::Shown> {
    let facts_value = facts_value(facts);
    let host = host.unwrap_or(&facts.hostname);
    // Group conditions read facts only: no secret source is needed to select the host.
    let secrets = Arc::new(Secrets::new(Vec::new()));
    let texts = render_error::SourceTexts::of(sources);
    let selection = select_host(
        loaded,
        config_dir,
        (host, &facts.tags),
        &facts_value,
        (&secrets, &texts),
        diagnostics,
    );
    let defs = layers::collect(loaded, &selection, diagnostics);
    // The same-layer conflicts, reported as `check` reports them.
    layers::host_vars(&defs, sources, diagnostics);
    layers::explain(&defs, name, sources)
}

/// Every var name the host sees, for "did you mean".
pub fn var_names(loaded: &LoadedConfig) -> Vec<String> {
    let mut names: Vec<String> = loaded
        .documents
        .iter()
        .filter_map(|d| d.vars.as_ref())
        .chain(loaded.fleet.iter().flat_map(|f| {
            f.inventory
                .groups
                .iter()
                .filter_map(|g| g.vars.as_ref())
                .chain(f.inventory.hosts.iter().filter_map(|h| h.vars.as_ref()))
                .chain(f.roles.values().filter_map(|r| r.defaults.as_ref()))
        }))
        .flat_map(|n| {
            n.as_map()
                .unwrap_or_default()
                .iter()
                .map(|(k, _)| k.name.clone())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The host's view of the inventory; a config dir without one has no groups nor roles.
pub fn select_host(
    loaded: &LoadedConfig,
    config_dir: &ConfigDir,
    (host, tags): (&str, &[String]),
    facts: &JinjaValue,
    (secrets, texts): (&Arc<Secrets>, &render_error::SourceTexts),
    diagnostics: &mut Diagnostics,
) -> fleet::Selection {
    let Some(fleet_config) = &loaded.fleet else {
        return fleet::Selection {
            host: host.to_owned(),
            ..fleet::Selection::default()
        };
    };
    // Group conditions see the facts only: which vars apply depends on the groups.
    let facts_only = Arc::new(Globals {
        vars: Arc::new(HashMap::new()),
        defaults: HashMap::new(),
        facts: facts.clone(),
    });
    let renderer = task::Renderer::new(
        facts_only,
        secrets.clone(),
        config_dir,
        TemplateOptions::default(),
        texts.clone(),
    );
    let condition = |when: &Node, diagnostics: &mut Diagnostics| {
        renderer.holds(when, BTreeMap::new(), diagnostics)
    };
    let selection = fleet::select(fleet_config, host, tags, condition, diagnostics);
    if !selection.is_known() {
        tracing::info!(
            host,
            "the inventory names this host in no group nor host entry"
        );
    }
    selection
}

type InstancePart<'a> = (expand::Instance, Arc<Globals>, &'a crate::config::Role);

/// Each role instance with its globals (the host's vars over the role's defaults).
fn instances<'a>(
    loaded: &'a LoadedConfig,
    selection: &fleet::Selection,
    defs: &[layers::Definition<'_>],
    globals: &Globals,
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> Vec<InstancePart<'a>> {
    let Some(fleet_config) = &loaded.fleet else {
        return Vec::new();
    };
    selection
        .roles
        .iter()
        .filter_map(|role_use| {
            let role = fleet_config.roles.get(&role_use.role)?;
            let name = role_use.instance();
            let defaults = layers::role_defaults(defs, &name, sources, diagnostics);
            let instance = expand::Instance {
                name: Arc::from(name.as_str()),
                role_dir: role.dir.clone(),
                params: role_use.vars.clone(),
                ids: expand::declared_ids(&[&role.tasks, &role.handlers], &loaded.includes),
            };
            Some((instance, Arc::new(globals.with_defaults(defaults)), role))
        })
        .collect()
}

fn render_role(
    expander: &expand::Expander<'_>,
    role: &crate::config::Role,
    sources: &Mutex<&mut SourceMap>,
) -> (RenderedConfig, Diagnostics) {
    let mut out = RenderedConfig::default();
    let mut diagnostics = Diagnostics::default();
    task::refuse_in_handlers(&role.handlers, &mut diagnostics);
    for (section_items, tasks) in [
        (&role.tasks, &mut out.apply),
        (&role.handlers, &mut out.handlers),
    ] {
        let mut output = expand::Output {
            tasks,
            skipped: &mut out.skipped,
            sources,
            diagnostics: &mut diagnostics,
        };
        expander.list("apply", section_items, &mut output);
    }
    (out, diagnostics)
}

fn render_document(
    expander: &expand::Expander<'_>,
    document: &Document,
    sources: &Mutex<&mut SourceMap>,
) -> (RenderedConfig, Diagnostics) {
    let mut out = RenderedConfig::default();
    let mut diagnostics = Diagnostics::default();
    // Handlers are apply tasks, rendered as such; only where they are written differs.
    let sections = [
        ("apply", "apply", &document.apply, &mut out.apply),
        ("handlers", "apply", &document.handlers, &mut out.handlers),
        ("facts", "facts", &document.facts, &mut out.facts),
        ("logs", "logs", &document.logs, &mut out.logs),
    ];
    for (written, section, node, tasks) in sections {
        let Some(node) = node else { continue };
        if let (Value::Seq(items), "handlers") = (&node.value, written) {
            task::refuse_in_handlers(items, &mut diagnostics);
        }
        let Value::Seq(items) = &node.value else {
            diagnostics.push(
                Diagnostic::error(format!(
                    "`{written}` must be a list of tasks, found {}",
                    node.kind()
                ))
                .at(node.span)
                .help(format!("write `{written}:` followed by `- type: …` items")),
            );
            continue;
        };
        let mut output = expand::Output {
            tasks,
            skipped: &mut out.skipped,
            sources,
            diagnostics: &mut diagnostics,
        };
        expander.list(section, items, &mut output);
    }
    if let Some(settings) = &document.settings
        && let Some(node) = expander.renderer.settings(settings, &mut diagnostics)
    {
        out.settings.push(node);
    }
    (out, diagnostics)
}

/// `facts`, `secrets` and `item` are the context's own names.
fn check_var_name(name: &str) -> Option<Diagnostic> {
    RESERVED.contains(&name).then(|| {
        Diagnostic::error(format!("`{name}` cannot be a var name")).help(format!(
            "`{name}` is a built-in name in templates; choose another name"
        ))
    })
}

fn warn_unused_vars(globals: &Globals, diagnostics: &mut Diagnostics) {
    let mut unused: Vec<(&String, &Arc<GlobalVar>)> = globals
        .vars
        .iter()
        .filter(|(_, v)| !v.extra && !v.used.load(Ordering::Relaxed))
        .collect();
    unused.sort_by_key(|(name, _)| name.as_str());
    for (name, var) in unused {
        diagnostics.push(
            Diagnostic::warning(format!("var `{name}` is never used"))
                .at(var.span)
                .help("remove it, or use it in a template"),
        );
    }
}

/// A config value as a template value. Vars are literal: they are not rendered themselves.
pub(crate) fn node_to_value(node: &Node) -> JinjaValue {
    match &node.value {
        Value::Null => JinjaValue::from(()),
        Value::Bool(b) => JinjaValue::from(*b),
        Value::Int(i) => JinjaValue::from(*i),
        Value::Float(f) => JinjaValue::from(*f),
        Value::Str(s) => JinjaValue::from(s.as_str()),
        Value::Seq(items) => JinjaValue::from(items.iter().map(node_to_value).collect::<Vec<_>>()),
        Value::Map(entries) => JinjaValue::from(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), node_to_value(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

pub(crate) fn json_to_value(json: &serde_json::Value) -> JinjaValue {
    match json {
        serde_json::Value::Null => JinjaValue::from(()),
        serde_json::Value::Bool(b) => JinjaValue::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => JinjaValue::from(i),
            (None, Some(u)) => JinjaValue::from(u),
            _ => JinjaValue::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => JinjaValue::from(s.as_str()),
        serde_json::Value::Array(items) => {
            JinjaValue::from(items.iter().map(json_to_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => JinjaValue::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn facts_value(facts: &HostFacts) -> JinjaValue {
    json_to_value(&serde_json::to_value(facts).unwrap_or_default())
}

/// The work one render may do, in minijinja's fuel: about one unit per instruction and per
/// 64 bytes of data made, so about a million instructions or 64 MiB. A config is not a
/// program: a template that needs more is a mistake or an attack, and stops with an error
/// naming this limit instead of running out of time or memory.
pub const TEMPLATE_FUEL: u64 = 1_000_000;

/// The text all tasks of a config may hold once rendered, every loop item counted: 128 MiB.
/// Fuel bounds one render; this bounds their sum, which a loop multiplies.
pub const MAX_RENDERED_BYTES: u64 = 128 << 20;

/// How templates treat the whitespace around block tags: `settings: { templates: {
/// lstrip_blocks: true } }`. `trim_blocks` is always on, as in Ansible.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateOptions {
    /// Spaces and tabs before a block tag at the start of a line are removed.
    pub lstrip_blocks: bool,
}

impl TemplateOptions {
    /// Read from the files' `settings.templates` before anything renders (the environment is
    /// made once), so only a literal boolean counts: a template there is an error (`check`
    /// reports any other value).
    fn of(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) -> TemplateOptions {
        let mut lstrip_blocks = false;
        let flags = loaded
            .documents
            .iter()
            .filter_map(|d| d.settings.as_ref())
            .filter_map(|settings| settings.get("templates")?.get("lstrip_blocks"));
        for flag in flags {
            match &flag.value {
                Value::Bool(on) => lstrip_blocks |= on,
                Value::Str(text) if task::is_template(text) => diagnostics.push(
                    Diagnostic::error("`lstrip_blocks` cannot be a template")
                        .at(flag.span)
                        .help("it is read before anything renders: write `true` or `false`"),
                ),
                _ => {}
            }
        }
        TemplateOptions { lstrip_blocks }
    }
}

/// The minijinja environment every render uses, set up as Ansible's: strict undefined (a typo
/// is an error, not an empty string), `trim_blocks` (the newline after a block tag is removed,
/// so `{% for %}` lines leave no blank lines), `lstrip_blocks` as configured, a trailing
/// newline kept (Ansible keeps a template file's last newline), Ansible's and Jinja's filters,
/// Python's string, dict and list methods, and a fuel budget.
fn environment(options: TemplateOptions) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    match minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(options.lstrip_blocks)
        .keep_trailing_newline(true)
        .build()
    {
        Ok(syntax) => env.set_syntax(syntax),
        // The default delimiters always build; keep the engine's syntax if they ever do not.
        Err(e) => tracing::error!("template syntax configuration refused: {e}"),
    }
    filters::register(&mut env);
    // `'a,b'.split(',')`, `name.startswith('web')`, `d.items()`: Python's methods, which
    // Ansible templates call as Jinja2 allows.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env
}
