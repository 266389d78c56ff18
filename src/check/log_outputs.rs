//! Rules of a log pipeline's `outputs` that their types alone cannot say. An output that is a
//! sink is checked as that sink (with the log-stream defaults filled in), by the sinks' own
//! rules; the file output's path, rotation and delivery are checked here; and two outputs of
//! one pipeline may not send to the same place.

use std::time::SystemTime;

use crate::config::{Node, Value};
use crate::diagnostics::{Diagnostic, Span};
use crate::model::Spanned;
use crate::model::logs::{FileLogOutput, LogOutput, LogPipeline};

use super::sinks::{check_retry, check_sink, field_span};

/// The outputs of `pipeline`; `written` is its `outputs:` list as written, for the places of
/// fields.
pub fn check_log_outputs(
    pipeline: &LogPipeline,
    written: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    let written = match written.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.as_slice(),
        _ => &[],
    };
    let mut destinations: Vec<String> = Vec::new();
    for (i, output) in pipeline.outputs.value.iter().enumerate() {
        let node = written.get(i);
        let span = node.map_or(pipeline.outputs.span, |n| n.span);
        match (output, output.sink_config(&pipeline.id.value)) {
            (LogOutput::File(file), _) => check_file(file, span, node, found),
            (_, Some(sink)) => {
                let sink = Spanned {
                    value: sink,
                    span,
                    sensitive: false,
                };
                check_sink(&sink, node, found);
            }
            (_, None) => {}
        }
        let to = output.destination(&pipeline.id.value);
        if destinations.contains(&to) {
            found.push(
                Diagnostic::error(format!("two outputs of this pipeline send to {to}"))
                    .at(span)
                    .help("each record would be sent twice: remove one, or tell them apart (another prefix, path or URL)"),
            );
        }
        destinations.push(to);
    }
}

fn check_file(file: &FileLogOutput, span: Span, node: Option<&Node>, found: &mut Vec<Diagnostic>) {
    let mut problem = |path: &[&str], message: String, help: &str| {
        found.push(
            Diagnostic::error(message)
                .at(field_span(span, node, path))
                .help(help.to_owned()),
        );
    };
    if let Some(why) = path_problem(&file.path) {
        let message = match why.strip_prefix("path ") {
            Some(rest) => format!("`path` {rest}"),
            None => format!("`path`: {why}"),
        };
        problem(
            &["path"],
            message,
            "e.g. `/var/log/collected/app-%Y-%m-%d.log`: an absolute path written plainly, time \
             fields and `{host}` in the file name",
        );
    }
    if let Some(rotate) = &file.rotate
        && rotate.max_bytes == Some(0)
    {
        problem(
            &["rotate", "max_bytes"],
            "`rotate.max_bytes` is 0: every batch would start a new file".to_owned(),
            "give the size a file may reach, e.g. `104857600` (100 MiB)",
        );
    }
    if let Some(spool) = &file.spool
        && let Err(why) = crate::fsutil::check_plain_absolute(&spool.path)
    {
        problem(
            &["spool", "path"],
            why.replacen("path", "`spool.path`", 1),
            "write the full path from `/`, without `.` or `..` components",
        );
    }
    check_retry(file.retry.as_ref(), span, node, found);
}

/// Why `path` cannot be a file output's path: not absolute and plain, time fields or `{id}`
/// outside the file name, an unknown time field. `None` when it can.
fn path_problem(path: &str) -> Option<String> {
    if let Err(why) = crate::fsutil::check_plain_absolute(path) {
        return Some(why);
    }
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name.is_empty() {
        return Some(format!("`{path}` names a directory, not a file"));
    }
    if dir.contains('%') {
        return Some(
            "time fields go in the file name, not in its directories (one directory holds \
             the output's files, so that its old ones can be found)"
                .to_owned(),
        );
    }
    if path.contains("{id}") {
        return Some(
            "`{id}` (a batch's number) has no place in a file that batches are appended to"
                .to_owned(),
        );
    }
    crate::clock::strftime(&name.replace("{host}", "h"), SystemTime::UNIX_EPOCH).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_time_fields_in_directories_or_an_id_are_refused() {
        assert_eq!(path_problem("/var/log/app-%Y-%m-%d.log"), None);
        assert_eq!(path_problem("/var/log/{host}.log"), None);
        for (path, why) in [
            ("logs/app.log", "absolute"),
            ("/var/log/%Y/app.log", "time fields go in the file name"),
            ("/var/log/app-{id}.log", "`{id}`"),
            ("/var/log/app-%Q.log", "`%Q` is not a time field"),
            ("/var/log/", "empty component"),
            ("/", "names a directory"),
        ] {
            let problem = path_problem(path).unwrap_or_default();
            assert!(problem.contains(why), "{path}: {problem}");
        }
    }
}
