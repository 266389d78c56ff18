//! A node's `when` over registered results (`when: r.changed`), evaluated when its turn comes:
//! every registering node it reads is one of its dependencies, so their outcomes are known.
//! The same expression language as the config's (minijinja, strict undefined).

use std::collections::BTreeMap;

use minijinja::Value;

use super::{NodeOutcome, Status};
use crate::plan::RunCondition;

/// The work one evaluation may do: a condition is a comparison or two.
const FUEL: u64 = 100_000;

/// Whether the condition holds, given the outcome of each node it reads (`None`: not in the
/// plan, or not run).
pub fn holds<'o>(
    condition: &RunCondition,
    outcome_of: impl Fn(&str) -> Option<&'o NodeOutcome>,
) -> Result<bool, String> {
    let context: BTreeMap<&str, Value> = (condition.registers.iter())
        .map(|(name, address)| {
            let outcome = address.as_deref().and_then(&outcome_of);
            (name.as_str(), result(outcome))
        })
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let expression = env
        .compile_expression(&condition.expression)
        .map_err(|e| format!("`when: {}` is not an expression: {e}", condition.expression))?;
    expression
        .eval(context)
        .map(|v| v.is_true())
        .map_err(|e| format!("`when: {}` cannot be evaluated: {e}", condition.expression))
}

/// A registered result: `changed`, `skipped`, what a command printed, and the fields its
/// type adds.
fn result(outcome: Option<&NodeOutcome>) -> Value {
    let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
    let status = outcome.map(|o| &o.status);
    fields.insert("changed", Value::from(status == Some(&Status::Changed)));
    fields.insert(
        "skipped",
        Value::from(matches!(status, None | Some(Status::Skipped(_)))),
    );
    if let Some(output) = outcome.and_then(|o| o.output.as_ref()) {
        fields.insert("rc", Value::from(output.rc));
        fields.insert("stdout", Value::from(output.stdout.as_str()));
        fields.insert("stderr", Value::from(output.stderr.as_str()));
    }
    for (name, value) in outcome
        .and_then(|o| o.registered.as_ref())
        .into_iter()
        .flatten()
    {
        fields.insert(name.as_str(), Value::from(minijinja::value::Serde(value)));
    }
    Value::from(fields)
}
