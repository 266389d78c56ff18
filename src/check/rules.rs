//! Rules of single tasks that types alone cannot say: absolute paths, fields that exclude each
//! other, regular expressions that compile, files of the config that exist.

use crate::config::{ConfigDir, Node};
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::model::Spanned;
use crate::model::apply::{ApplySpec, LinkKind, State};
use crate::model::facts::CollectorSpec;
use crate::model::logs::{LogFilter, LogParser, LogPipeline};
use crate::model::settings::{AuditSink, Settings};

pub fn check_id(id: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    if id.value.is_empty()
        || id
            .value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        found.push(
            Diagnostic::error("an id must be non-empty and without spaces")
                .at(id.span)
                .help("use letters, digits and `-`, `_`, `.`, `:`, `/`"),
        );
    }
}

fn absolute(path: &Spanned<String>, field: &str, found: &mut Vec<Diagnostic>) {
    let shown = if path.sensitive {
        "(sensitive)"
    } else {
        path.value.as_str()
    };
    if path.value.starts_with('/') {
        normalized(path, field, shown, found);
    } else {
        found.push(
            Diagnostic::error(format!(
                "`{field}` must be an absolute path, found `{shown}`"
            ))
            .at(path.span)
            .help(
                "paths on the host start with `/`; build them from a var, e.g. \"{{ root }}/motd\"",
            ),
        );
    }
}

/// A path is shown as written but the kernel resolves it: `..` after a symbolic link leaves
/// the link's target, so `/srv/link/../f` is not under `/srv`. Only the plain spelling says
/// where a write lands.
fn normalized(path: &Spanned<String>, field: &str, shown: &str, found: &mut Vec<Diagnostic>) {
    if let Err(not_normal) = crate::fsutil::normal_path(&path.value) {
        found.push(
            Diagnostic::error(format!("`{field}` `{shown}` {}", not_normal.why()))
                .at(path.span)
                .help(not_normal.help()),
        );
    }
}

/// A symbolic link's target may be relative (`../sites-available/shop`, resolved from the
/// link's directory, as intended); an absolute one is a path on the host.
fn absolute_target(src: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    if src.value.starts_with('/') {
        absolute(src, "src", found);
    }
}

fn regex(pattern: Option<&Spanned<String>>, found: &mut Vec<Diagnostic>) {
    let Some(pattern) = pattern else { return };
    if let Err(e) = regex::Regex::new(&pattern.value) {
        let detail = if pattern.sensitive {
            String::new()
        } else {
            // The last line of regex's message says what is wrong.
            format!(
                ": {}",
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
            )
        };
        found.push(
            Diagnostic::error(format!("invalid regular expression{detail}")).at(pattern.span),
        );
    }
}

/// `insert_after`/`insert_before`: a regular expression, or the `EOF`/`BOF` keywords.
fn anchor(pattern: Option<&Spanned<String>>, keyword: &str, found: &mut Vec<Diagnostic>) {
    if pattern.is_some_and(|p| p.value != keyword) {
        regex(pattern, found);
    }
}

fn exclusive(fields: &[(&str, Option<&Spanned<String>>)], found: &mut Vec<Diagnostic>) {
    let set: Vec<_> = fields
        .iter()
        .filter_map(|(name, v)| Some((name, (*v)?)))
        .collect();
    if let [(first, _), (second, value), ..] = set.as_slice() {
        found.push(
            Diagnostic::error(format!("`{first}` and `{second}` cannot both be set"))
                .at(value.span)
                .help(format!(
                    "keep only one of them: remove `{first}` or `{second}`"
                )),
        );
    }
}

fn not_when_absent(
    state: State,
    fields: &[(&str, Option<&Spanned<String>>)],
    found: &mut Vec<Diagnostic>,
) {
    if state != State::Absent {
        return;
    }
    for (name, value) in fields {
        if let Some(value) = value {
            found.push(
                Diagnostic::error(format!("`{name}` has no meaning with `state: absent`"))
                    .at(value.span)
                    .help(format!("remove `{name}`, or remove `state: absent`")),
            );
        }
    }
}

/// A file of the config dir: inside it, and there.
fn config_file(
    path: Option<&Spanned<String>>,
    config_dir: &ConfigDir,
    found: &mut Vec<Diagnostic>,
) {
    let Some(path) = path else { return };
    match config_dir.resolve_asset(&path.value) {
        Ok(full) if full.is_file() => {}
        Ok(_) => found.push(
            Diagnostic::error(format!("no file `{}` in the config directory", path.value))
                .at(path.span)
                .help("files of the config are named relative to the config directory, e.g. files/app.conf"),
        ),
        Err(why) => found.push(
            Diagnostic::error(format!("file refused: {why}"))
                .at(path.span)
                .help("keep the files a task copies in the config directory, e.g. files/app.conf"),
        ),
    }
}

pub fn check_apply_spec(spec: &ApplySpec, config_dir: &ConfigDir, found: &mut Vec<Diagnostic>) {
    match spec {
        ApplySpec::File(t) => {
            absolute(&t.path, "path", found);
            let content = [
                ("content", t.content.as_ref()),
                ("template", t.template.as_ref()),
                ("source", t.source.as_ref()),
            ];
            exclusive(&content, found);
            not_when_absent(t.state, &content, found);
            config_file(t.source.as_ref(), config_dir, found);
        }
        ApplySpec::Directory(t) => absolute(&t.path, "path", found),
        ApplySpec::Link(t) => {
            absolute(&t.path, "path", found);
            match (&t.src, t.state) {
                (None, State::Present) => found.push(
                    Diagnostic::error("a link needs `src`, what it points at")
                        .at(t.path.span)
                        .help("add `src: /path/to/target`"),
                ),
                (Some(src), State::Present) if t.kind == LinkKind::Hard => {
                    absolute(src, "src", found)
                }
                (Some(src), _) => absolute_target(src, found),
                _ => {}
            }
        }
        ApplySpec::Copy(t) => {
            absolute(&t.dest, "dest", found);
            exclusive(
                &[("src", t.src.as_ref()), ("content", t.content.as_ref())],
                found,
            );
            if t.src.is_none() && t.content.is_none() {
                found.push(
                    Diagnostic::error("a copy needs `src` or `content`")
                        .at(t.dest.span)
                        .help("add `src: files/<name>` (a file of the config dir) or `content: …`"),
                );
            }
            match (&t.src, t.remote_src) {
                (Some(src), true) => absolute(src, "src", found),
                (src, false) => config_file(src.as_ref(), config_dir, found),
                (None, true) => {}
            }
        }
        ApplySpec::Template(t) => absolute(&t.dest, "dest", found),
        ApplySpec::LineInFile(t) => {
            absolute(&t.path, "path", found);
            regex(t.regexp.as_ref(), found);
            anchor(t.insert_after.as_ref(), "EOF", found);
            anchor(t.insert_before.as_ref(), "BOF", found);
            exclusive(
                &[
                    ("insert_after", t.insert_after.as_ref()),
                    ("insert_before", t.insert_before.as_ref()),
                ],
                found,
            );
            if t.state == State::Present && t.line.is_none() {
                found.push(
                    Diagnostic::error("`line` is required with `state: present`")
                        .at(t.path.span)
                        .help("add `line: …`, or `state: absent` to remove matching lines"),
                );
            }
            if t.state == State::Absent && t.line.is_none() && t.regexp.is_none() {
                found.push(
                    Diagnostic::error(
                        "`state: absent` needs `regexp` or `line` to know what to remove",
                    )
                    .at(t.path.span)
                    .help("add `regexp: …` matching the lines to remove"),
                );
            }
        }
        ApplySpec::BlockInFile(t) => {
            absolute(&t.path, "path", found);
            anchor(t.insert_after.as_ref(), "EOF", found);
            anchor(t.insert_before.as_ref(), "BOF", found);
            exclusive(
                &[
                    ("insert_after", t.insert_after.as_ref()),
                    ("insert_before", t.insert_before.as_ref()),
                ],
                found,
            );
            if let Some(marker) = &t.marker
                && !marker.value.contains("{mark}")
            {
                found.push(
                    Diagnostic::error("`marker` must contain `{mark}`")
                        .at(marker.span)
                        .help("`{mark}` becomes BEGIN and END, so the two marker lines differ: \"# {mark} MANAGED\""),
                );
            }
        }
    }
}

/// `thresholds` is the task's `thresholds:` mapping as written, for the spans of its keys.
pub fn check_collector(
    collector: &CollectorSpec,
    thresholds: Option<&Node>,
    found: &mut Vec<Diagnostic>,
) {
    let known = crate::facts::collectors::value_names(collector);
    for (key, _) in known.and_then(|_| thresholds?.as_map()).unwrap_or_default() {
        let known = known.unwrap_or_default();
        if !known.contains(&key.name.as_str()) {
            found.push(
                Diagnostic::error(format!(
                    "the {} collector has no value `{}` to put a threshold on",
                    collector.type_name(),
                    key.name
                ))
                .at(key.span)
                .help(
                    did_you_mean(&key.name, known.iter().copied()).unwrap_or_else(|| {
                        format!("its values are {}", one_of(known.iter().copied()))
                    }),
                ),
            );
        }
    }
    match collector {
        CollectorSpec::Process(p) => {
            regex(p.pattern.as_ref(), found);
        }
        CollectorSpec::Textfile(t) => absolute(&t.directory, "directory", found),
        _ => {}
    }
}

pub fn check_log_pipeline(pipeline: &LogPipeline, found: &mut Vec<Diagnostic>) {
    check_id(&pipeline.id, found);
    if let LogParser::Regex(r) = &pipeline.parser {
        regex(Some(&r.pattern), found);
    }
    for filter in &pipeline.filters {
        let (LogFilter::Include(f) | LogFilter::Exclude(f)) = filter;
        regex(Some(&f.pattern), found);
    }
    if pipeline.outputs.value.is_empty() {
        found.push(
            Diagnostic::error("a log pipeline needs at least one output")
                .at(pipeline.outputs.span)
                .help("add an output, e.g. `- type: console`"),
        );
    }
}

pub fn check_settings(settings: &Settings, found: &mut Vec<Diagnostic>) {
    for sink in &settings.audit {
        let AuditSink::Directory(dir) = sink;
        absolute(&dir.path, "path", found);
    }
}
