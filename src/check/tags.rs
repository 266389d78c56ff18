//! `--tags` / `--skip-tags`: which checked tasks a run plans, with Ansible's meaning of the
//! special tags. A task left out is recorded as skipped, with the reason, like a `when: false`
//! one; `check` still type-checks it, so a CI `check` covers every task whatever a run selects.

use std::collections::HashSet;

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::model::meta::TagSelection;

/// A task with this tag is planned whatever `--tags` says (unless `--skip-tags` names it).
pub const ALWAYS: &str = "always";
/// A task with this tag is planned only when `--tags` names one of its tags.
pub const NEVER: &str = "never";
/// `--tags all`: every task but `never` ones (what no `--tags` means).
const ALL: &str = "all";
/// `--tags tagged` / `untagged`: the tasks with at least one tag / with none.
const TAGGED: &str = "tagged";
const UNTAGGED: &str = "untagged";

/// Why the selection leaves out a task with these tags; `None` when it is planned.
pub fn left_out(selection: &TagSelection, tags: &[String]) -> Option<String> {
    let has = |tag: &str| tags.iter().any(|t| t == tag);
    if let Some(tag) = selection.skip_tags.iter().find(|s| matches(s, tags)) {
        return Some(format!("skipped by --skip-tags {tag}"));
    }
    if selection.tags.is_empty() {
        return has(NEVER).then(|| "tagged `never`: planned only when --tags names it".to_owned());
    }
    let named = selection
        .tags
        .iter()
        .any(|s| (s != ALL && matches(s, tags)) || (s == ALL && !has(NEVER)));
    if named || has(ALWAYS) {
        return None;
    }
    Some(format!(
        "not selected by --tags {}",
        selection.tags.join(",")
    ))
}

/// Whether one `--tags`/`--skip-tags` value names a task with these tags.
fn matches(selector: &str, tags: &[String]) -> bool {
    match selector {
        ALL => true,
        TAGGED => !tags.is_empty(),
        UNTAGGED => tags.is_empty(),
        _ => tags.iter().any(|t| t == selector),
    }
}

/// A warning for each `--tags`/`--skip-tags` value no task has: a typo would otherwise select
/// nothing, silently.
pub fn unused_selectors<'a>(
    selection: &TagSelection,
    all_tags: impl Iterator<Item = &'a str>,
) -> Vec<Diagnostic> {
    let known: HashSet<&str> = all_tags.collect();
    let special = [ALL, TAGGED, UNTAGGED, ALWAYS, NEVER];
    let mut out = Vec::new();
    for (option, values) in [
        ("--tags", &selection.tags),
        ("--skip-tags", &selection.skip_tags),
    ] {
        for value in values {
            if special.contains(&value.as_str()) || known.contains(value.as_str()) {
                continue;
            }
            let mut candidates: Vec<&str> = known.iter().copied().collect();
            candidates.sort_unstable();
            out.push(
                Diagnostic::warning(format!("{option} {value}: no task has the tag `{value}`"))
                    .help(did_you_mean(value, candidates).unwrap_or_else(|| {
                        "tags are set with `tags:` on tasks and blocks".to_owned()
                    })),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(tags: &[&str], skip: &[&str]) -> TagSelection {
        TagSelection {
            tags: tags.iter().map(|s| s.to_string()).collect(),
            skip_tags: skip.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn planned(selection: &TagSelection, tags: &[&str]) -> bool {
        let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
        left_out(selection, &tags).is_none()
    }

    #[test]
    fn no_selection_plans_all_but_never() {
        let none = selection(&[], &[]);
        assert!(planned(&none, &[]));
        assert!(planned(&none, &["web"]));
        assert!(planned(&none, &["always"]));
        assert!(!planned(&none, &["never", "debug"]));
    }

    #[test]
    fn tags_select_and_always_stays() {
        let web = selection(&["web"], &[]);
        assert!(planned(&web, &["web", "nginx"]));
        assert!(!planned(&web, &["db"]));
        assert!(!planned(&web, &[]));
        assert!(planned(&web, &["always"]));
        let debug = selection(&["debug"], &[]);
        assert!(planned(&debug, &["never", "debug"]));
        assert!(planned(&selection(&["never"], &[]), &["never", "debug"]));
        assert!(!planned(&selection(&["all"], &[]), &["never", "debug"]));
        assert!(planned(&selection(&["all"], &[]), &["db"]));
        assert!(planned(&selection(&["tagged"], &[]), &["db"]));
        assert!(!planned(&selection(&["tagged"], &[]), &[]));
        assert!(planned(&selection(&["untagged"], &[]), &[]));
    }

    #[test]
    fn skip_tags_win() {
        assert!(!planned(
            &selection(&["web"], &["nginx"]),
            &["web", "nginx"]
        ));
        assert!(!planned(&selection(&[], &["always"]), &["always"]));
        assert!(!planned(&selection(&[], &["db"]), &["always", "db"]));
        assert!(planned(&selection(&[], &["db"]), &["web"]));
    }
}
