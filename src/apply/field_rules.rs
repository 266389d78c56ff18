//! Rules of single fields that types alone cannot say, shared by the task types' `check`:
//! absolute and plainly spelled paths, fields that exclude each other, regular expressions
//! that compile, files of the config that exist.

use crate::config::ConfigDir;
use crate::diagnostics::Diagnostic;
use crate::model::Spanned;
use crate::model::apply::State;

pub fn absolute(path: &Spanned<String>, field: &str, found: &mut Vec<Diagnostic>) {
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
pub fn normalized(path: &Spanned<String>, field: &str, shown: &str, found: &mut Vec<Diagnostic>) {
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
pub fn absolute_target(src: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    if src.value.starts_with('/') {
        absolute(src, "src", found);
    }
}

pub fn regex(pattern: Option<&Spanned<String>>, found: &mut Vec<Diagnostic>) {
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
pub fn anchor(pattern: Option<&Spanned<String>>, keyword: &str, found: &mut Vec<Diagnostic>) {
    if pattern.is_some_and(|p| p.value != keyword) {
        regex(pattern, found);
    }
}

pub fn exclusive(fields: &[(&str, Option<&Spanned<String>>)], found: &mut Vec<Diagnostic>) {
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

pub fn not_when_absent(
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
pub fn config_file(
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

/// `insert_after` (a regular expression or `EOF`) and `insert_before` (one or `BOF`), not both.
pub fn insertion(
    after: &Option<Spanned<String>>,
    before: &Option<Spanned<String>>,
    found: &mut Vec<Diagnostic>,
) {
    anchor(after.as_ref(), "EOF", found);
    anchor(before.as_ref(), "BOF", found);
    exclusive(
        &[
            ("insert_after", after.as_ref()),
            ("insert_before", before.as_ref()),
        ],
        found,
    );
}
