//! One loaded plugin: its pinned file compiled (or taken from the cache), linked, its ABI
//! version checked and its manifest read; and the JSON call every use goes through.

use std::path::Path;

use super::abi;
use super::error::PluginError;
use super::grant::Grant;
use super::manifest::{self, Manifest, TaskType};
use super::sandbox::{self, Prepared};

pub struct Plugin {
    pub name: String,
    /// The SHA-256 of its module, lower-case hex.
    pub sha256: String,
    prepared: Prepared,
    pub task_types: Vec<TaskType>,
    /// Filters and log filters (the task types are in `task_types`).
    pub manifest: Manifest,
}

impl Plugin {
    /// Compiles (or loads from `cache_dir`) and checks the plugin `wasm`, whose digest is
    /// `sha256`, granted `grant`.
    pub fn open(
        name: &str,
        wasm: &[u8],
        sha256: &str,
        grant: Option<Grant>,
        cache_dir: Option<&Path>,
    ) -> Result<Plugin, PluginError> {
        let engine = sandbox::engine()?;
        let module = super::cache::module(engine, name, wasm, sha256, cache_dir)?;
        let prepared = Prepared::new(name, &module, grant)?;
        let version = prepared.abi_version()?;
        if version != abi::VERSION {
            return Err(PluginError::new(
                name,
                format!(
                    "speaks plugin ABI version {version}; this driftless speaks version {}",
                    abi::VERSION
                ),
            ));
        }
        let described = prepared.call(abi::DESCRIBE, None)?;
        let (manifest, task_types) = manifest::parse(name, &described)?;
        let needed = [
            (!task_types.is_empty(), abi::EXPAND, "task types"),
            (!manifest.filters.is_empty(), abi::FILTER, "filters"),
            (
                !manifest.log_filters.is_empty(),
                abi::LOG_FILTER,
                "log filters",
            ),
            (true, abi::ALLOC, "input"),
        ];
        for (needs, export, what) in needed {
            if needs && module.get_export(export).is_none() {
                return Err(PluginError::new(
                    name,
                    format!("declares {what} but does not export `{export}`"),
                ));
            }
        }
        Ok(Plugin {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
            prepared,
            task_types,
            manifest,
        })
    }

    /// Calls `export` with `input` and reads its answer: a JSON object, or an error when the
    /// object is `{"error": "…"}` (the plugin refusing the input).
    pub fn call(
        &self,
        export: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Map<String, serde_json::Value>, PluginError> {
        let bytes = serde_json::to_vec(input)
            .map_err(|e| PluginError::new(&self.name, format!("cannot encode the input: {e}")))?;
        let answer = self.prepared.call(export, Some(&bytes))?;
        let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| {
            PluginError::new(
                &self.name,
                format!("`{export}` answered malformed JSON: {e}"),
            )
        })?;
        let serde_json::Value::Object(answer) = answer else {
            return Err(PluginError::new(
                &self.name,
                format!("`{export}` answered {answer}, not a JSON object"),
            ));
        };
        match answer.get("error") {
            Some(serde_json::Value::String(why)) => Err(PluginError::new(&self.name, why.clone())),
            Some(other) => Err(PluginError::new(
                &self.name,
                format!("`{export}` answered an `error` that is not a string: {other}"),
            )),
            None => Ok(answer),
        }
    }

    /// The one field of `answer` a call must give.
    pub fn field(
        &self,
        export: &str,
        answer: &mut serde_json::Map<String, serde_json::Value>,
        field: &str,
    ) -> Result<serde_json::Value, PluginError> {
        answer.remove(field).ok_or_else(|| {
            PluginError::new(
                &self.name,
                format!("`{export}` answered no `{field}` (nor an `error`)"),
            )
        })
    }
}
