//! Diagnostics: what every stage before `execute` reports instead of failing.
//!
//! A diagnostic points at a [`Span`] in a file of the [`SourceMap`]; rendering turns it into the
//! rustc-style snippet with a caret (`render`) or into JSON for editors and CI (`json`).

mod render;
mod source_map;

use std::collections::HashMap;
use std::hash::BuildHasher;

pub use render::{render_human, render_json};
pub use source_map::{FileId, SourceMap, Span};

/// How bad a diagnostic is: errors fail the run, warnings only with `--deny-warnings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding: a message, where it is, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// `None` for findings about the run as a whole (e.g. an unreadable config dir).
    pub span: Option<Span>,
    /// Short text under the caret.
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets a general help line unless a more specific one is already there.
    pub fn or_help(mut self, help: impl Into<String>) -> Self {
        if self.help.is_none() {
            self.help = Some(help.into());
        }
        self
    }

    /// Sets the help line when there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

/// All diagnostics of a run, in the order found; [`Diagnostics::sorted`] orders them for output.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// The hash of every item, to the items with that hash: finding a repeat costs constant
    /// time, so many findings are collected in linear time.
    by_hash: HashMap<u64, Vec<usize>>,
}

impl Diagnostics {
    /// Adds a finding; the same finding at the same place twice (loop items repeating an
    /// error) is kept once, so counts match what is shown.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        let hash = self.by_hash.hasher().hash_one(&diagnostic);
        let same_hash = self.by_hash.entry(hash).or_default();
        if !same_hash.iter().any(|&i| self.items[i] == diagnostic) {
            same_hash.push(self.items.len());
            self.items.push(diagnostic);
        }
    }

    pub fn extend(&mut self, other: Diagnostics) {
        other.items.into_iter().for_each(|d| self.push(d));
    }

    /// Keeps only the first of the findings `matches` selects.
    pub fn retain_first(&mut self, matches: impl Fn(&Diagnostic) -> bool) {
        let mut seen = false;
        let items = std::mem::take(&mut self.items);
        *self = Diagnostics::default();
        for d in items {
            if matches(&d) {
                if seen {
                    continue;
                }
                seen = true;
            }
            self.push(d);
        }
    }

    /// Rewrites every finding with `f` (two that become the same are kept once).
    pub fn rewrite(&mut self, mut f: impl FnMut(&mut Diagnostic)) {
        let items = std::mem::take(&mut self.items);
        *self = Diagnostics::default();
        for mut d in items {
            f(&mut d);
            self.push(d);
        }
    }

    /// Drops the warnings (`-q`).
    pub fn retain_errors(&mut self) {
        let items = std::mem::take(&mut self.items);
        *self = Diagnostics::default();
        items
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .for_each(|d| self.push(d));
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Findings without a place first, then by file (sorted path order) and position; a stable
    /// sort keeps the discovery order of findings at the same place.
    pub fn sorted(&self, sources: &SourceMap) -> Vec<&Diagnostic> {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.map(|s| (sources.path(s.file), s.start));
            key(a).cmp(&key(b))
        });
        items.dedup_by(|a, b| a == b);
        items
    }
}

/// "did you mean `x`?" for a misspelt name, from the names that would have been valid.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(name, candidate);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// A list of names for messages: "`a`, `b` or `c`".
pub fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
