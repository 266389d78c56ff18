//! `lineinfile`: one line present (replacing the last line `regexp` matches, else inserted
//! after/before an anchor) or absent, with Ansible's semantics. The whole new content is
//! computed here, at plan time.

use regex::Regex;

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::{absolute, insertion, regex};
use super::files::{self, FileType, WantContext, Wanted, attributes, refuse_symlink, regular_file};
use super::fs_state::{EntryKind, FsState, Observed};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of a file: present (replacing the last line `regexp` matches) or absent.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInFileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// The line (required with `state: present`).
    pub line: Option<Spanned<String>>,
    /// A regular expression: with `present` the last matching line is replaced, with `absent`
    /// every matching line is removed.
    pub regexp: Option<Spanned<String>>,
    #[serde(default)]
    pub state: State,
    /// Insert after the last line matching this regular expression, or `EOF` (default).
    pub insert_after: Option<Spanned<String>>,
    /// Insert before the last line matching this regular expression, or `BOF`.
    pub insert_before: Option<Spanned<String>>,
    /// Create the file when it does not exist (default false: the task fails instead).
    #[serde(default)]
    pub create: bool,
    /// A command run on the new content before it replaces the file: `%s` is the path of a
    /// temporary copy (split into words like a `command`'s `cmd`, never run by a shell), e.g.
    /// `sshd -t -f %s`. When it does not exit 0 the old file is kept and the task fails with
    /// the command's output. Runs only when the content changes.
    pub validate: Option<Spanned<String>>,
    /// Before new content replaces an existing file, keep the old one as
    /// `<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (UTC; Ansible's naming). Only when the content
    /// changes.
    #[serde(default)]
    pub backup: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

crate::model::apply::attributes!(LineInFileTask);

impl Resource for LineInFileTask {
    const SECRET_FIELDS: &'static [&'static str] = &["line"];

    /// A part of the file: other edits of it share the file, in the order written.
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Edits(None))
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.path.value, Some(self))
    }

    /// `lineinfile:<path>:<regexp, else line>`.
    fn default_id(&self) -> String {
        let distinct = [&self.regexp, &self.line]
            .into_iter()
            .find_map(|v| v.as_ref().filter(|v| !v.sensitive));
        files::edit_id("lineinfile", &self.path.value, distinct)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.path, "path", found);
        insertion(&self.insert_after, &self.insert_before, found);
        regex(self.regexp.as_ref(), found);
        if self.state == State::Present && self.line.is_none() {
            found.push(
                Diagnostic::error("`line` is required with `state: present`")
                    .at(self.path.span)
                    .help("add `line: …`, or `state: absent` to remove matching lines"),
            );
        }
        if self.state == State::Absent && self.line.is_none() && self.regexp.is_none() {
            found.push(
                Diagnostic::error(
                    "`state: absent` needs `regexp` or `line` to know what to remove",
                )
                .at(self.path.span)
                .help("add `regexp: …` matching the lines to remove"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.line.as_ref().is_some_and(|v| v.sensitive)
    }

    files::member!();
}

impl FileType for LineInFileTask {
    fn write_checks(&self) -> files::write_checks::WriteChecks<'_> {
        files::write_checks::WriteChecks {
            validate: self.validate.as_ref(),
            backup: self.backup,
        }
    }

    fn path(&self) -> &Spanned<String> {
        &self.path
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        want(self, observed)
    }
}

/// Lines of a text file, and where a new line goes.
pub struct Lines {
    pub lines: Vec<String>,
    /// The file ends its lines with CRLF: edits keep it that way.
    pub crlf: bool,
}

/// Where to insert when nothing matches.
pub enum Anchor {
    Start,
    End,
    After(Regex),
    Before(Regex),
}

impl Lines {
    pub fn parse(content: &[u8], path: &str) -> Result<Lines, String> {
        let text = std::str::from_utf8(content)
            .map_err(|_| format!("{path} is not a text file (not UTF-8)"))?;
        Ok(Lines {
            lines: text.lines().map(str::to_owned).collect(),
            crlf: text.contains("\r\n"),
        })
    }

    /// Joined with a line ending after every line (files end with one), CRLF when the file
    /// used CRLF.
    pub fn render(&self) -> Vec<u8> {
        let ending = if self.crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line);
            out.push_str(ending);
        }
        out.into_bytes()
    }

    pub fn last_match(&self, re: &Regex) -> Option<usize> {
        self.lines.iter().rposition(|l| re.is_match(l))
    }

    /// The index a new line goes to: after the last line matching an `After` anchor, before
    /// the last matching a `Before` anchor; at the end when the anchor matches nothing.
    pub fn insertion_point(&self, anchor: &Anchor) -> usize {
        match anchor {
            Anchor::Start => 0,
            Anchor::End => self.lines.len(),
            Anchor::After(re) => self.last_match(re).map_or(self.lines.len(), |i| i + 1),
            Anchor::Before(re) => self.last_match(re).unwrap_or(self.lines.len()),
        }
    }
}

pub fn anchor(after: Option<&str>, before: Option<&str>) -> Result<Anchor, String> {
    let compile = |p: &str| Regex::new(p).map_err(|e| format!("invalid regular expression: {e}"));
    Ok(match (after, before) {
        (Some("EOF"), _) | (None, None) => Anchor::End,
        (Some(p), _) => Anchor::After(compile(p)?),
        (None, Some("BOF")) => Anchor::Start,
        (None, Some(p)) => Anchor::Before(compile(p)?),
    })
}

/// The current lines: the file's, or none when it is missing and may be created.
pub fn current_lines(observed: &Observed, path: &str, create: bool) -> Result<Lines, String> {
    match (observed.state.state, &observed.content) {
        (EntryKind::File, Some(content)) => Lines::parse(content, path),
        (EntryKind::File, None) => Err(format!(
            "{path} is larger than {} MiB, the most driftless reads of one file to edit its lines",
            crate::fsutil::MAX_FILE_BYTES >> 20
        )),
        (EntryKind::Absent, _) if create => Ok(Lines {
            lines: Vec::new(),
            crlf: false,
        }),
        (EntryKind::Absent, _) => Err(format!(
            "{path} does not exist; set `create: true` to create it"
        )),
        (other, _) => Err(format!(
            "{path} is not a regular file (it is a {})",
            format!("{other:?}").to_lowercase()
        )),
    }
}

fn want(task: &LineInFileTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    refuse_symlink(observed, path)?;
    let regexp = task
        .regexp
        .as_ref()
        .map(|r| Regex::new(&r.value).map_err(|e| format!("invalid regular expression: {e}")))
        .transpose()?;
    let line = task.line.as_ref().map(|l| l.value.as_str());
    let sensitive = task.line.as_ref().is_some_and(|l| l.sensitive);
    if task.state == State::Absent && observed.state.state == EntryKind::Absent {
        // Nothing to remove from a file that is not there.
        return Ok(Wanted {
            state: FsState::absent(path),
            sensitive,
        });
    }
    let mut lines = current_lines(observed, path, task.create)?;
    match task.state {
        State::Present => {
            let line = line.ok_or_else(|| format!("lineinfile {path} has no `line`"))?;
            let matched = regexp.as_ref().and_then(|re| lines.last_match(re));
            match matched {
                Some(i) => lines.lines[i] = line.to_owned(),
                None if lines.lines.iter().any(|l| l == line) => {}
                None => {
                    let anchor = anchor(
                        task.insert_after.as_ref().map(|a| a.value.as_str()),
                        task.insert_before.as_ref().map(|b| b.value.as_str()),
                    )?;
                    let at = lines.insertion_point(&anchor);
                    lines.lines.insert(at, line.to_owned());
                }
            }
        }
        State::Absent => match (&regexp, line) {
            (Some(re), _) => lines.lines.retain(|l| !re.is_match(l)),
            (None, Some(line)) => lines.lines.retain(|l| l != line),
            (None, None) => {}
        },
    }
    edited_file(path, &lines, observed, task, sensitive)
}

/// The wanted state of a file after line edits. Unchanged lines keep the file byte for byte
/// (a missing final newline stays missing).
pub fn edited_file(
    path: &str,
    lines: &Lines,
    observed: &Observed,
    task: &dyn Attributes,
    sensitive: bool,
) -> Result<Wanted, String> {
    let content = lines.render();
    let mut state = regular_file(path, Some(&content), observed);
    if observed.state.state == EntryKind::File && lines_equal(observed, &content) {
        state.sha256 = observed.state.sha256.clone();
        state.size = observed.state.size;
        state.content = None;
        state.content_base64 = None;
    }
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted { state, sensitive })
}

/// Whether the file's lines are these, ignoring only a missing final newline.
fn lines_equal(observed: &Observed, rendered: &[u8]) -> bool {
    observed.content.as_deref().is_some_and(|c| {
        let mut c = c.to_vec();
        if !c.is_empty() && !c.ends_with(b"\n") {
            if rendered.ends_with(b"\r\n") {
                c.push(b'\r');
            }
            c.push(b'\n');
        }
        c == rendered
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FsState;
    use crate::model::Spanned;

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::unplaced(s.to_owned())
    }

    fn task(line: Option<&str>, regexp: Option<&str>) -> LineInFileTask {
        LineInFileTask {
            path: spanned("/etc/x"),
            line: line.map(spanned),
            regexp: regexp.map(spanned),
            state: State::Present,
            insert_after: None,
            insert_before: None,
            create: true,
            validate: None,
            backup: false,
            mode: None,
            owner: None,
            group: None,
        }
    }

    fn file(content: &str) -> Observed {
        let mut state = FsState::absent("/etc/x");
        state.state = EntryKind::File;
        state.set_mode(0o644);
        Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        }
    }

    fn result(task: &LineInFileTask, content: &str) -> String {
        let wanted = want(task, &file(content)).expect("want");
        wanted.state.content.unwrap_or_else(|| content.to_owned())
    }

    #[test]
    fn regexp_replaces_the_last_match() {
        let t = task(Some("Port 2222"), Some("^#?Port "));
        assert_eq!(
            result(&t, "Port 22\nX\n#Port 23\n"),
            "Port 22\nX\nPort 2222\n"
        );
    }

    #[test]
    fn line_is_appended_when_nothing_matches() {
        let t = task(Some("b"), None);
        assert_eq!(result(&t, "a\n"), "a\nb\n");
        assert_eq!(result(&t, "a\nb\n"), "a\nb\n");
    }

    #[test]
    fn insert_after_and_before_anchor_on_the_last_match() {
        let mut t = task(Some("new"), None);
        t.insert_after = Some(spanned("^\\[main\\]"));
        assert_eq!(
            result(&t, "[main]\na\n[main]\nb\n"),
            "[main]\na\n[main]\nnew\nb\n"
        );
        t.insert_after = None;
        t.insert_before = Some(spanned("BOF"));
        assert_eq!(result(&t, "a\n"), "new\na\n");
    }

    #[test]
    fn absent_removes_every_match() {
        let mut t = task(None, Some("^tmp"));
        t.state = State::Absent;
        assert_eq!(result(&t, "tmp1\nkeep\ntmp2\n"), "keep\n");
    }

    #[test]
    fn crlf_line_endings_are_kept() {
        let t = task(Some("b"), None);
        assert_eq!(result(&t, "a\r\n"), "a\r\nb\r\n");
    }

    #[test]
    fn unchanged_file_without_final_newline_is_left_alone() {
        let t = task(Some("a"), None);
        let wanted = want(&t, &file("a")).expect("want");
        assert!(wanted.state.content.is_none());
    }
}
