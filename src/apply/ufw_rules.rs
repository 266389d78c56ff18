//! The ufw family: `ufw` tasks observed and changed through the `ufw` command (argv only).
//! Observing is read-only: whether a rule is there is what `ufw --dry-run RULE` says (ufw
//! compares rules itself: "Skipping adding existing rule"), the rules carrying a comment are
//! read from `ufw show added`, a default policy from ufw's defaults file
//! (`/etc/default/ufw`), whether ufw is on from `ufw status`. A node's steps are `ufw RULE`
//! (add rule), `ufw delete RULE` (delete rule, a rule replaced by one with the same comment
//! too), `ufw default POLICY DIRECTION` and `ufw --force enable` / `ufw disable`; see
//! [`super::firewall`] for what the two firewall families share.

use serde::{Deserialize, Serialize};

use super::contract::PlanContext;
use super::firewall::{Firewall, FirewallState, Step, StepKind, show_argv};
use super::ufw::{UfwConcern, UfwState as WantedState, UfwTask};
use crate::apply::ApplySpec;
use crate::model::ApplyTask;
use crate::printable::escape;
use crate::process::{self, Invocation};

/// The family's one instance.
pub static UFW: Firewall<UfwState> = Firewall::new();

/// Where ufw keeps its default policies.
const DEFAULTS_FILE: &str = "/etc/default/ufw";

/// A `ufw` node's `before` (observed) or `after` (wanted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UfwState {
    /// The rule (rule tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<UfwRule>,
    /// `before`: for a rule to keep, the rules with its comment unless the rule alone has it
    /// (all deleted, then the rule added), as `ufw show added` writes them (after `ufw`).
    /// Never in `after`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_rules: Vec<Vec<String>>,
    /// A default policy (default tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<UfwDefault>,
    /// Whether ufw is enabled (state tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A rule: ufw's arguments for it, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UfwRule {
    pub args: Vec<String>,
    pub present: bool,
}

impl UfwRule {
    fn comment(&self) -> Option<&str> {
        comment_of(&self.args)
    }
}

fn comment_of(args: &[String]) -> Option<&str> {
    let at = args.iter().position(|a| a == "comment")?;
    args.get(at + 1).map(String::as_str)
}

/// A default policy of one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UfwDefault {
    /// `incoming`, `outgoing` or `routed`.
    pub direction: String,
    /// `allow`, `deny` or `reject`.
    pub policy: String,
}

fn ufw(args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["ufw"];
    argv.extend_from_slice(args);
    process::output(&Invocation::new(&argv)).map_err(|e| e.message)
}

/// One line of `ufw show added` into words: words are separated by spaces; a comment is in
/// single quotes.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted
                .find('\'')
                .ok_or_else(|| format!("unfinished quote in `{}`", escape(line)))?;
            out.push(quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    Ok(out)
}

/// The rules of `ufw show added`, each as its arguments after `ufw`.
fn added_rules(text: &str) -> Result<Vec<Vec<String>>, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("ufw "))
        .map(words)
        .collect()
}

/// Whether ufw has the rule: `ufw --dry-run RULE` skips a rule it has ("Skipping adding
/// existing rule", once per IP version it applies to) and prints the rules it would write
/// ("Rules updated") for one it lacks or has with another comment. `whole`: the rule is there
/// for every IP version (a rule to keep); else for some (a rule to delete).
fn rule_present(args: &[String], whole: bool) -> Result<bool, String> {
    let mut argv: Vec<&str> = vec!["--dry-run"];
    argv.extend(args.iter().map(String::as_str));
    let out = ufw(&argv)?;
    let skipped = out
        .lines()
        .any(|l| l.starts_with("Skipping adding existing rule"));
    let updated = out.lines().any(|l| l.starts_with("Rules updated"));
    Ok(skipped && (!whole || !updated))
}

/// ufw's word for a policy of its defaults file.
fn policy_word(value: &str) -> Option<&'static str> {
    match value {
        "ACCEPT" => Some("allow"),
        "DROP" => Some("deny"),
        "REJECT" => Some("reject"),
        _ => None,
    }
}

/// The default policy of a direction, from ufw's defaults file.
fn default_policy(direction: &str) -> Result<String, String> {
    let key = match direction {
        "incoming" => "DEFAULT_INPUT_POLICY",
        "outgoing" => "DEFAULT_OUTPUT_POLICY",
        _ => "DEFAULT_FORWARD_POLICY",
    };
    let bytes = crate::fsutil::read_regular_file(std::path::Path::new(DEFAULTS_FILE))
        .map_err(|e| format!("cannot read {DEFAULTS_FILE}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let value = text
        .lines()
        .find_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"'))
        .ok_or_else(|| format!("{DEFAULTS_FILE} sets no {key}"))?;
    policy_word(value).map(str::to_owned).ok_or_else(|| {
        format!(
            "{DEFAULTS_FILE}: {key} is `{}`, not ACCEPT, DROP or REJECT",
            escape(value)
        )
    })
}

fn enabled_now() -> Result<bool, String> {
    let status = ufw(&["status"])?;
    match status.lines().next().map(str::trim) {
        Some("Status: active") => Ok(true),
        Some("Status: inactive") => Ok(false),
        other => Err(format!(
            "`ufw status` said `{}`, not whether ufw is active",
            escape(other.unwrap_or_default())
        )),
    }
}

impl UfwState {
    fn empty() -> UfwState {
        UfwState {
            rule: None,
            removed_rules: Vec::new(),
            default: None,
            enabled: None,
        }
    }

    fn wanted(task: &UfwTask) -> UfwState {
        let mut after = UfwState::empty();
        match task.concern() {
            UfwConcern::Rule => {
                after.rule = Some(UfwRule {
                    args: task.rule_args(),
                    present: !task.delete,
                })
            }
            UfwConcern::Default => {
                after.default = task.default.as_ref().map(|d| UfwDefault {
                    direction: task.default_direction().to_owned(),
                    policy: d.value.as_str().to_owned(),
                })
            }
            UfwConcern::State => {
                after.enabled = task.state.as_ref().map(|s| s.value == WantedState::Enabled)
            }
        }
        after
    }
}

impl FirewallState for UfwState {
    const WHOSE: &'static str = "a ufw node's";

    fn plan_task(task: &ApplyTask, _: &PlanContext<'_>) -> Result<(Self, Self), String> {
        let ApplySpec::Ufw(ufw_task) = &task.spec else {
            return Err(format!("`{}` is not a ufw task", task.spec.type_name()));
        };
        let after = UfwState::wanted(ufw_task);
        Ok((UfwState::observe(&after)?, after))
    }

    fn observe(after: &Self) -> Result<Self, String> {
        let mut before = UfwState::empty();
        if let Some(wanted) = &after.rule {
            let present = rule_present(&wanted.args, wanted.present)?;
            if let (Some(comment), true) = (wanted.comment(), wanted.present) {
                let same: Vec<Vec<String>> = added_rules(&ufw(&["show", "added"])?)?
                    .into_iter()
                    .filter(|rule| comment_of(rule) == Some(comment))
                    .collect();
                // The rule alone carries its comment: nothing to replace.
                if !(present && same.len() == 1) {
                    before.removed_rules = same;
                }
            }
            before.rule = Some(UfwRule {
                args: wanted.args.clone(),
                present,
            });
        }
        if let Some(wanted) = &after.default {
            before.default = Some(UfwDefault {
                direction: wanted.direction.clone(),
                policy: default_policy(&wanted.direction)?,
            });
        }
        if after.enabled.is_some() {
            before.enabled = Some(enabled_now()?);
        }
        Ok(before)
    }

    fn steps(before: &Self, after: &Self) -> Result<Vec<Step>, String> {
        if !after.removed_rules.is_empty() {
            return Err("`after` removes no rules: `removed_rules` is observed".to_owned());
        }
        let command = |args: &[&str], rest: &[String]| {
            let mut argv: Vec<String> = std::iter::once("ufw")
                .chain(args.iter().copied())
                .map(str::to_owned)
                .collect();
            argv.extend(rest.iter().cloned());
            argv
        };
        let mut steps: Vec<Step> = before
            .removed_rules
            .iter()
            .map(|rule| Step::new(StepKind::Delete, "delete rule", command(&["delete"], rule)))
            .collect();
        match (&before.rule, &after.rule) {
            (Some(was), Some(want)) if was.args == want.args => {
                let removed = was.present && !before.removed_rules.is_empty();
                if want.present && (!was.present || removed) {
                    steps.push(Step::new(
                        StepKind::Add,
                        "add rule",
                        command(&[], &want.args),
                    ));
                } else if !want.present && was.present {
                    steps.push(Step::new(
                        StepKind::Delete,
                        "delete rule",
                        command(&["delete"], &want.args),
                    ));
                }
            }
            (None, None) => {}
            _ => return Err("`before` and `after` are not of one rule".to_owned()),
        }
        if let Some(want) = &after.default
            && before.default.as_ref() != Some(want)
        {
            steps.push(Step::new(
                StepKind::Change,
                "set default policy",
                command(&["default", &want.policy, &want.direction], &[]),
            ));
        }
        match (before.enabled, after.enabled) {
            (Some(false), Some(true)) => steps.push(Step::new(
                StepKind::Change,
                "enable ufw",
                command(&["--force", "enable"], &[]),
            )),
            (Some(true), Some(false)) => steps.push(Step::new(
                StepKind::Change,
                "disable ufw",
                command(&["disable"], &[]),
            )),
            _ => {}
        }
        Ok(steps)
    }

    fn same_thing(before: &Self, after: &Self) -> bool {
        let rules = match (&before.rule, &after.rule) {
            (Some(b), Some(a)) => b.args == a.args,
            (None, None) => true,
            _ => false,
        };
        let defaults = match (&before.default, &after.default) {
            (Some(b), Some(a)) => b.direction == a.direction,
            (None, None) => true,
            _ => false,
        };
        rules && defaults && before.enabled.is_some() == after.enabled.is_some()
    }

    fn what(after: &Self) -> String {
        match (&after.rule, &after.default) {
            (Some(rule), _) => format!("ufw rule {}", show_argv(&rule.args)),
            (_, Some(default)) => format!("ufw default {} policy", escape(&default.direction)),
            _ => "ufw".to_owned(),
        }
    }

    fn details(before: &Self, after: &Self) -> Vec<String> {
        let mut lines = Vec::new();
        if let (Some(was), Some(want)) = (&before.default, &after.default) {
            lines.push(format!(
                "policy: {} → {}",
                escape(&was.policy),
                escape(&want.policy)
            ));
        }
        if let (Some(was), Some(want)) = (before.enabled, after.enabled) {
            let word = |on: bool| if on { "enabled" } else { "disabled" };
            lines.push(format!("ufw: {} → {}", word(was), word(want)));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_rules_are_read_with_their_quoted_comments() {
        let text = "Added user rules (see 'ufw status' for running firewall):\n\
                    ufw allow in on eth0 from 10.0.0.0/8 to any port 22 proto tcp comment 'ssh admins'\n\
                    ufw limit 2000:2100/tcp\n";
        let rules = added_rules(text).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(comment_of(&rules[0]), Some("ssh admins"));
        assert_eq!(rules[1], ["limit", "2000:2100/tcp"]);
        assert!(added_rules("ufw allow 22 comment 'open").is_err());
        assert_eq!(
            added_rules("Added user rules (see 'ufw status' …):\n(None)\n")
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn steps_follow_from_the_states() {
        let rule = |present| UfwRule {
            args: [
                "allow", "from", "any", "to", "any", "port", "22", "comment", "ssh",
            ]
            .map(str::to_owned)
            .to_vec(),
            present,
        };
        let mut before = UfwState::empty();
        let mut after = UfwState::empty();
        before.rule = Some(rule(false));
        after.rule = Some(rule(true));
        before.removed_rules = vec![vec!["allow".to_owned(), "2222".to_owned()]];
        let lines: Vec<String> = UfwState::steps(&before, &after)
            .unwrap()
            .iter()
            .map(Step::line)
            .collect();
        assert_eq!(
            lines,
            [
                "delete rule: ufw delete allow 2222",
                "add rule: ufw allow from any to any port 22 comment ssh"
            ]
        );
        let mut before = UfwState::empty();
        let mut after = UfwState::empty();
        before.enabled = Some(false);
        after.enabled = Some(true);
        before.default = Some(UfwDefault {
            direction: "incoming".to_owned(),
            policy: "allow".to_owned(),
        });
        after.default = Some(UfwDefault {
            direction: "incoming".to_owned(),
            policy: "deny".to_owned(),
        });
        let lines: Vec<String> = UfwState::steps(&before, &after)
            .unwrap()
            .iter()
            .map(Step::line)
            .collect();
        assert_eq!(
            lines,
            [
                "set default policy: ufw default deny incoming",
                "enable ufw: ufw --force enable"
            ]
        );
        assert_eq!(policy_word("DROP"), Some("deny"));
        assert_eq!(policy_word("drop"), None);
    }
}
