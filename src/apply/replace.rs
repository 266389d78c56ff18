//! `replace`: every match of a regular expression in a file replaced, with Ansible's
//! semantics (`ansible.builtin.replace`): the expression is searched in multi-line mode (`^`
//! and `$` at every line), `after`/`before` bound the part of the file searched, and the
//! replacement names groups as Python does (`\1`, `\g<1>`, `\g<name>`). The whole new content
//! is computed here, at plan time, so the plan shows the diff.

use regex::Regex;

use super::contract::{CheckContext, Claim, Hold, Requirement, Resource};
use super::field_rules::{absolute, regex};
use super::files::{self, FileType, WantContext, Wanted, attributes, refuse_symlink, regular_file};
use super::fs_state::{EntryKind, Observed};
use crate::diagnostics::Diagnostic;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every match of `regexp` in a file replaced by `replace`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTask {
    /// Absolute path of the file; it must exist.
    pub path: Spanned<String>,
    /// The regular expression (Rust `regex` syntax, which reads like Python's for everyday
    /// patterns), searched in multi-line mode: `^` and `$` match at each line.
    pub regexp: Spanned<String>,
    /// What each match becomes (default: nothing, the match is removed). `\1`, `\g<1>` and
    /// `\g<name>` are the groups of the match, `\n` and `\t` a newline and a tab, as in
    /// Python's `re.sub`.
    pub replace: Option<Spanned<String>>,
    /// Only the text after the first match of this regular expression is searched (`.`
    /// matches newlines here).
    pub after: Option<Spanned<String>>,
    /// Only the text before this regular expression's match is searched (with `after`: its
    /// first match after `after`; alone: its last match, as Ansible's greedy `(.*)before`).
    pub before: Option<Spanned<String>>,
    /// A command run on the new content before it replaces the file: `%s` is the path of a
    /// temporary copy (split into words like a `command`'s `cmd`, never run by a shell), e.g.
    /// `sshd -t -f %s`. When it does not exit 0 the old file is kept and the task fails with
    /// the command's output. Runs only when the content changes.
    pub validate: Option<Spanned<String>>,
    /// Before new content replaces the file, keep the old one as
    /// `<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (UTC; Ansible's naming). Only when the content
    /// changes.
    #[serde(default)]
    pub backup: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

crate::model::apply::attributes!(ReplaceTask);

impl Resource for ReplaceTask {
    const SECRET_FIELDS: &'static [&'static str] = &["replace"];

    /// A part of the file: other edits of it share the file, in the order written.
    fn claims(&self) -> Vec<Claim> {
        files::claims(&self.path, Hold::Edits(None))
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(&self.path.value, Some(self))
    }

    /// `replace:<path>:<regexp>`.
    fn default_id(&self) -> String {
        files::edit_id("replace", &self.path.value, Some(&self.regexp))
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        files::write_checks::check(&self.write_checks(), found);
        absolute(&self.path, "path", found);
        regex(Some(&self.regexp), found);
        regex(self.after.as_ref(), found);
        regex(self.before.as_ref(), found);
        if let (Some(replace), Ok(re)) = (&self.replace, Regex::new(&self.regexp.value))
            && let Err(why) = replacement(&replace.value, &re)
        {
            let why = if replace.sensitive {
                "it names a group the expression does not have".to_owned()
            } else {
                why
            };
            found.push(
                Diagnostic::error(format!(
                    "`replace` cannot be used with this `regexp`: {why}"
                ))
                .at(replace.span)
                .help(r"name a group of `regexp` as `\1` or `\g<name>`; write a backslash as `\\`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.replace.as_ref().is_some_and(|v| v.sensitive)
    }

    files::member!();
}

impl FileType for ReplaceTask {
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

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))
}

fn want(task: &ReplaceTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    refuse_symlink(observed, path)?;
    let text = match (observed.state.state, &observed.content) {
        (EntryKind::File, Some(content)) => std::str::from_utf8(content)
            .map_err(|_| format!("{path} is not a text file (not UTF-8)"))?,
        (EntryKind::File, None) => {
            return Err(format!(
                "{path} is larger than {} MiB, the most driftless reads of one file to edit it",
                crate::fsutil::MAX_FILE_BYTES >> 20
            ));
        }
        (EntryKind::Absent, _) => return Err(format!("{path} does not exist")),
        (other, _) => {
            return Err(format!(
                "{path} is not a regular file (it is a {})",
                format!("{other:?}").to_lowercase()
            ));
        }
    };
    let regexp = compile(&format!("(?m){}", task.regexp.value))?;
    let template = replacement(
        task.replace.as_ref().map_or("", |r| r.value.as_str()),
        &regexp,
    )?;
    let bounds = Bounds::new(
        task.after.as_ref().map(|a| a.value.as_str()),
        task.before.as_ref().map(|b| b.value.as_str()),
    )?;
    let content = match bounds.section(text) {
        Some(range) => {
            let replaced = regexp.replace_all(&text[range.clone()], template.as_str());
            format!("{}{replaced}{}", &text[..range.start], &text[range.end..])
        }
        // As Ansible: bounds that match nothing leave the file as it is.
        None => text.to_owned(),
    };
    // Unchanged text keeps the file as it is (no content in the plan for a no-op).
    let new = (content != text).then_some(content.as_bytes());
    let mut state = regular_file(path, new, observed);
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted {
        state,
        sensitive: task.carries_secret(None),
    })
}

/// The part of the file `after`/`before` leave to search, found as Ansible finds it: one
/// search of `after(.*?)before`, `after(.*)` or `(.*)before` with `.` matching newlines.
struct Bounds {
    section: Option<(Regex, usize)>,
}

impl Bounds {
    fn new(after: Option<&str>, before: Option<&str>) -> Result<Bounds, String> {
        // Each bound is a whole expression (its own `|` stays inside it); the section is the
        // group after `after`'s own groups.
        let groups = |p: &str| compile(p).map(|re| re.captures_len() - 1);
        let section = match (after, before) {
            (Some(a), Some(b)) => Some((format!("(?s)(?:{a})(.*?)(?:{b})"), groups(a)? + 1)),
            (Some(a), None) => Some((format!("(?s)(?:{a})(.*)"), groups(a)? + 1)),
            (None, Some(b)) => Some((format!("(?s)(.*)(?:{b})"), 1)),
            (None, None) => None,
        };
        let section = section
            .map(|(pattern, group)| compile(&pattern).map(|re| (re, group)))
            .transpose()?;
        Ok(Bounds { section })
    }

    /// The byte range searched: the whole text without bounds, none when the bounds do not
    /// match.
    fn section(&self, text: &str) -> Option<std::ops::Range<usize>> {
        match &self.section {
            None => Some(0..text.len()),
            Some((re, group)) => re
                .captures(text)
                .and_then(|c| c.get(*group))
                .map(|m| m.range()),
        }
    }
}

/// A Python `re.sub` replacement as the `regex` crate writes it: `\1`, `\g<1>` and
/// `\g<name>` become `${1}` and `${name}`, Python's escapes (`\n`, `\t`, `\\`, octal `\0`…)
/// their characters, and a `$` is doubled so it stays literal. A group the expression does not
/// have is an error, as in Python.
pub fn replacement(python: &str, re: &Regex) -> Result<String, String> {
    let groups = re.captures_len();
    let names: Vec<&str> = re.capture_names().flatten().collect();
    let group = |name: &str| -> Result<String, String> {
        let known = match name.parse::<usize>() {
            Ok(n) => n < groups,
            Err(_) => names.contains(&name),
        };
        if known {
            Ok(format!("${{{name}}}"))
        } else {
            Err(format!("the expression has no group `{name}`"))
        }
    };
    let mut out = String::with_capacity(python.len());
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err("it ends with a lone backslash".to_owned());
                };
                match next {
                    'g' => {
                        if chars.next() != Some('<') {
                            return Err(r"`\g` must be followed by `<group>`".to_owned());
                        }
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&group(&name)?);
                    }
                    '0' => {
                        // Octal, as Python: `\0` then up to two more octal digits.
                        let mut value = 0u32;
                        for _ in 0..2 {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    value = value * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        out.extend(char::from_u32(value));
                    }
                    '1'..='9' => {
                        let mut digits = next.to_string();
                        if let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                            digits.push(*d);
                            chars.next();
                        }
                        out.push_str(&group(&digits)?);
                    }
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    '\\' => out.push('\\'),
                    letter if letter.is_ascii_alphabetic() => {
                        return Err(format!(r"`\{letter}` is not an escape Python knows"));
                    }
                    // Python keeps other escapes as they are (`\&` stays `\&`).
                    other => {
                        out.push('\\');
                        if other == '$' {
                            out.push('$');
                        }
                        out.push(other);
                    }
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FsState;

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::unplaced(s.to_owned())
    }

    fn task(regexp: &str, replace: &str) -> ReplaceTask {
        ReplaceTask {
            path: spanned("/etc/x"),
            regexp: spanned(regexp),
            replace: Some(spanned(replace)),
            after: None,
            before: None,
            validate: None,
            backup: false,
            mode: None,
            owner: None,
            group: None,
        }
    }

    fn result(task: &ReplaceTask, content: &str) -> String {
        let mut state = FsState::absent("/etc/x");
        state.state = EntryKind::File;
        state.set_mode(0o644);
        let observed = Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        };
        want(task, &observed)
            .expect("want")
            .state
            .content
            .unwrap_or_else(|| content.to_owned())
    }

    #[test]
    fn every_match_is_replaced_in_multiline_mode() {
        let t = task(r"^(\w+)=old$", r"\1=new");
        assert_eq!(
            result(&t, "a=old\nb=old\nc=keep\n"),
            "a=new\nb=new\nc=keep\n"
        );
    }

    #[test]
    fn python_group_references_and_escapes_translate() {
        let re = Regex::new(r"(?P<k>\w+)=(\d+)").unwrap();
        assert_eq!(replacement(r"\g<k>:\2$\n", &re).unwrap(), "${k}:${2}$$\n");
        assert_eq!(replacement(r"\g<0>\\", &re).unwrap(), "${0}\\");
        assert_eq!(replacement(r"a\&b", &re).unwrap(), r"a\&b");
        assert!(replacement(r"\3", &re).is_err());
        assert!(replacement(r"\g<nope>", &re).is_err());
        assert!(replacement(r"\q", &re).is_err());
        let t = task(r"(\d)(\d)", r"\2\1$1");
        assert_eq!(result(&t, "12 34\n"), "21$1 43$1\n");
    }

    #[test]
    fn after_and_before_bound_the_search_as_ansible_does() {
        let text = "x=1\n[a]\nx=2\n[b]\nx=3\n[b]\nx=4\n";
        let mut t = task("^x=", "y=");
        t.after = Some(spanned(r"\[a\]"));
        assert_eq!(result(&t, text), "x=1\n[a]\ny=2\n[b]\ny=3\n[b]\ny=4\n");
        t.before = Some(spanned(r"\[b\]"));
        assert_eq!(result(&t, text), "x=1\n[a]\ny=2\n[b]\nx=3\n[b]\nx=4\n");
        // `before` alone: up to its last match (Ansible's greedy `(.*)before`).
        t.after = None;
        assert_eq!(result(&t, text), "y=1\n[a]\ny=2\n[b]\ny=3\n[b]\nx=4\n");
        // Bounds that match nothing: the file is left as it is.
        t.before = Some(spanned("nowhere"));
        assert_eq!(result(&t, text), text);
    }
}
