//! Where a value read from a secret may go.
//!
//! Most fields are public by nature: an id, a path, an owner, a `depends_on` target, a
//! collector's directory, a sink's path are printed in plans, reports, diffs' headers and
//! messages ("no user `x`", "unknown task `x`"). A secret there would be shown wherever the
//! field is. So the rule is a list of the fields that may hold one — what a task writes or
//! runs, never what names, addresses or orders it — and a secret in any other field is an
//! error at the value, before the field is type-checked or used, so no later message can
//! quote it.

use crate::config::{Node, Value};
use crate::diagnostics::{Diagnostic, one_of};

/// Per section and type, the top-level fields a secret may go into (all of their contents),
/// besides those each apply type names itself ([`crate::apply::Resource::SECRET_FIELDS`]).
/// Everything else is public.
const SECRET_FIELDS: &[(&str, &str, &[&str])] = &[
    ("apply", "assert", &["that", "fail_msg"]),
    // The program and its arguments: a token on a command line is common.
    ("facts", "command", &["command"]),
];

/// The top-level fields of `task` that hold a value read from a secret where none may go,
/// each diagnosed at the value. `section` is `apply`, `facts`, `logs` or `settings`.
pub fn misplaced_secrets(section: &str, task: &Node, found: &mut Vec<Diagnostic>) -> Vec<String> {
    let Some(entries) = task.as_map() else {
        return Vec::new();
    };
    // The type as written: a `type` read from a secret is itself misplaced.
    let task_type = task
        .get("type")
        .filter(|t| !t.sensitive)
        .and_then(Node::as_str);
    let of_apply_type = (section == "apply")
        .then(|| task_type.and_then(crate::apply::secret_fields_of))
        .flatten();
    let allowed: &[&str] = of_apply_type.unwrap_or_else(|| {
        SECRET_FIELDS
            .iter()
            .find(|(s, t, _)| *s == section && Some(*t) == task_type)
            .map_or(&[], |(_, _, fields)| fields)
    });
    let mut misplaced = Vec::new();
    for (key, value) in entries {
        if allowed.contains(&key.name.as_str()) {
            continue;
        }
        let Some(leaf) = first_sensitive(value) else {
            continue;
        };
        let what = match (section, task_type) {
            ("apply", Some(t)) => format!("a `{t}` task"),
            ("facts", Some(t)) => format!("a `{t}` collector"),
            ("logs", _) => "a log pipeline".to_owned(),
            _ => format!("`{section}`"),
        };
        let help = if allowed.is_empty() {
            format!(
                "`{}` is shown in plans, reports and messages, and no field of {what} may hold a secret; write the value in the config or pass it as a var",
                key.name
            )
        } else {
            format!(
                "`{}` is shown in plans, reports and messages; in {what} a secret may go only in {}",
                key.name,
                one_of(allowed.iter().copied())
            )
        };
        found.push(
            Diagnostic::error(format!(
                "`{}` cannot hold a value read from a secret",
                key.name
            ))
            .at(leaf.span)
            .label("read from a secret")
            .help(help),
        );
        misplaced.push(key.name.clone());
    }
    misplaced
}

/// The first value in the subtree that was read from a secret.
fn first_sensitive(node: &Node) -> Option<&Node> {
    if node.sensitive {
        return Some(node);
    }
    match &node.value {
        Value::Seq(items) => items.iter().find_map(first_sensitive),
        Value::Map(entries) => entries.iter().find_map(|(_, v)| first_sensitive(v)),
        _ => None,
    }
}
