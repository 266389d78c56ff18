//! `Plugins` in a build without the `plugins` feature: a config that declares plugins is an
//! error at the declaration, so it is never planned without them.

use std::path::Path;

use crate::config::{ConfigDir, Document, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, Span};

use super::Expansion;

/// No plugins: this build cannot run them.
#[derive(Default)]
pub struct Plugins {
    _none: (),
}

impl Plugins {
    /// Reports every `settings.plugins` entry: this build has no plugin runtime.
    pub fn load(
        documents: &[Document],
        _config_dir: &ConfigDir,
        _cache_dir: Option<&Path>,
        diagnostics: &mut Diagnostics,
    ) -> Plugins {
        let declared = documents
            .iter()
            .filter_map(|d| d.settings.as_ref()?.get("plugins"))
            .filter(|list| matches!(&list.value, Value::Seq(items) if !items.is_empty()));
        for list in declared {
            diagnostics.push(
                Diagnostic::error("this driftless was built without plugins")
                    .at(list.span)
                    .help("use a build with the `plugins` feature (the shipped .deb and `cargo build --profile dist --features plugins` have it)"),
            );
        }
        Plugins::default()
    }

    pub fn is_task_type(&self, _type_name: &str) -> bool {
        false
    }

    pub fn has_task_types(&self) -> bool {
        false
    }

    pub fn expand(
        &self,
        _type_name: &str,
        _fields: &Node,
        _type_span: Span,
        _facts: &serde_json::Value,
        _diagnostics: &mut Diagnostics,
    ) -> Option<Expansion> {
        None
    }

    pub fn filter_names(&self) -> impl Iterator<Item = &str> {
        std::iter::empty()
    }

    pub fn log_filter_names(&self) -> impl Iterator<Item = &str> {
        std::iter::empty()
    }

    pub fn log_filter_digest(&self, _name: &str) -> Option<&str> {
        None
    }

    pub fn register_filters(&self, _env: &mut minijinja::Environment<'static>) {}
}
