//! What a plugin says it provides (`describe`): task types with the JSON Schema of their
//! fields and the facts they read, template filters, log filters — each checked before any
//! of them is used.

use serde::Deserialize;

use super::declaration::is_identifier;
use super::error::PluginError;

/// The answer of `describe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub task_types: Vec<TaskTypeDecl>,
    #[serde(default)]
    pub filters: Vec<FilterDecl>,
    #[serde(default)]
    pub log_filters: Vec<FilterDecl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTypeDecl {
    pub name: String,
    /// The JSON Schema (draft 2020-12 unless it says) of the task's fields — every key but
    /// the task keywords and `type`.
    pub schema: serde_json::Value,
    /// Top-level facts (`hostname`, `os`, …) the expansion is given.
    #[serde(default)]
    pub facts: Vec<String>,
    /// Fields `driftless plugin check` expands as a dry call.
    #[serde(default)]
    pub example: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDecl {
    pub name: String,
    /// A value (a filter) or an event (a log filter) `driftless plugin check` passes as a dry
    /// call.
    #[serde(default)]
    pub example: Option<serde_json::Value>,
}

/// A task type ready to validate fields: its declaration and its compiled schema.
pub struct TaskType {
    pub decl: TaskTypeDecl,
    pub validator: jsonschema::Validator,
}

/// A manifest whose names are identifiers, distinct, not built-in task types, and whose
/// schemas compile; the task types with their validators.
pub fn parse(plugin: &str, json: &[u8]) -> Result<(Manifest, Vec<TaskType>), PluginError> {
    let mut manifest: Manifest = serde_json::from_slice(json).map_err(|e| {
        PluginError::new(
            plugin,
            format!("`describe` answered a malformed manifest: {e}"),
        )
    })?;
    let mut seen = std::collections::HashSet::new();
    let names = manifest
        .task_types
        .iter()
        .map(|t| ("task type", &t.name))
        .chain(manifest.filters.iter().map(|f| ("filter", &f.name)))
        .chain(manifest.log_filters.iter().map(|f| ("log filter", &f.name)));
    for (what, name) in names {
        if !is_identifier(name) {
            return Err(PluginError::new(
                plugin,
                format!(
                    "its {what} `{name}` is not a name (lower-case letters, digits and `_`, starting with a letter)"
                ),
            ));
        }
        if !seen.insert((what, name.clone())) {
            return Err(PluginError::new(
                plugin,
                format!("declares the {what} `{name}` twice"),
            ));
        }
    }
    let mut types = Vec::new();
    for decl in std::mem::take(&mut manifest.task_types) {
        if crate::model::ApplySpec::TYPE_NAMES.contains(&decl.name.as_str()) {
            return Err(PluginError::new(
                plugin,
                format!(
                    "declares the task type `{}`, which is a built-in type",
                    decl.name
                ),
            ));
        }
        let validator = jsonschema::validator_for(&decl.schema).map_err(|e| {
            PluginError::new(
                plugin,
                format!(
                    "the schema of task type `{}` is not a valid JSON Schema: {e}",
                    decl.name
                ),
            )
        })?;
        types.push(TaskType { decl, validator });
    }
    Ok((manifest, types))
}
