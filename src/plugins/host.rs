//! `Plugins`: the config's plugins, loaded once per run, by the names templates and tasks
//! use them by.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::{ConfigDir, Document, Node};
use crate::diagnostics::{Diagnostic, Diagnostics, Span};

use super::declaration::{Declaration, declarations};
use super::error::PluginError;
use super::grant::Grant;
use super::plugin::Plugin;
use super::{Expansion, filter, task_type};

/// The config's plugins and what each provides.
#[derive(Default)]
pub struct Plugins {
    plugins: Vec<Arc<Plugin>>,
    /// Task type name → (plugin, index of the type in it).
    task_types: HashMap<String, (usize, usize)>,
    filters: HashMap<String, usize>,
    log_filters: HashMap<String, usize>,
}

impl Plugins {
    /// Loads every plugin `settings.plugins` declares: the file read (at most 16 MiB), its
    /// SHA-256 compared with the pin, compiled (or taken from `cache_dir`), its manifest read.
    /// Every problem is a diagnostic at the entry; a plugin with one is left out.
    pub fn load(
        documents: &[Document],
        config_dir: &ConfigDir,
        cache_dir: Option<&Path>,
        diagnostics: &mut Diagnostics,
    ) -> Plugins {
        let mut plugins = Plugins::default();
        for declaration in declarations(documents, config_dir, diagnostics) {
            match open(&declaration, cache_dir) {
                Ok(plugin) => plugins.add(plugin, declaration.name_span, diagnostics),
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        plugins
    }

    /// One plugin from its bytes, outside any config (a tool, a test, a benchmark): nothing
    /// pins it, so whoever calls this has chosen the bytes.
    pub fn single(
        name: &str,
        wasm: &[u8],
        grant_read: Option<&str>,
        cache_dir: Option<&Path>,
    ) -> Result<Plugins, PluginError> {
        let grant = grant_read
            .map(Grant::new)
            .transpose()
            .map_err(|why| PluginError::new(name, why))?;
        let plugin = Plugin::open(name, wasm, &super::sha256_hex(wasm), grant, cache_dir)?;
        let mut plugins = Plugins::default();
        let mut diagnostics = Diagnostics::default();
        plugins.add(
            plugin,
            Span::new(crate::diagnostics::FileId(0), 0, 0),
            &mut diagnostics,
        );
        Ok(plugins)
    }

    fn add(&mut self, plugin: Plugin, span: Span, diagnostics: &mut Diagnostics) {
        let index = self.plugins.len();
        let mut clash = |what: &str, name: &str, other: usize| {
            diagnostics.push(
                Diagnostic::error(format!(
                    "plugins `{}` and `{}` both provide the {what} `{name}`",
                    self_name(&self.plugins, other),
                    plugin.name
                ))
                .at(span)
                .help("a name may be provided by one plugin only"),
            );
        };
        for (i, task_type) in plugin.task_types.iter().enumerate() {
            match self.task_types.get(&task_type.decl.name) {
                Some((other, _)) => clash("task type", &task_type.decl.name, *other),
                None => {
                    self.task_types
                        .insert(task_type.decl.name.clone(), (index, i));
                }
            }
        }
        for (what, table, names) in [
            ("filter", &mut self.filters, &plugin.manifest.filters),
            (
                "log filter",
                &mut self.log_filters,
                &plugin.manifest.log_filters,
            ),
        ] {
            for decl in names {
                match table.get(&decl.name) {
                    Some(other) => clash(what, &decl.name, *other),
                    None => {
                        table.insert(decl.name.clone(), index);
                    }
                }
            }
        }
        self.plugins.push(Arc::new(plugin));
    }

    /// Whether `type_name` is a task type of a plugin.
    pub fn is_task_type(&self, type_name: &str) -> bool {
        self.task_types.contains_key(type_name)
    }

    /// Whether any plugin provides a task type.
    pub fn has_task_types(&self) -> bool {
        !self.task_types.is_empty()
    }

    /// Expands a task of the plugin type `type_name` (see `task_type::expand`).
    pub fn expand(
        &self,
        type_name: &str,
        fields: &Node,
        type_span: Span,
        facts: &serde_json::Value,
        diagnostics: &mut Diagnostics,
    ) -> Option<Expansion> {
        let (plugin, index) = *self.task_types.get(type_name)?;
        let plugin = &self.plugins[plugin];
        task_type::expand(
            plugin,
            &plugin.task_types[index],
            fields,
            type_span,
            facts,
            diagnostics,
        )
    }

    /// The names of the template filters plugins provide.
    pub fn filter_names(&self) -> impl Iterator<Item = &str> {
        self.filters.keys().map(String::as_str)
    }

    /// Adds every plugin filter to a template environment.
    pub fn register_filters(&self, env: &mut minijinja::Environment<'static>) {
        for (name, plugin) in &self.filters {
            filter::register(env, name, self.plugins[*plugin].clone());
        }
    }

    /// The names of the log filters plugins provide.
    pub fn log_filter_names(&self) -> impl Iterator<Item = &str> {
        self.log_filters.keys().map(String::as_str)
    }

    /// The SHA-256 of the plugin providing the log filter `name`: a pipeline using it runs
    /// on after a reload only when this is the same.
    pub fn log_filter_digest(&self, name: &str) -> Option<&str> {
        Some(&self.plugins[*self.log_filters.get(name)?].sha256)
    }

    /// The plugin providing the log filter `name`.
    pub(super) fn log_filter(&self, name: &str) -> Option<Arc<Plugin>> {
        Some(self.plugins[*self.log_filters.get(name)?].clone())
    }
}

fn self_name(plugins: &[Arc<Plugin>], index: usize) -> &str {
    plugins.get(index).map_or("?", |p| p.name.as_str())
}

/// One declared plugin: its file read and checked against the pin, then opened.
fn open(declaration: &Declaration, cache_dir: Option<&Path>) -> Result<Plugin, Diagnostic> {
    let name = &declaration.name;
    let wasm = crate::fsutil::read_regular_file(&declaration.file).map_err(|e| {
        Diagnostic::error(format!(
            "cannot read plugin `{name}` from {}: {e}",
            declaration.file.display()
        ))
        .at(declaration.file_span)
        .help("a plugin is a WebAssembly module of at most 16 MiB: `plugins/NAME.wasm` in the config dir, or the absolute `path` given")
    })?;
    let digest = super::sha256_hex(&wasm);
    if digest != declaration.sha256 {
        return Err(Diagnostic::error(format!(
            "plugin `{name}` ({}) has the SHA-256 {digest}, not the one the config pins",
            declaration.file.display()
        ))
        .at(declaration.sha256_span)
        .help("a changed plugin is a changed config: if the new file is the one you want, pin its digest here"));
    }
    let grant = match &declaration.grant_read {
        Some((root, _)) => {
            Some(Grant::new(root).map_err(|why| Diagnostic::error(why).at(declaration.name_span))?)
        }
        None => None,
    };
    Plugin::open(name, &wasm, &digest, grant, cache_dir).map_err(|e| {
        Diagnostic::error(e.to_string())
            .at(declaration.name_span)
            .help("`driftless plugin check FILE` checks a plugin on its own")
    })
}
