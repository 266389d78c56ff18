//! Rules of a log pipeline's `outputs` that their types alone cannot say. An output that is a
//! sink is checked as that sink (with the log-stream defaults filled in), by the sinks' own
//! rules; the file output's path, rotation and delivery are checked here; and two outputs of
//! one pipeline may not send to the same place.

use crate::config::{Node, Value};
use crate::diagnostics::{Diagnostic, Span};
use crate::logs::file_log_output::path_problem;
use crate::logs::log_outputs::{destination, sink_config};
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
        match (output, sink_config(output, &pipeline.id.value)) {
            (LogOutput::File(file), _) => check_file(file, span, node, found),
            (_, Some(sink)) => check_sink(
                &Spanned {
                    value: sink,
                    span,
                    sensitive: false,
                },
                node,
                found,
            ),
            (_, None) => {}
        }
        let to = destination(output, &pipeline.id.value);
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
