//! `set_fact`: vars computed when the config is planned, for the tasks after it. Every key
//! but the task's own ([`SET_FACT_KEYS`]) is a fact: its value is rendered with what the task
//! sees (vars, facts, earlier facts, its `vars` and loop `item`) and set for the tasks rendered
//! after it ([`super::PlanTime`]). A value that is one expression (`"{{ ports | max }}"`)
//! keeps the expression's type, as in Ansible; any other string is rendered to text. A value
//! read from a secret stays sensitive wherever it is read. A `set_fact` makes no plan node:
//! it changes nothing on the host, and what it set is in every later task's rendered fields,
//! which the plan records.

use minijinja::Value as JinjaValue;

use super::plan_time::SET_FACT_KEYS;
use super::{Renderer, Scope};
use crate::config::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::meta::KEYWORDS;
use crate::template::node_to_value;
use crate::template::taint::Taint;

impl Renderer {
    /// One `set_fact` (one loop item of it): every fact evaluated first — the facts of one
    /// task do not see each other, as in Ansible — then set for the tasks after it. Nothing is
    /// set when one fails.
    pub(super) fn set_facts(
        &self,
        task: &Node,
        entries: &[(Key, Node)],
        scope: &Scope,
        diagnostics: &mut Diagnostics,
    ) {
        let mut facts = Vec::new();
        let mut failed = false;
        for (key, value) in entries {
            let name = key.name.as_str();
            if name == "cacheable" {
                if !matches!(value.value, Value::Bool(_)) {
                    diagnostics.push(
                        Diagnostic::error(format!("`cacheable` must be a boolean, found {}", value.kind()))
                            .at(value.span)
                            .help("driftless computes facts afresh on every plan, so `cacheable` changes nothing; remove it or write `cacheable: false`"),
                    );
                    failed = true;
                }
                continue;
            }
            if SET_FACT_KEYS.contains(&name) {
                continue;
            }
            if let Some(why) = self.fact_name_error(name) {
                diagnostics.push(why.at(key.span));
                failed = true;
                continue;
            }
            // What an earlier condition read is not this value's.
            scope.secrets.take_touched();
            match self.fact_value(value, scope, diagnostics) {
                Some(fact) => facts.push((name, fact)),
                None => failed = true,
            }
        }
        if facts.is_empty() && !failed {
            diagnostics.push(
                Diagnostic::error("a `set_fact` with no fact")
                    .at(task.span)
                    .help("write each fact as a field: `type: set_fact` then `web_port: 8080`"),
            );
        }
        if failed {
            return;
        }
        for (name, (value, taint)) in facts {
            self.plan_time.set(name, value, taint);
        }
    }

    /// Why `name` cannot be a fact: a task keyword, a built-in name, not an identifier, or a
    /// var of the host (one name, one meaning: which would win is a trap).
    fn fact_name_error(&self, name: &str) -> Option<Diagnostic> {
        if KEYWORDS.contains(&name) {
            return Some(
                Diagnostic::error(format!("`{name}` has no meaning on a `set_fact`"))
                    .help("a `set_fact` sets vars for the tasks after it and makes no plan node: nothing can depend on it, notify from it or register its result"),
            );
        }
        if let Some(reserved) = super::check_var_name(name) {
            return Some(reserved);
        }
        let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Some(
                Diagnostic::error(format!("`{name}` cannot be a fact name"))
                    .help("use letters, digits and `_`, not starting with a digit: templates read it as `{{ name }}`"),
            );
        }
        if self.globals.vars.contains_key(name) {
            return Some(
                Diagnostic::error(format!("`{name}` is already a var of this host"))
                    .help(format!("a fact and a var of one name would shadow each other depending on the task; rename the fact, or set `{name}` in one place (`driftless vars {name}` shows where it is set)")),
            );
        }
        None
    }

    /// A fact's value and its secret parts: one expression keeps its type; anything else is
    /// rendered like any field.
    fn fact_value(
        &self,
        node: &Node,
        scope: &Scope,
        diagnostics: &mut Diagnostics,
    ) -> Option<(JinjaValue, Taint)> {
        if let Value::Str(text) = &node.value
            && is_one_expression(text)
        {
            return match self.expression(text, node.span, scope) {
                Ok(value) => {
                    let taint = if scope.secrets.take_touched() {
                        Taint::Secret
                    } else {
                        Taint::Clean
                    };
                    Some((value, taint))
                }
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    None
                }
            };
        }
        let mut failed = false;
        let rendered = self.node(node, scope, &mut failed, diagnostics);
        (!failed).then(|| (node_to_value(&rendered), Taint::of(&rendered)))
    }
}

/// `"{{ expr }}"` and nothing else: the value is the expression's, not its text.
fn is_one_expression(text: &str) -> bool {
    let trimmed = text.trim();
    let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    else {
        return false;
    };
    !inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")
}

#[cfg(test)]
mod tests {
    use super::is_one_expression;

    #[test]
    fn one_expression_or_text() {
        assert!(is_one_expression("{{ ports | max }}"));
        assert!(is_one_expression("  {{ [1, 2] }} "));
        assert!(!is_one_expression("{{ a }} and {{ b }}"));
        assert!(!is_one_expression("port {{ a }}"));
        assert!(!is_one_expression("plain"));
    }
}
