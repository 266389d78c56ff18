//! A `stat`'s registered result, observed when the task is rendered so that the tasks after
//! it can read it in templates and `when` at plan time (`st.stat.exists`). The stat node the
//! plan records observes the path again; its fingerprint makes `execute` refuse the plan when
//! the path changed since.

use std::path::Path;

use serde_json::json;

use super::Renderer;
use crate::config::{Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::host::path_stat::{self, ALGORITHMS, DEFAULT_ALGORITHM, Look, PathStat};
use crate::template::taint::Taint;

/// How a rendered `stat` task looks at its path, when its fields are well-formed (the check
/// stage diagnoses them otherwise). Read from the rendered fields, since the typed task is
/// made only by `check`, a later stage; the defaults are the type's (`apply/stat.rs`).
pub fn look_of(task: &Node) -> Option<(&str, bool, Option<&str>)> {
    // A path read from a secret is refused by `check` (a public field): never looked at, so
    // no message here can show it.
    let path = (task.get("path").filter(|p| !p.any_sensitive())?.as_str())
        .filter(|p| p.starts_with('/'))?;
    let flag = |name: &str, default: bool| match task.get(name).map(|n| &n.value) {
        None => Some(default),
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => None,
    };
    let follow = flag("follow", false)?;
    let algorithm = match task.get("checksum_algorithm") {
        None => DEFAULT_ALGORITHM,
        Some(node) => node.as_str().filter(|a| ALGORITHMS.contains(a))?,
    };
    let checksum = flag("get_checksum", true)?.then_some(algorithm);
    Some((path, follow, checksum))
}

impl Renderer {
    /// Observes a rendered `stat` task's path and registers the result for the tasks after
    /// it: `{changed: false, skipped: false, stat: {exists, isdir, mode, …}}`. The observation
    /// goes on with the task, so that its plan node records what was read here.
    pub(super) fn observe_stat(
        &self,
        task: &Node,
        diagnostics: &mut Diagnostics,
    ) -> Option<PathStat> {
        let Some(register) = task.get("register") else {
            diagnostics.push(
                Diagnostic::error("a `stat` without `register`: nothing could read what it observes")
                    .at(task.span)
                    .help("add `register: NAME`, then read `NAME.stat.exists` in a later `when` or template"),
            );
            return None;
        };
        let (Some(name), Some((path, follow, checksum))) = (register.as_str(), look_of(task))
        else {
            return None;
        };
        if let Some(host) = self.plan_time.recorded_host() {
            let at = task.get("path").map_or(task.span, |p| p.span);
            diagnostics.push(
                Diagnostic::warning(format!(
                    "this `stat` looks at {path} on the machine running `check`, not on `{host}`"
                ))
                .at(at)
                .help(format!("`check --host` compiles from recorded facts; what the tasks after it decide from the stat holds for `{host}` only when the path is the same there — `plan` on `{host}` observes its own")),
            );
        }
        let observed = match path_stat::stat(Path::new(path), Look { follow, checksum }) {
            Ok(observed) => observed,
            Err(e) => {
                let at = task.get("path").map_or(task.span, |p| p.span);
                diagnostics.push(
                    Diagnostic::error(format!("cannot stat {path}: {e}"))
                        .at(at)
                        .help(
                            "the plan observes the path; run driftless as a user who may read it",
                        ),
                );
                return None;
            }
        };
        let result = json!({ "changed": false, "skipped": false, "stat": observed });
        self.plan_time
            .set(name, crate::template::json_to_value(&result), Taint::Clean);
        Some(observed)
    }

    /// A `stat` whose `when` is false registers a skipped result, as in Ansible: reading its
    /// `stat` is then an error that says so, not a stale value.
    pub(super) fn stat_skipped(&self, task: &Node) {
        if let Some(name) = task.get("register").and_then(Node::as_str) {
            let result = json!({ "changed": false, "skipped": true });
            self.plan_time
                .set(name, crate::template::json_to_value(&result), Taint::Clean);
        }
    }
}
