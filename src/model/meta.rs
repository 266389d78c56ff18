use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::spanned::Spanned;
use crate::diagnostics::Span;

/// The keywords every task accepts besides its type's fields, as checked.
#[derive(Debug, Clone)]
pub struct TaskMeta {
    /// Unique in its section; given, or derived from the type and primary key.
    pub id: String,
    /// Where the id was written, or the task when it was derived.
    pub id_span: Span,
    /// The human label (`name:`): shown in `show`, run output and reports, never an address.
    pub name: Option<String>,
    /// The tags (`tags:`, with those of enclosing blocks) that `--tags`/`--skip-tags` select by.
    pub tags: Vec<String>,
    /// `register:`: the name later tasks' `when` read this task's result by.
    pub register: Option<Spanned<String>>,
    /// A `when` that reads registered results: evaluated at execute time.
    pub when_at_execute: Option<DeferredWhen>,
    /// The whole task, for diagnostics about it.
    pub span: Span,
    pub depends_on: Vec<Spanned<String>>,
    pub notify: Vec<Spanned<String>>,
    pub noop: bool,
    /// Written under `handlers:`: runs only when a task notifying it changed something.
    pub handler: bool,
    /// The loop item's key when the task came from a loop.
    pub loop_key: Option<String>,
}

/// The task keywords as written: the part of a task the check stage reads before handing the
/// rest to the task type. Also the source of these keywords in the JSON Schema.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskKeywords {
    /// Unique id; default `<type>:<primary key>`, e.g. `file:/etc/motd`.
    pub id: Option<Spanned<String>>,
    /// A human label, shown by `show`, run output and reports. Not an address: `id` (or the
    /// default id) stays the task's address whatever its name.
    pub name: Option<Spanned<String>>,
    /// Labels that `--tags` / `--skip-tags` select tasks by (a string or a list). `always`:
    /// planned whatever `--tags` says, unless skipped by name; `never`: planned only when
    /// `--tags` names one of its tags.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// A name for this task's result, which a later task's `when` reads at execute time:
    /// `changed`, `skipped`, and for a command `rc`, `stdout`, `stderr` (`when: r.changed`).
    pub register: Option<Spanned<String>>,
    /// Ids of tasks that must succeed before this one (a string or a list).
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Ids of handler tasks to run after this one, only when this one changed something.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
    /// Plan this task but never execute it.
    #[serde(default)]
    pub noop: bool,
}

/// The keyword names, for splitting a task into keywords and type fields. (`when`, `loop` and
/// `vars` are consumed by the template stage.)
pub const KEYWORDS: &[&str] = &[
    "id",
    "name",
    "tags",
    "register",
    "depends_on",
    "notify",
    "noop",
];

/// A `when` that reads a registered result (`when: r.changed`): it cannot be known when the
/// config is compiled, so the task is planned and the condition evaluated at execute time.
#[derive(Debug, Clone)]
pub struct DeferredWhen {
    /// The expression, without braces.
    pub expression: String,
    pub span: Span,
    /// The registered names it reads, sorted.
    pub reads: Vec<String>,
}

/// `--tags` and `--skip-tags`: which tasks a run plans (empty: every task but `never` ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSelection {
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
}

/// A task the run leaves out: its `when` was false, or the tags did not select it.
#[derive(Debug, Clone)]
pub struct SkippedTask {
    pub section: &'static str,
    /// The id as written, or derived (a task skipped by `when` is not rendered, so it has no
    /// derived id).
    pub id: Option<String>,
    pub span: Span,
    /// Why: `when` is false; `not selected by --tags …`; `skipped by --skip-tags …`.
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    When,
    Tags(String),
}

/// Resolves `depends_on`/`notify` references to tasks: an exact id, or the id of a loop task
/// meaning all its items (`conf` → `conf[0]`, `conf[1]`, …).
pub struct TaskIndex<'a> {
    by_id: HashMap<&'a str, Vec<usize>>,
}

impl<'a> TaskIndex<'a> {
    pub fn new(metas: impl Iterator<Item = &'a TaskMeta>) -> Self {
        let mut by_id: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, meta) in metas.enumerate() {
            by_id.entry(meta.id.as_str()).or_default().push(i);
            if let Some(key) = &meta.loop_key
                && let Some(base) = meta.id.strip_suffix(&format!("[{key}]"))
            {
                by_id.entry(base).or_default().push(i);
            }
        }
        TaskIndex { by_id }
    }

    /// The indexes of the tasks `id` names; empty when none.
    pub fn resolve(&self, id: &str) -> &[usize] {
        self.by_id.get(id).map_or(&[], Vec::as_slice)
    }
}
