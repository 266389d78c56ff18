//! Rules of a `file` log source that its types alone cannot say: absolute, valid globs,
//! regular expressions that compile, durations and sizes above zero.

use crate::apply::field_rules::regex;
use crate::diagnostics::{Diagnostic, Span};
use crate::logs::path_globs;
use crate::model::Spanned;
use crate::model::logs::{FileLogSource, LogSource};
use crate::model::values::Duration;

pub fn check_log_source(source: &LogSource, found: &mut Vec<Diagnostic>) {
    let LogSource::File(file) = source;
    check_file_source(file, found);
}

fn check_file_source(source: &FileLogSource, found: &mut Vec<Diagnostic>) {
    let paths = &source.paths;
    if paths.value.is_empty() {
        found.push(
            Diagnostic::error("a file source needs at least one path")
                .at(paths.span)
                .help("e.g. `paths: [\"/var/log/nginx/*.log\"]`"),
        );
    }
    for pattern in &paths.value {
        if !pattern.starts_with('/') {
            found.push(
                Diagnostic::error(format!("`paths`: `{pattern}` is not an absolute path"))
                    .at(paths.span)
                    .help("write the full path from `/`, e.g. `/var/log/app/*.log`"),
            );
        }
        glob(pattern, "paths", paths.span, found);
    }
    if let Some(exclude) = &source.exclude {
        for pattern in &exclude.value {
            glob(pattern, "exclude", exclude.span, found);
        }
    }
    if let Some(max) = &source.max_line_bytes
        && max.value == 0
    {
        found.push(
            Diagnostic::error("`max_line_bytes` must be more than zero")
                .at(max.span)
                .help("the default is 1048576 (1 MiB)"),
        );
    }
    positive(source.partial_timeout.as_ref(), "partial_timeout", found);
    if let Some(multiline) = &source.multiline {
        regex(Some(&multiline.start_pattern), found);
        regex(Some(&multiline.condition_pattern), found);
        positive(multiline.timeout.as_ref(), "multiline.timeout", found);
    }
}

fn glob(pattern: &str, field: &str, span: Span, found: &mut Vec<Diagnostic>) {
    if let Err(why) = path_globs::compile(pattern) {
        found.push(
            Diagnostic::error(format!("`{field}`: `{pattern}` is not a valid glob: {why}"))
                .at(span)
                .help("`*` and `?` match within a path component, `**` across them, `[a-z]` a range, `{a,b}` either; `\\` escapes"),
        );
    }
}

fn positive(duration: Option<&Spanned<Duration>>, field: &str, found: &mut Vec<Diagnostic>) {
    if let Some(d) = duration
        && d.value.0.is_zero()
    {
        found.push(
            Diagnostic::error(format!("`{field}` must be more than zero"))
                .at(d.span)
                .help("e.g. `5s` or `500ms`"),
        );
    }
}
