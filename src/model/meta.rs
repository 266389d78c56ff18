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
    /// The whole task, for diagnostics about it.
    pub span: Span,
    pub depends_on: Vec<Spanned<String>>,
    pub notify: Vec<Spanned<String>>,
    pub noop: bool,
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
pub const KEYWORDS: &[&str] = &["id", "depends_on", "notify", "noop"];
