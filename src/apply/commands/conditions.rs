//! `changed_when` and `failed_when`: a boolean, or a minijinja expression over the command's
//! `rc`, `stdout` and `stderr`, checked when the config is (syntax, names) and evaluated when
//! the command has run.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::model::Spanned;

/// The names an expression may read.
pub const NAMES: &[&str] = &["rc", "stdout", "stderr"];

/// The work one evaluation may do, in minijinja's fuel: a condition is a comparison or two.
const FUEL: u64 = 100_000;

/// `true`, `false`, or an expression such as `rc == 2` or `'created' in stdout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    Always(bool),
    Expression(String),
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;

        impl Visitor<'_> for ConditionVisitor {
            type Value = Condition;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean or an expression such as \"rc == 2\"")
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Condition, E> {
                Ok(Condition::Always(b))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Condition, E> {
                Ok(Condition::Expression(s.to_owned()))
            }
        }

        deserializer.deserialize_any(ConditionVisitor)
    }
}

impl Condition {
    /// As plan.json records it: `true`, `false` or the expression.
    pub fn recorded(&self) -> String {
        match self {
            Condition::Always(b) => b.to_string(),
            Condition::Expression(e) => e.clone(),
        }
    }
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

/// A syntax error, or a name other than [`NAMES`], as a diagnostic at the field.
pub fn check(condition: Option<&Spanned<Condition>>, field: &str, found: &mut Vec<Diagnostic>) {
    let Some(Spanned {
        value: Condition::Expression(text),
        span,
        ..
    }) = condition
    else {
        return;
    };
    let env = environment();
    match env.compile_expression(text) {
        Err(e) => found.push(
            Diagnostic::error(format!(
                "`{field}` is not an expression: {}",
                e.detail().unwrap_or("syntax error")
            ))
            .at(*span)
            .help(format!(
                "write an expression over rc, stdout and stderr, e.g. `{field}: rc != 0`"
            )),
        ),
        Ok(expr) => {
            let mut unknown: Vec<String> = expr
                .undeclared_variables(false)
                .into_iter()
                .filter(|name| !NAMES.contains(&name.as_str()))
                .collect();
            unknown.sort();
            if let Some(name) = unknown.first() {
                found.push(
                    Diagnostic::error(format!("`{field}` reads `{name}`, which is not known when the command has run"))
                        .at(*span)
                        .help("the expression sees only rc, stdout and stderr; put vars in with `{{ … }}`"),
                );
            }
        }
    }
}

/// The value of a recorded condition (`true`, `false` or an expression) over the command's
/// result.
pub fn holds(recorded: &str, rc: i32, stdout: &str, stderr: &str) -> Result<bool, String> {
    match recorded {
        "true" => return Ok(true),
        "false" => return Ok(false),
        _ => {}
    }
    let env = environment();
    let expr = env
        .compile_expression(recorded)
        .map_err(|e| format!("`{recorded}` is not an expression: {e}"))?;
    let context = BTreeMap::from([
        ("rc", minijinja::Value::from(rc)),
        ("stdout", minijinja::Value::from(stdout)),
        ("stderr", minijinja::Value::from(stderr)),
    ]);
    let value = expr
        .eval(context)
        .map_err(|e| format!("`{recorded}` cannot be evaluated: {e}"))?;
    Ok(value.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_read_rc_stdout_and_stderr() {
        assert!(holds("rc == 2", 2, "", "").unwrap());
        assert!(holds("'created' in stdout", 0, "file created\n", "").unwrap());
        assert!(!holds("stderr != ''", 0, "", "").unwrap());
        assert!(!holds("false", 0, "", "").unwrap());
        assert!(holds("nope(", 0, "", "").is_err());
    }
}
