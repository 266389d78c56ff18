//! `register` and the `when` that reads a registered result. A task's result (did it change
//! anything, what did its command print) exists only once it has run, so a `when` reading one
//! is not evaluated here: the task is rendered and planned, and its condition goes into the
//! plan node, evaluated at execute time after the registering task (`execute::when`).

use std::collections::HashSet;

use super::Renderer;
use crate::config::{LoadedConfig, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, one_of};
use crate::model::meta::DeferredWhen;

/// What a registered result holds, for every task (`changed`, `skipped`), for a command
/// (`rc`, `stdout`, `stderr`) and for a `uri` request (`status`, `url`, `content`, `json`,
/// `msg`).
pub const RESULT_FIELDS: &[&str] = &[
    "changed", "skipped", "rc", "stdout", "stderr", "status", "url", "content", "json", "msg",
];

/// Every name a task of the config registers (`register: NAME`, blocks included), read before
/// anything is rendered: a `when` anywhere may read any of them.
pub fn registered_names(loaded: &LoadedConfig) -> HashSet<String> {
    fn walk(tasks: &Node, names: &mut HashSet<String>) {
        let Value::Seq(items) = &tasks.value else {
            return;
        };
        for item in items {
            if let Some(name) = item.get("register").and_then(Node::as_str) {
                names.insert(name.to_owned());
            }
            if item.get("type").is_none()
                && let Some(inner) = item.get("block")
            {
                walk(inner, names);
            }
        }
    }
    let mut names = HashSet::new();
    for document in &loaded.documents {
        for section in [&document.apply, &document.handlers].into_iter().flatten() {
            walk(section, &mut names);
        }
    }
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
        if !reads.iter().any(|n| self.registered.contains(&top(n))) {
            return Ok(None);
        }
        for name in &reads {
            let head = top(name);
            if !self.registered.contains(&head) {
                diagnostics.push(
                    Diagnostic::error(format!(
                        "this `when` reads a registered result, so it is evaluated when the task runs, and `{head}` is not known then"
                    ))
                    .at(when.span)
                    .help("a `when` reading a registered result may read only registered results (`r.changed`); put conditions on vars and facts on a block around the task"),
                );
                return Err(());
            }
            match name.split('.').nth(1) {
                Some(field) if RESULT_FIELDS.contains(&field) => {}
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
                            one_of(RESULT_FIELDS.iter().copied())
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
