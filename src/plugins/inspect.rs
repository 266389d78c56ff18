//! `driftless plugin check FILE`: a plugin checked on its own — it compiles, imports nothing
//! but `read_file`, speaks this ABI version, exports what its manifest needs, its schemas
//! compile, and each example it gives (a task type's fields, a filter's value, a log filter's
//! event) goes through a dry call whose answer is well-formed.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::diagnostics::{FileId, Span};

use super::abi;
use super::error::PluginError;
use super::grant::Grant;
use super::log_filter::shorten;
use super::plugin::Plugin;
use super::task_type::{expand_input, expansion};

/// What the check found.
pub struct Inspection {
    pub sha256: String,
    pub abi_version: i32,
    pub task_types: Vec<Provided>,
    pub filters: Vec<Provided>,
    pub log_filters: Vec<Provided>,
}

/// One thing a plugin provides, and its dry call.
pub struct Provided {
    pub name: String,
    /// A task type's top-level fields, from its schema.
    pub fields: Vec<String>,
    /// `None`: the manifest gives no example to call with.
    pub dry_call: Option<DryCall>,
}

pub struct DryCall {
    pub elapsed: Duration,
    /// The answer, shortened.
    pub answer: String,
}

/// Checks the plugin file `path`, granted `grant` for its dry calls.
pub fn inspect(path: &Path, grant: Option<&str>) -> Result<Inspection, PluginError> {
    let label = path.display().to_string();
    let wasm = crate::fsutil::read_regular_file(path)
        .map_err(|e| PluginError::new(&label, format!("cannot read it: {e}")))?;
    let sha256 = super::sha256_hex(&wasm);
    let grant = grant
        .map(Grant::new)
        .transpose()
        .map_err(|why| PluginError::new(&label, why))?;
    let plugin = Plugin::open(&label, &wasm, &sha256, grant, None)?;
    // The dry calls' answers are placed nowhere: no config file is involved.
    let nowhere = Span::new(FileId(0), 0, 0);
    // A dry call of a task type gets the facts it asks for from this host, as a plan would.
    let facts = if plugin.task_types.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(crate::facts::HostFacts::gather()).unwrap_or_default()
    };
    let mut task_types = Vec::new();
    for task_type in &plugin.task_types {
        let decl = &task_type.decl;
        let dry_call = match &decl.example {
            None => None,
            Some(example) => {
                if let Some(error) = task_type.validator.iter_errors(example).next() {
                    return Err(PluginError::new(
                        &label,
                        format!(
                            "the example of task type `{}` fails its own schema: {error}",
                            decl.name
                        ),
                    ));
                }
                let input = expand_input(task_type, example.clone(), &facts);
                Some(timed(|| {
                    let answer = plugin.call(abi::EXPAND, &input)?;
                    let shown = serde_json::Value::Object(answer.clone());
                    expansion(&plugin, &decl.name, answer, nowhere, false)?;
                    Ok(shown)
                })?)
            }
        };
        let fields = decl
            .schema
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        task_types.push(Provided {
            name: decl.name.clone(),
            fields,
            dry_call,
        });
    }
    let mut filters = Vec::new();
    for decl in &plugin.manifest.filters {
        let dry_call = match &decl.example {
            None => None,
            Some(value) => Some(timed(|| {
                let input = serde_json::json!({ "name": decl.name, "value": value, "args": [] });
                let mut answer = plugin.call(abi::FILTER, &input)?;
                plugin.field(abi::FILTER, &mut answer, "value")
            })?),
        };
        filters.push(Provided {
            name: decl.name.clone(),
            fields: Vec::new(),
            dry_call,
        });
    }
    let mut log_filters = Vec::new();
    for decl in &plugin.manifest.log_filters {
        let dry_call = match &decl.example {
            None => None,
            Some(event) => Some(timed(|| {
                let input = serde_json::json!({ "name": decl.name, "event": event });
                let mut answer = plugin.call(abi::LOG_FILTER, &input)?;
                match plugin.field(abi::LOG_FILTER, &mut answer, "events")? {
                    serde_json::Value::Array(events)
                        if events.iter().all(serde_json::Value::is_object) =>
                    {
                        Ok(serde_json::Value::Array(events))
                    }
                    other => Err(PluginError::new(
                        &label,
                        format!(
                            "log filter `{}` answered `events` that are not a list of objects: {}",
                            decl.name,
                            shorten(&other.to_string())
                        ),
                    )),
                }
            })?),
        };
        log_filters.push(Provided {
            name: decl.name.clone(),
            fields: Vec::new(),
            dry_call,
        });
    }
    Ok(Inspection {
        sha256,
        abi_version: abi::VERSION,
        task_types,
        filters,
        log_filters,
    })
}

fn timed(
    call: impl FnOnce() -> Result<serde_json::Value, PluginError>,
) -> Result<DryCall, PluginError> {
    let started = Instant::now();
    let answer = call()?;
    Ok(DryCall {
        elapsed: started.elapsed(),
        answer: shorten(&answer.to_string()),
    })
}
