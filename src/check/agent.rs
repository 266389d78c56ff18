//! `settings.agent`: the values the types accept but the agent could not run with.

use crate::diagnostics::Diagnostic;
use crate::model::Spanned;
use crate::model::settings::{AgentSettings, GitSource};
use crate::model::values::Duration;

/// The agent's interval when `settings.agent.interval` is not set.
pub const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30 * 60);

pub fn check_agent(agent: &AgentSettings, found: &mut Vec<Diagnostic>) {
    positive(agent.interval.as_ref(), "interval", found);
    let interval = agent
        .interval
        .as_ref()
        .map_or(DEFAULT_INTERVAL, |i| i.value.0);
    if let Some(splay) = &agent.splay
        && splay.value.0 > interval
    {
        found.push(
            Diagnostic::error(format!(
                "`splay` ({}) is longer than the interval ({})",
                splay.value,
                Duration(interval)
            ))
            .at(splay.span)
            .help(
                "a splay spreads the cycles of a fleet inside one interval: at most the interval",
            ),
        );
    }
    if let Some(source) = &agent.source {
        check_git_source(&source.git, found);
    }
}

fn check_git_source(git: &GitSource, found: &mut Vec<Diagnostic>) {
    if let Some(why) = url_problem(&git.url.value) {
        found.push(Diagnostic::error(why).at(git.url.span).help(
            "e.g. `https://git.example.com/fleet.git`, `git@git.example.com:fleet.git` or an \
             absolute path; credentials go into git's credential helper or an SSH key",
        ));
    }
    positive(git.interval.as_ref(), "interval", found);
    for name in git.branch.iter().chain(&git.preview_refs) {
        if let Some(why) = ref_problem(&name.value) {
            found.push(
                Diagnostic::error(format!("`{}` is not a Git ref name: {why}", name.value))
                    .at(name.span)
                    .help("a branch, e.g. `main`, or a full ref, e.g. `refs/pull/7/head`"),
            );
        }
    }
}

fn positive(value: Option<&Spanned<Duration>>, field: &str, found: &mut Vec<Diagnostic>) {
    if let Some(v) = value
        && v.value.0.is_zero()
    {
        found.push(
            Diagnostic::error(format!("`{field}` must be more than zero"))
                .at(v.span)
                .help("e.g. `30m` or `1m`"),
        );
    }
}

/// Why `url` cannot be given to `git clone` safely, if it cannot.
fn url_problem(url: &str) -> Option<String> {
    if url.trim().is_empty() {
        return Some("the repository `url` is empty".to_owned());
    }
    if url.starts_with('-') {
        // git would read it as an option.
        return Some("a repository `url` cannot start with `-`".to_owned());
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("the repository `url` holds spaces or control characters".to_owned());
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Some(
                "the repository `url` holds a password: it would be written into every plan \
                 and report"
                    .to_owned(),
            );
        }
    }
    None
}

/// Why `name` is not a ref git accepts (`git check-ref-format`'s rules), if it is not.
pub fn ref_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.starts_with('-') {
        return Some("it starts with `-`");
    }
    if name.chars().any(|c| {
        c.is_control() || c == ' ' || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Some("it holds a space, a control character or one of ~ ^ : ? * [ \\");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") || name == "@" {
        return Some("it holds `..`, `@{` or `//`, or is `@`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return Some("it starts or ends with `/`, or ends with `.`");
    }
    if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return Some("a part of it starts with `.` or ends with `.lock`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_follow_git() {
        for good in ["main", "release/1.2", "refs/pull/7/head", "feature-x"] {
            assert_eq!(ref_problem(good), None, "{good}");
        }
        for bad in [
            "", "-x", "a b", "a..b", "a~1", "x.lock", "a/.b", "/a", "a/", "a@{1}", "a:b",
        ] {
            assert!(ref_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn urls_with_options_or_passwords_are_refused() {
        assert_eq!(url_problem("https://git.example.com/fleet.git"), None);
        assert_eq!(url_problem("git@git.example.com:fleet.git"), None);
        assert_eq!(url_problem("https://deploy@git.example.com/f.git"), None);
        assert!(url_problem("--upload-pack=touch /tmp/x").is_some());
        assert!(url_problem("https://u:secret@git.example.com/f.git").is_some());
        assert!(url_problem(" ").is_some());
    }
}
