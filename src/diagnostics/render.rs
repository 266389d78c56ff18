use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::json;

use super::{Diagnostic, Diagnostics, Severity, SourceMap};
use crate::printable::escape;

/// rustc-style text: `error: message`, `--> file:line:col`, the source line with a caret, help.
pub fn render_human(diagnostics: &Diagnostics, sources: &SourceMap, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for diagnostic in diagnostics.sorted(sources) {
        let printed = Printed::of(diagnostic, sources);
        out.push_str(&renderer.render(&report(diagnostic, &printed, sources)));
        out.push_str("\n\n");
    }
    let (errors, warnings) = (diagnostics.error_count(), diagnostics.warning_count());
    if errors + warnings > 0 {
        out.push_str(&summary(errors, warnings));
        out.push('\n');
    }
    out
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// A diagnostic's texts as printed: escaped, so that a value quoted in a message (a key, a path)
/// cannot start a line of its own or reach the terminal as a control sequence. The source
/// lines are shown by annotate-snippets, which draws control characters as symbols.
struct Printed {
    message: String,
    label: Option<String>,
    help: Option<String>,
    path: Option<String>,
}

impl Printed {
    fn of(diagnostic: &Diagnostic, sources: &SourceMap) -> Self {
        let escaped = |text: &str| escape(text).into_owned();
        Printed {
            message: escaped(&diagnostic.message),
            label: diagnostic.label.as_deref().map(escaped),
            help: diagnostic.help.as_deref().map(escaped),
            path: diagnostic.span.map(|span| escaped(sources.path(span.file))),
        }
    }
}

fn report<'a>(
    diagnostic: &'a Diagnostic,
    printed: &'a Printed,
    sources: &'a SourceMap,
) -> Vec<Group<'a>> {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(printed.message.as_str());
    let group = if let Some(span) = diagnostic.span {
        let text = sources.text(span.file);
        // Any span renders: clamped to the text and widened to whole characters.
        let start = text.floor_char_boundary(span.start as usize);
        let end = text.ceil_char_boundary((span.end as usize).max(start));
        // Only the lines the span touches go to the renderer, which scans what it is given.
        let (first_line, lines) = sources.lines_of(span.file, start, end);
        let mut annotation = AnnotationKind::Primary.span(start - lines.start..end - lines.start);
        if let Some(label) = &printed.label {
            annotation = annotation.label(label.as_str());
        }
        title.element(
            Snippet::source(&text[lines])
                .line_start(first_line)
                .path(printed.path.as_deref().unwrap_or_default())
                .fold(true)
                .annotation(annotation),
        )
    } else {
        Group::with_title(title)
    };
    let mut groups = vec![group];
    if let Some(help) = &printed.help {
        groups.push(Group::with_title(
            Level::HELP.secondary_title(help.as_str()),
        ));
    }
    groups
}

/// One JSON document for machines: every diagnostic with file, 1-based line and column of its
/// start and end, and the counts.
pub fn render_json(diagnostics: &Diagnostics, sources: &SourceMap) -> String {
    let items: Vec<serde_json::Value> = diagnostics
        .sorted(sources)
        .into_iter()
        .map(|d| {
            let mut item = json!({
                "severity": d.severity.as_str(),
                "message": d.message,
            });
            if let Some(span) = d.span {
                let (line, column) = sources.line_col(span.file, span.start);
                let (end_line, end_column) = sources.line_col(span.file, span.end);
                item["file"] = json!(sources.path(span.file));
                item["line"] = json!(line);
                item["column"] = json!(column);
                item["end_line"] = json!(end_line);
                item["end_column"] = json!(end_column);
            }
            if let Some(label) = &d.label {
                item["label"] = json!(label);
            }
            if let Some(help) = &d.help {
                item["help"] = json!(help);
            }
            item
        })
        .collect();
    let doc = json!({
        "diagnostics": items,
        "errors": diagnostics.error_count(),
        "warnings": diagnostics.warning_count(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
