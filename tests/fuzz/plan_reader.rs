//! Target `plan_reader`: plan.json as a tool rewriting plans would make it — the quickstart's
//! real plan (every file-family action and collectors) with random values put in random
//! places, sealed again with a correct digest — is read and checked for staleness (which only
//! reads the host) or refused with a message; `show` exits 0 or 1, never by a panic.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use driftless::config::ConfigDir;
use driftless::facts::HostFacts;
use driftless::ops::{Inputs, compile};
use driftless::plan::{self, PlanInputs, json};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use super::common::reseal;
use super::fuzz;

/// The quickstart's plan as a JSON value (made once, in a temp root that lives as long as the
/// test process).
fn seed() -> &'static Value {
    static SEED: OnceLock<(tempfile::TempDir, Value)> = OnceLock::new();
    &SEED
        .get_or_init(|| {
            let root = tempfile::tempdir().expect("temp dir");
            let facts = HostFacts::gather();
            let extra_vars = vec![format!("root={}", root.path().join("qs").display())];
            let inputs = Inputs {
                config_dir: ConfigDir::new(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
                ),
                env_file: "/nonexistent/driftless-env".into(),
                extra_vars: extra_vars.clone(),
            };
            let compiled = compile(&inputs, &facts);
            assert!(
                !compiled.diagnostics.has_errors(),
                "the quickstart compiles"
            );
            let mut plan = plan::build(&PlanInputs {
                config: &compiled.config,
                sources: &compiled.sources,
                config_dir: &inputs.config_dir,
                facts: &facts,
                extra_vars: &extra_vars,
            })
            .expect("the quickstart plans");
            let value = serde_json::from_str(&json::to_json(&mut plan)).expect("plan JSON");
            (root, value)
        })
        .1
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z/._ -]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "create",
            "update",
            "delete",
            "no-op",
            "run",
            "collect",
            "observed",
            "chained",
            "none",
            "apply",
            "facts",
            "logs",
            "file",
            "directory",
            "link",
            "hardlink",
            "absent",
            "0644",
            "9999",
            "(sensitive)",
            "/",
            "",
        ])
        .prop_map(Value::from),
        Just(Value::Array(Vec::new())),
        Just(Value::Object(serde_json::Map::new())),
    ]
}

/// One edit at the `n`-th place of the document (counted depth-first): replace the value, or
/// remove it from its object or array.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), leaf()).prop_map(|(n, v)| Edit::Replace(n, v)),
        any::<usize>().prop_map(Edit::Remove),
    ]
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::Object(map) => map.values().map(count).sum(),
        Value::Array(items) => items.iter().map(count).sum(),
        _ => 0,
    }
}

/// Applies `edit` at place `target` of `value`; `seen` counts places visited so far.
fn apply(value: &mut Value, edit: &Edit, target: usize, seen: &mut usize) -> bool {
    let children: Vec<String> = match value {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        _ => Vec::new(),
    };
    for key in children {
        *seen += 1;
        if *seen == target {
            match (value, edit) {
                (Value::Object(map), Edit::Remove(_)) => {
                    map.remove(&key);
                }
                (Value::Array(items), Edit::Remove(_)) => {
                    items.remove(key.parse::<usize>().unwrap_or(0));
                }
                (Value::Object(map), Edit::Replace(_, new)) => {
                    map.insert(key, new.clone());
                }
                (Value::Array(items), Edit::Replace(_, new)) => {
                    if let Some(slot) = items.get_mut(key.parse::<usize>().unwrap_or(0)) {
                        *slot = new.clone();
                    }
                }
                _ => {}
            }
            return true;
        }
        let child = match value {
            Value::Object(map) => map.get_mut(&key),
            Value::Array(items) => items.get_mut(key.parse::<usize>().unwrap_or(0)),
            _ => None,
        };
        if let Some(child) = child
            && apply(child, edit, target, seen)
        {
            return true;
        }
    }
    false
}

/// A mutated, resealed plan.
fn mutated_plan() -> impl Strategy<Value = String> {
    prop::collection::vec(edit(), 1..6).prop_map(|edits| {
        let mut document = seed().clone();
        for edit in &edits {
            let places = count(&document);
            let n = match edit {
                Edit::Replace(n, _) | Edit::Remove(n) => *n,
            };
            apply(&mut document, edit, 1 + n % places.max(1), &mut 0);
        }
        reseal(&mut document);
        serde_json::to_string_pretty(&document).expect("serialize")
    })
}

fn read_show_and_check(text: &str) -> Result<(), TestCaseError> {
    // The library: read (or refuse), then the staleness check, which only observes.
    if let Ok(plan) = json::from_json(text) {
        let _ = driftless::execute::stale_nodes(&plan);
    }
    // The binary: `show` exits 0 or 1 with a message, never by a panic (101).
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plan.json");
    std::fs::write(&path, text).expect("write plan");
    let output = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("show")
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run driftless show");
    let stderr = String::from_utf8_lossy(&output.stderr);
    prop_assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "show exited {:?}: {stderr}",
        output.status.code()
    );
    prop_assert!(!stderr.contains("panicked"), "{stderr}");
    if output.status.code() == Some(1) {
        prop_assert!(stderr.starts_with("error: "), "{stderr}");
    }
    Ok(())
}

#[test]
fn plan_reader() {
    fuzz("plan_reader", mutated_plan(), |input: &String| {
        read_show_and_check(input)
    });
}
