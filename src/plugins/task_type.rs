//! A plugin task expanded into built-in tasks: its fields checked against the type's JSON
//! Schema (each error at the field, like a built-in type's), the plugin's `expand` called
//! with the fields and the facts the type asked for, and the tasks it answers checked for
//! shape and turned into config nodes placed at the plugin task, so everything `check` then
//! says about them points there.

use crate::config::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, Span, did_you_mean};

use super::abi;
use super::error::PluginError;
use super::log_filter::shorten;
use super::manifest::TaskType;
use super::plugin::Plugin;
use super::{ExpandedTask, Expansion};

/// Task types a plugin may not return: they are not resources (`assert`, `set_fact` are
/// the stages' own), or they name a template file (a plugin returns the content itself).
const NOT_RETURNABLE: &[&str] = &["assert", "set_fact", "template"];

/// Keys of a returned task that are not the built-in type's fields.
const RETURNED_KEYWORDS: &[&str] = &["id", "depends_on"];

/// What `expand` is called with: the type, the task's fields and, of the host's `facts`
/// (the built-in facts as JSON), those the type asked for.
pub fn expand_input(
    task_type: &TaskType,
    fields: serde_json::Value,
    facts: &serde_json::Value,
) -> serde_json::Value {
    let asked: serde_json::Map<String, serde_json::Value> = (task_type.decl.facts.iter())
        .filter_map(|name| Some((name.clone(), facts.get(name)?.clone())))
        .collect();
    serde_json::json!({ "type": task_type.decl.name, "fields": fields, "facts": asked })
}

/// Expands `fields` (the plugin task without its keywords and `type`, whose value is at
/// `type_span`) through `task_type` of `plugin`. `None` when the fields are wrong or the
/// plugin fails: every reason is in `diagnostics`.
pub fn expand(
    plugin: &Plugin,
    task_type: &TaskType,
    fields: &Node,
    type_span: Span,
    facts: &serde_json::Value,
    diagnostics: &mut Diagnostics,
) -> Option<Expansion> {
    let type_name = &task_type.decl.name;
    let json = to_json(fields);
    let mut valid = true;
    for error in task_type.validator.iter_errors(&json) {
        valid = false;
        diagnostics.push(schema_error(
            type_name,
            fields,
            type_span,
            &task_type.decl.schema,
            &error,
        ));
    }
    if !valid {
        return None;
    }
    let input = expand_input(task_type, json, facts);
    let failed = |e: PluginError| {
        Diagnostic::error(format!("{e}"))
            .at(type_span)
            .label(format!("expanding this `{type_name}` task"))
            .help("the plugin's task type failed on these fields; its message says why")
    };
    let expansion = plugin
        .call(abi::EXPAND, &input)
        .and_then(|answer| expansion(plugin, type_name, answer, type_span, fields.any_sensitive()));
    match expansion {
        Ok(expansion) => Some(expansion),
        Err(e) => {
            diagnostics.push(failed(e));
            None
        }
    }
}

/// The answer `{"id"?: "…", "tasks": [{"type": …, "id"?: …, "depends_on"?: […], fields…}]}`
/// as nodes at `span`, each sensitive when the plugin task read a secret.
pub(super) fn expansion(
    plugin: &Plugin,
    type_name: &str,
    mut answer: serde_json::Map<String, serde_json::Value>,
    span: Span,
    sensitive: bool,
) -> Result<Expansion, PluginError> {
    let malformed = |why: String| {
        PluginError::new(
            &plugin.name,
            format!("`expand` of `{type_name}` answered {why}"),
        )
    };
    let default_id = match answer.remove("id") {
        None => None,
        Some(serde_json::Value::String(id)) => Some(id),
        Some(other) => return Err(malformed(format!("an `id` that is not a string: {other}"))),
    };
    let serde_json::Value::Array(tasks) = plugin.field(abi::EXPAND, &mut answer, "tasks")? else {
        return Err(malformed("`tasks` that are not a list".to_owned()));
    };
    if let Some(extra) = answer.keys().next() {
        return Err(malformed(format!(
            "an unknown key `{extra}` (an answer has `id` and `tasks`)"
        )));
    }
    let mut out: Vec<ExpandedTask> = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.into_iter().enumerate() {
        let serde_json::Value::Object(mut task) = task else {
            return Err(malformed(format!("task {index} that is not an object")));
        };
        let returned_type = match task.get("type") {
            Some(serde_json::Value::String(t)) => t.clone(),
            _ => return Err(malformed(format!("task {index} without a `type`"))),
        };
        let built_in = crate::model::ApplySpec::TYPE_NAMES.contains(&returned_type.as_str());
        if !built_in || NOT_RETURNABLE.contains(&returned_type.as_str()) {
            return Err(malformed(format!(
                "task {index} of type `{returned_type}`: a plugin returns resources of the built-in types (file, directory, package, service, command …), not templates, assertions or other plugins' types"
            )));
        }
        if returned_type == "file" && task.contains_key("template") {
            return Err(malformed(format!(
                "task {index}, a `file` with `template`: a plugin returns the content itself"
            )));
        }
        let key = match task.remove("id") {
            None => index.to_string(),
            Some(serde_json::Value::String(id)) if is_key(&id) => id,
            Some(other) => {
                return Err(malformed(format!(
                    "task {index} with the id {other}: an id is letters, digits, `_`, `-` and `.`"
                )));
            }
        };
        if out.iter().any(|t| t.key == key) {
            return Err(malformed(format!("two tasks with the id `{key}`")));
        }
        let after = match task.remove("depends_on") {
            None => Vec::new(),
            Some(serde_json::Value::Array(ids)) => ids
                .into_iter()
                .map(|id| match id {
                    serde_json::Value::String(id) if out.iter().any(|t| t.key == id) => Ok(id),
                    other => Err(malformed(format!(
                        "task `{key}` depending on {other}, which is not the id of a task before it in the answer"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(malformed(format!(
                    "task `{key}` with a `depends_on` that is not a list: {other}"
                )));
            }
        };
        if let Some(keyword) = crate::model::meta::KEYWORDS
            .iter()
            .chain(["when", "loop", "vars"].iter())
            .find(|k| !RETURNED_KEYWORDS.contains(k) && task.contains_key(**k))
        {
            return Err(malformed(format!(
                "task `{key}` with the keyword `{keyword}`: a returned task takes `id`, `depends_on` and its type's fields; the plugin task's own keywords apply to all of them"
            )));
        }
        let node = to_node(&serde_json::Value::Object(task), span, sensitive);
        out.push(ExpandedTask { key, node, after });
    }
    Ok(Expansion {
        default_id,
        tasks: out,
    })
}

/// A returned task's id: what may stand in `motd[conf]`.
fn is_key(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One schema error as a diagnostic at the field it is about: an unknown field at its key
/// (with "did you mean"), any other error at the value the error's path leads to, or at the
/// task's `type` when it is about the task as a whole (a missing field).
fn schema_error(
    type_name: &str,
    fields: &Node,
    type_span: Span,
    schema: &serde_json::Value,
    error: &jsonschema::ValidationError<'_>,
) -> Diagnostic {
    let mut node = fields;
    let mut path = Vec::new();
    for segment in error.instance_path().iter() {
        let next = match (&segment, &node.value) {
            (jsonschema::paths::LocationSegment::Property(name), Value::Map(_)) => node.get(name),
            (jsonschema::paths::LocationSegment::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        path.push(segment.to_string());
        node = next;
    }
    if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
        error.kind()
        && let Some(name) = unexpected.first()
        && let Some(key) = node.key(name)
    {
        let known: Vec<&str> = schema_properties(schema, &path);
        let mut diagnostic =
            Diagnostic::error(format!("unknown field `{name}` of a `{type_name}` task"))
                .at(key.span);
        diagnostic = match did_you_mean(name, known.iter().copied()) {
            Some(close) => diagnostic.help(format!("did you mean `{close}`?")),
            None if !known.is_empty() => diagnostic.help(format!(
                "its fields are {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => diagnostic,
        };
        return diagnostic;
    }
    let at = if std::ptr::eq(node, fields) {
        type_span
    } else {
        node.span
    };
    let field = if path.is_empty() {
        String::new()
    } else {
        format!(" field `{}`", path.join("."))
    };
    let message = if node.any_sensitive() {
        "invalid value (sensitive)".to_owned()
    } else {
        shorten(&error.to_string())
    };
    Diagnostic::error(format!("`{type_name}`{field}: {message}"))
        .at(at)
        .help("the plugin's JSON Schema for this task type says so (`driftless plugin check FILE` shows it)")
}

/// The property names the schema declares for the object at `path` (top-level only, or
/// nested through plain `properties`).
fn schema_properties<'a>(schema: &'a serde_json::Value, path: &[String]) -> Vec<&'a str> {
    let mut at = schema;
    for name in path {
        match at.get("properties").and_then(|p| p.get(name)) {
            Some(inner) => at = inner,
            None => return Vec::new(),
        }
    }
    at.get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// A config node as JSON (what a plugin is given).
pub fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// JSON (what a plugin answers) as a config node, every part at `span`.
pub fn to_node(json: &serde_json::Value, span: Span, sensitive: bool) -> Node {
    let value = match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Seq(items.iter().map(|i| to_node(i, span, sensitive)).collect())
        }
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: k.clone(),
                            span,
                        },
                        to_node(v, span, sensitive),
                    )
                })
                .collect(),
        ),
    };
    let mut node = Node::new(value, span);
    node.sensitive = sensitive;
    node
}
