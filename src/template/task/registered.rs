//! `register` and the `when` that reads a registered result. A task's result (did it change
//! anything, what did its command print) exists only once it has run, so a `when` reading one
//! is not evaluated here: the task is rendered and planned, and its condition goes into the
//! plan node, evaluated at execute time after the registering task (`execute::when`).
//! A `stat`'s result is the exception: it is observed at plan time (`plan_time.rs`), so what
//! reads it is evaluated here like any var.

use std::collections::HashMap;

use super::Renderer;
use crate::config::{LoadedConfig, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, one_of};
use crate::model::meta::DeferredWhen;

/// What every registered result holds, whatever the task's type; each type adds its own
/// fields (`Resource::RESULT_FIELDS`: a command's `rc`, `stdout`, `stderr`).
pub const COMMON_RESULT_FIELDS: &[&str] = &["changed", "skipped"];

/// The types whose result is known at plan time: what reads it is not deferred.
pub const PLAN_TIME_TYPES: &[&str] = &["stat"];

/// The names registered results are read by, each with the fields its result has.
pub type Registered = HashMap<String, Vec<&'static str>>;

/// Every apply task of the config — its files' `apply` and `handlers`, included task files,
/// roles' tasks and handlers — blocks opened, in no particular order.
pub fn each_task(loaded: &LoadedConfig, mut visit: impl FnMut(&Node)) {
    fn walk(items: &[Node], visit: &mut impl FnMut(&Node)) {
        for item in items {
            match item.get("block").filter(|_| item.get("type").is_none()) {
                Some(Node {
                    value: Value::Seq(inner),
                    ..
                }) => walk(inner, visit),
                _ => visit(item),
            }
        }
    }
    for document in &loaded.documents {
        for section in [&document.apply, &document.handlers].into_iter().flatten() {
            if let Value::Seq(items) = &section.value {
                walk(items, &mut visit);
            }
        }
    }
    for items in loaded.includes.values() {
        walk(items, &mut visit);
    }
    for role in loaded.fleet.iter().flat_map(|f| f.roles.values()) {
        walk(&role.tasks, &mut visit);
        walk(&role.handlers, &mut visit);
    }
}

/// Every name a task of the config registers and whose result is known only at execute time
/// (a `stat`'s is known at plan time), with the fields of that result: a `when` anywhere may
/// read any of them.
pub fn registered_names(loaded: &LoadedConfig) -> Registered {
    let mut names = Registered::new();
    each_task(loaded, |item| {
        let Some(name) = item.get("register").and_then(Node::as_str) else {
            return;
        };
        let type_name = item.get("type").and_then(Node::as_str).unwrap_or_default();
        if PLAN_TIME_TYPES.contains(&type_name) {
            return;
        }
        let fields = names
            .entry(name.to_owned())
            .or_insert_with(|| COMMON_RESULT_FIELDS.to_vec());
        for field in crate::apply::result_fields_of(type_name) {
            if !fields.contains(field) {
                fields.push(field);
            }
        }
    });
    names
}

impl Renderer {
    /// `Ok(Some)` when the `when` reads a registered name (then it may read nothing else);
    /// `Ok(None)` when it is an ordinary condition; `Err` when it is wrong (diagnosed).
    pub(super) fn deferred_when(
        &self,
        when: &Node,
        diagnostics: &mut Diagnostics,
    ) -> Result<Option<DeferredWhen>, ()> {
        if self.registered.is_empty() {
            return Ok(None);
        }
        let Value::Str(text) = &when.value else {
            return Ok(None);
        };
        let trimmed = text.trim();
        let expression = trimmed
            .strip_prefix("{{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(trimmed)
            .trim();
        // A syntax error is reported by the ordinary evaluation.
        let Ok(compiled) = self.env.compile_expression(expression) else {
            return Ok(None);
        };
        let mut reads: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
        reads.sort();
        let top = |name: &str| name.split('.').next().unwrap_or_default().to_owned();
        if !reads.iter().any(|n| self.registered.contains_key(&top(n))) {
            return Ok(None);
        }
        for name in &reads {
            let head = top(name);
            let Some(fields) = self.registered.get(&head) else {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "this `when` reads a registered result, so it is evaluated when the task runs, and `{head}` is not known then"
                    ))
                    .at(when.span)
                    .help("a `when` reading a registered result may read only registered results (`r.changed`); put conditions on vars and facts on a block around the task"),
                );
                return Err(());
            };
            match name.split('.').nth(1) {
                Some(field) if fields.contains(&field) => {}
                field => {
                    diagnostics.push(
                        Diagnostic::error(match field {
                            Some(field) => format!("a registered result has no field `{field}`"),
                            None => {
                                format!("`{head}` is a registered result: read one of its fields")
                            }
                        })
                        .at(when.span)
                        .help(format!(
                            "write `{head}.changed`; the fields are {}",
                            one_of(fields.iter().copied())
                        )),
                    );
                    return Err(());
                }
            }
        }
        let mut names: Vec<String> = reads.iter().map(|n| top(n)).collect();
        names.dedup();
        Ok(Some(DeferredWhen {
            expression: expression.to_owned(),
            span: when.span,
            reads: names,
        }))
    }
}
