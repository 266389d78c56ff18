//! The JSON Schemas of config files and of plan.json, generated from the Rust types. `grammar/`
//! holds the committed copies (a test fails when one is out of date); `driftless schema
//! [config|plan]` prints them.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::apply::ApplySpec;
use crate::model::assert::AssertSpec;
use crate::model::facts::{CollectorSpec, FactsKeywords};
use crate::model::logs::LogPipeline;
use crate::model::meta::TaskKeywords;
use crate::model::settings::Settings;
use crate::plan::{FORMAT_VERSION, Plan};

pub const CONFIG_SCHEMA_ID: &str = "https://driftless.dev/schema/config.schema.json";
pub const PLAN_SCHEMA_ID: &str = "https://driftless.dev/schema/plan.schema.json";

/// The keywords the template stage reads from every task.
fn template_keywords() -> Value {
    json!({
        "when": {
            "description": "A condition (minijinja expression without braces); the task exists only when it is true.",
            "type": ["string", "boolean"]
        },
        "loop": {
            "description": "One task per item of a list, or per entry of a mapping; `{{ item }}` in templates.",
            "type": ["array", "string"]
        },
        "vars": {
            "description": "Variables for this task's templates only.",
            "type": "object"
        }
    })
}

/// Adds the task keywords to every variant of a `type`-tagged enum's schema, so that one
/// variant describes a whole task.
fn with_keywords(variants: &mut Value, keywords: &Value) {
    let Some(list) = variants.get_mut("oneOf").and_then(Value::as_array_mut) else {
        return;
    };
    for variant in list {
        if let Some(props) = variant.get_mut("properties").and_then(Value::as_object_mut)
            && let Some(extra) = keywords.as_object()
        {
            for (name, schema) in extra {
                props.entry(name.clone()).or_insert_with(|| schema.clone());
            }
        }
    }
}

/// `depends_on`, `notify` and `tags` take one string or a list, as `check` reads them.
fn one_or_many_ids(keywords: &mut Value) {
    for name in ["depends_on", "notify", "tags"] {
        if let Some(schema) = keywords.get_mut(name)
            && let Some(fields) = schema.as_object_mut()
        {
            let description = fields.remove("description");
            let list = Value::Object(std::mem::take(fields));
            fields.insert("anyOf".into(), json!([{ "type": "string" }, list]));
            if let Some(description) = description {
                fields.insert("description".into(), description);
            }
        }
    }
}

/// A string the template stage renders: `{{ … }}` or `{% … %}` somewhere in it.
fn template_string() -> Value {
    json!({ "type": "string", "pattern": "\\{\\{|\\{%" })
}

/// Every value `check` reads after templating may be written as a template: a boolean, a
/// number, a pattern-checked or enumerated string rendered from `"{{ … }}"` is valid where
/// the rendered value is. The task `type` (a `const`) is not: it selects the schema.
fn allow_templates(schema: &mut Value) {
    let Some(fields) = schema.as_object_mut() else {
        return;
    };
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(members)) = fields.get_mut(key) {
            members.values_mut().for_each(allow_templates);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(member) = fields.get_mut(key) {
            allow_templates(member);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(members)) = fields.get_mut(key) {
            members.iter_mut().for_each(allow_templates);
        }
    }
    let types: Vec<&str> = match fields.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let scalar = types
        .iter()
        .any(|t| matches!(*t, "boolean" | "integer" | "number"));
    let constrained_string = types.contains(&"string")
        && (fields.contains_key("pattern") || fields.contains_key("enum"));
    let plain_string = types.contains(&"string") && !constrained_string;
    if (scalar && !plain_string) || constrained_string {
        let description = fields.remove("description");
        let inner = Value::Object(std::mem::take(fields));
        fields.insert("anyOf".into(), json!([inner, template_string()]));
        if let Some(description) = description {
            fields.insert("description".into(), description);
        }
    }
}

fn properties(schema: &Value) -> Value {
    schema
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

pub fn config_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let apply = generator.root_schema_for::<ApplySpec>().to_value();
    let task_keywords = generator.root_schema_for::<TaskKeywords>().to_value();
    let facts = generator.root_schema_for::<CollectorSpec>().to_value();
    let facts_keywords = generator.root_schema_for::<FactsKeywords>().to_value();
    let mut defs = Map::new();
    let mut collect_defs = |schema: &mut Value| {
        if let Some(Value::Object(found)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            defs.extend(found);
        }
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
            o.remove("title");
        }
    };
    let mut apply = apply;
    let mut facts = facts;
    let mut assert = generator.root_schema_for::<AssertSpec>().to_value();
    let mut logs = generator.root_schema_for::<LogPipeline>().to_value();
    let mut settings = generator.root_schema_for::<Settings>().to_value();
    let mut task_keywords = task_keywords;
    let mut facts_keywords = facts_keywords;
    for schema in [
        &mut apply,
        &mut assert,
        &mut facts,
        &mut logs,
        &mut settings,
        &mut task_keywords,
        &mut facts_keywords,
    ] {
        collect_defs(schema);
    }
    let mut apply_keywords = properties(&task_keywords);
    one_or_many_ids(&mut apply_keywords);
    merge(&mut apply_keywords, &template_keywords());
    with_keywords(&mut apply, &apply_keywords);
    // An assert orders and triggers nothing: of the task keywords it takes `id` only.
    let mut assert_keywords = json!({ "id": apply_keywords["id"].clone() });
    drop_test_only_types(&mut apply);
    merge(&mut assert_keywords, &template_keywords());
    with_keywords(&mut assert, &assert_keywords);
    if let (Some(list), Some(asserts)) = (
        apply.get_mut("oneOf").and_then(Value::as_array_mut),
        assert.get("oneOf").and_then(Value::as_array),
    ) {
        list.extend(asserts.iter().cloned());
        list.push(block_schema(&apply_keywords));
        list.push(set_fact_schema(&apply_keywords));
    }
    let mut collector_keywords = properties(&facts_keywords);
    one_or_many_ids(&mut collector_keywords);
    merge(&mut collector_keywords, &template_keywords());
    with_keywords(&mut facts, &collector_keywords);
    if let Some(props) = logs.get_mut("properties") {
        merge(props, &template_keywords());
    }
    defs.insert("Include".into(), include_schema());
    defs.insert("ApplyTask".into(), apply);
    defs.insert("FactsTask".into(), facts);
    defs.insert("LogPipeline".into(), logs);
    defs.insert("Settings".into(), settings);
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": CONFIG_SCHEMA_ID,
        "title": "driftless config file",
        "description": "One file of a driftless config directory (YAML, TOML or JSON); an empty file is a config with nothing in it.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "vars": {
                "description": "Variables for templates; one namespace over all files.",
                "type": "object"
            },
            "apply": {
                "description": "Idempotent system configuration tasks.",
                "type": "array",
                "items": { "anyOf": [{ "$ref": "#/$defs/ApplyTask" }, { "$ref": "#/$defs/Include" }] }
            },
            "handlers": {
                "description": "Apply tasks that run only when a task notifying them (`notify`) changed something; once, after all their notifiers.",
                "type": "array",
                "items": { "anyOf": [{ "$ref": "#/$defs/ApplyTask" }, { "$ref": "#/$defs/Include" }] }
            },
            "facts": {
                "description": "Facts and metrics collectors.",
                "type": "array",
                "items": { "anyOf": [{ "$ref": "#/$defs/FactsTask" }, { "$ref": "#/$defs/Include" }] }
            },
            "logs": {
                "description": "Log pipelines: a source, a parser, filters and outputs.",
                "type": "array",
                "items": { "anyOf": [{ "$ref": "#/$defs/LogPipeline" }, { "$ref": "#/$defs/Include" }] }
            },
            "settings": { "$ref": "#/$defs/Settings" }
        },
        "$defs": defs
    });
    allow_templates(&mut schema);
    schema
}

/// A `block`: apply tasks sharing `when`, `vars` and `tags`; it has no `type` (a
/// `blockinfile` task's `block` is its text).
fn block_schema(apply_keywords: &Value) -> Value {
    let template = template_keywords();
    json!({
        "description": "A block: the tasks in `block` share its `when`, `vars` and `tags`; it has no id of its own (the tasks keep theirs). `rescue` and `always` are not supported.",
        "type": "object",
        "required": ["block"],
        "additionalProperties": false,
        "properties": {
            "block": {
                "description": "The tasks (or blocks) of the block.",
                "type": "array",
                "items": { "$ref": "#/$defs/ApplyTask" }
            },
            "name": apply_keywords["name"].clone(),
            "tags": apply_keywords["tags"].clone(),
            "when": template["when"].clone(),
            "vars": template["vars"].clone()
        }
    })
}

/// `- type: set_fact` and its facts: every field but the keywords is a fact (a var for the
/// tasks after it).
fn set_fact_schema(apply_keywords: &Value) -> Value {
    let template = template_keywords();
    json!({
        "description": "Vars computed when the config is planned, for the tasks after this one: every field but these is a fact. Makes no plan node.",
        "type": "object",
        "required": ["type"],
        "minProperties": 2,
        "properties": {
            "type": { "const": "set_fact" },
            "name": apply_keywords["name"].clone(),
            "tags": apply_keywords["tags"].clone(),
            "when": template["when"].clone(),
            "loop": template["loop"].clone(),
            "vars": template["vars"].clone(),
            "cacheable": {
                "description": "Accepted for Ansible's playbooks and ignored: facts are computed afresh on every plan.",
                "type": "boolean"
            }
        },
        "propertyNames": {
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "not": { "enum": ["id", "depends_on", "notify", "register", "noop", "facts", "secrets", "item"] }
        }
    })
}

/// `- include: tasks/x.yaml` in a task list: the tasks of that file, with `vars` and `when`.
fn include_schema() -> Value {
    json!({
        "description": "The tasks of a task file (a list of tasks), with these vars under their own and this condition over all of them.",
        "type": "object",
        "additionalProperties": false,
        "required": ["include"],
        "properties": {
            "include": {
                "description": "The task file, relative to the config dir (in a role: to the role's dir first).",
                "type": "string"
            },
            "vars": {
                "description": "Vars for the included tasks (their own vars win).",
                "type": "object"
            },
            "when": {
                "description": "A condition without braces; false skips every included task.",
                "type": ["string", "boolean"]
            }
        }
    })
}

/// The schema is the shipped binary's: types compiled only for the tests are left out.
fn drop_test_only_types(variants: &mut Value) {
    if let Some(list) = variants.get_mut("oneOf").and_then(Value::as_array_mut) {
        list.retain(|variant| {
            let name = variant
                .pointer("/properties/type/const")
                .and_then(Value::as_str);
            !name.is_some_and(|n| crate::apply::TEST_ONLY_TYPES.contains(&n))
        });
    }
}

fn merge(into: &mut Value, extra: &Value) {
    if let (Some(into), Some(extra)) = (into.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            into.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// The schema as committed in `grammar/`: pretty JSON with a final newline.
pub fn config_schema_text() -> String {
    pretty(&config_schema())
}

/// The schema of plan.json (`driftless plan`), from [`Plan`]. It names no
/// `additionalProperties: false`: a newer minor format adds fields, and readers ignore them.
/// `before`/`after` and their masks are free-form here: their shape depends on the node's
/// `type` (docs/plan-format.md describes the file family's).
pub fn plan_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.root_schema_for::<Plan>().to_value();
    // Free-form fields whose Rust type (`serde_json::Value`) has no doc comment to carry.
    let notes = [
        (
            "before",
            "The observed state the action was computed against; its shape depends on `type`.",
        ),
        (
            "after",
            "The wanted state; sensitive content is `(sensitive)`.",
        ),
        (
            "after_sensitive",
            "Parallel to `after`: `true` at sensitive leaves, `false` when none.",
        ),
    ];
    if let Some(props) = schema.pointer_mut("/$defs/PlanNode/properties") {
        for (field, note) in notes {
            if props.get(field) == Some(&Value::Bool(true)) {
                props[field] = json!({ "description": note });
            }
        }
    }
    if let Some(map) = schema.as_object_mut() {
        map.insert("$id".into(), Value::from(PLAN_SCHEMA_ID));
        map.insert("title".into(), Value::from("driftless plan"));
        map.insert(
            "description".into(),
            Value::from(format!(
                "plan.json as `driftless plan` writes it, format {FORMAT_VERSION} \
                 (docs/plan-format.md)."
            )),
        );
    }
    schema
}

/// The plan schema as committed in `grammar/`.
pub fn plan_schema_text() -> String {
    pretty(&plan_schema())
}

fn pretty(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
