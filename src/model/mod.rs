//! The typed model: what the check stage produces and every later stage consumes.

pub mod apply;
pub mod assert;
pub mod facts;
pub mod logs;
pub mod meta;
pub mod plugins;
pub mod settings;
pub mod sinks;
mod spanned;
pub mod values;

pub use apply::{ApplySpec, ApplyTask};
pub use facts::FactsTask;
pub use logs::LogPipeline;
pub use meta::{TaskIndex, TaskMeta};
pub use settings::Settings;
pub use spanned::Spanned;
pub(crate) use spanned::{FIELD_SENSITIVE, FIELD_SPAN, FIELD_VALUE, MAGIC};

/// A template file's rendered text, for `template` and `file` tasks that name one.
#[derive(Debug, Clone)]
pub struct RenderedContent {
    pub text: String,
    pub sensitive: bool,
}

/// A checked configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub apply: Vec<ApplyTask>,
    pub facts: Vec<FactsTask>,
    pub logs: Vec<LogPipeline>,
    pub settings: Settings,
    /// Tasks left out: their `when` was false, or `--tags`/`--skip-tags` did not select them.
    pub skipped: Vec<meta::SkippedTask>,
    /// Conditions of `assert` tasks that held (a false one is an error).
    pub assertions_held: usize,
}
