//! The netfilter family: `iptables` tasks observed and changed through the `iptables` and
//! `ip6tables` commands (argv only). Observing is read-only: `iptables -t TABLE -S` (the
//! chains, their policies and rules, as iptables-save writes them) and `iptables -C` (whether
//! a rule is in a chain, matched the way iptables matches it). A node's steps are `-N` (create
//! chain), `-D` (delete rule, a rule replaced by one with the same comment too), `-F` and `-X`
//! (a chain removed with its rules), `-A`/`-I` (add rule) and `-P` (set policy); see
//! [`super::firewall`] for what the two firewall families share.

use serde::{Deserialize, Serialize};

use super::contract::{PlanContext, Thing};
use super::firewall::{Firewall, FirewallState, Step, StepKind, show_argv};
use super::iptables::{IptablesTask, TARGETS, chain_key, is_builtin_chain};
use crate::apply::ApplySpec;
use crate::model::ApplyTask;
use crate::printable::escape;
use crate::process::{self, Invocation};

/// The family's one instance.
pub static NETFILTER: Firewall<NetfilterState> = Firewall::new();

/// An `iptables` node's `before` (observed) or `after` (wanted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetfilterState {
    /// `iptables` or `ip6tables`.
    pub program: String,
    pub table: String,
    pub chain: String,
    /// Whether the user chain exists (tasks with `chain_management` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_exists: Option<bool>,
    /// The built-in chain's policy (policy tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The rule (rule tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleState>,
    /// `before`: rules the node removes, as `iptables -S` writes them after `-A CHAIN` —
    /// for a rule to keep, the chain's rules with its comment unless the rule alone has it
    /// (all deleted, then the rule added); for a chain to remove, its rules. Never in `after`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_rules: Vec<Vec<String>>,
}

/// A rule: its arguments after `-A CHAIN`, and whether it is in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleState {
    pub spec: Vec<String>,
    pub present: bool,
    /// Where a missing rule is inserted (`after` only; `null`: appended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert_at: Option<u32>,
}

impl RuleState {
    /// The rule's comment: it names the rule too.
    fn comment(&self) -> Option<&str> {
        comment_of(&self.spec)
    }
}

fn comment_of(spec: &[String]) -> Option<&str> {
    let at = spec.iter().position(|a| a == "--comment")?;
    spec.get(at + 1).map(String::as_str)
}

/// What `iptables -t TABLE -S` says of a table.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    /// Every chain, with its policy (`None` for a user chain).
    chains: Vec<(String, Option<String>)>,
    /// Every rule: its chain and its arguments after `-A CHAIN`.
    rules: Vec<(String, Vec<String>)>,
}

impl Listing {
    fn has_chain(&self, chain: &str) -> bool {
        self.chains.iter().any(|(c, _)| c == chain)
    }

    fn policy(&self, chain: &str) -> Option<String> {
        self.chains
            .iter()
            .find(|(c, _)| c == chain)
            .and_then(|(_, p)| p.clone())
    }

    fn rules_of<'a>(&'a self, chain: &'a str) -> impl Iterator<Item = &'a Vec<String>> + 'a {
        self.rules
            .iter()
            .filter(move |(c, _)| c == chain)
            .map(|(_, spec)| spec)
    }
}

/// One line of `iptables -S` into words: words are separated by spaces; a word in double
/// quotes (a comment) keeps its spaces, `\"` and `\\` in it stand for `"` and `\`.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => word.push(escaped),
                        None => return Err(format!("unfinished quote in `{line}`")),
                    },
                    Some(other) => word.push(other),
                    None => return Err(format!("unfinished quote in `{line}`")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    Ok(out)
}

fn parse_listing(text: &str) -> Result<Listing, String> {
    let mut listing = Listing::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words = words(line)?;
        match words.as_slice() {
            [flag, chain, policy] if flag == "-P" => {
                listing.chains.push((chain.clone(), Some(policy.clone())))
            }
            [flag, chain] if flag == "-N" => listing.chains.push((chain.clone(), None)),
            [flag, chain, spec @ ..] if flag == "-A" => {
                listing.rules.push((chain.clone(), spec.to_vec()))
            }
            _ => {
                return Err(format!(
                    "unexpected line from iptables -S: `{}`",
                    escape(line)
                ));
            }
        }
    }
    Ok(listing)
}

fn base(program: &str, table: &str) -> Vec<String> {
    [program, "-w", "-t", table].map(str::to_owned).to_vec()
}

fn argv(program: &str, table: &str, rest: &[&str], spec: &[String]) -> Vec<String> {
    let mut argv = base(program, table);
    argv.extend(rest.iter().map(|s| (*s).to_owned()));
    argv.extend(spec.iter().cloned());
    argv
}

fn list(program: &str, table: &str) -> Result<Listing, String> {
    let mut argv = base(program, table);
    argv.push("-S".to_owned());
    let text = process::output(&Invocation::new(&argv)).map_err(|e| e.message)?;
    parse_listing(&text)
}

/// Whether the rule is in the chain, as `iptables -C` says: exit 0 yes, 1 with "Bad rule"
/// no, anything else an error (an unknown match, a target that does not exist).
fn rule_present(program: &str, table: &str, chain: &str, spec: &[String]) -> Result<bool, String> {
    let check = argv(program, table, &["-C", chain], spec);
    let finished = process::run(&Invocation::new(&check)).map_err(|e| e.message)?;
    let stderr = finished.stderr_text();
    match finished.rc {
        0 if !finished.timed_out => Ok(true),
        1 if stderr.contains("Bad rule") || stderr.contains("does a matching rule exist") => {
            Ok(false)
        }
        _ => Err(format!(
            "{} (exit {}): {}",
            show_argv(&check),
            finished.rc,
            finished.complaint()
        )),
    }
}

impl NetfilterState {
    fn empty(program: &str, table: &str, chain: &str) -> NetfilterState {
        NetfilterState {
            program: program.to_owned(),
            table: table.to_owned(),
            chain: chain.to_owned(),
            chain_exists: None,
            policy: None,
            rule: None,
            removed_rules: Vec::new(),
        }
    }

    /// The chain the rule jumps to, when it is not a built-in target a listing shows.
    fn jump_chain(&self) -> Option<&str> {
        let spec = &self.rule.as_ref()?.spec;
        let at = spec.iter().position(|a| a == "-j")?;
        spec.get(at + 1).map(String::as_str)
    }

    /// What the task wants.
    fn wanted(task: &IptablesTask) -> NetfilterState {
        let program = task.ip_version.program();
        let mut after = NetfilterState::empty(program, task.table(), &task.chain.value);
        if let Some(policy) = &task.policy {
            after.policy = Some(policy.value.clone());
            return after;
        }
        let present = task.state == crate::model::apply::State::Present;
        if task.chain_management {
            after.chain_exists = Some(present);
        }
        if task.has_rule() || !task.chain_management {
            after.rule = Some(RuleState {
                spec: task.rule_spec(),
                present,
                insert_at: task.insert_at().filter(|_| present),
            });
        }
        after
    }

    /// The host as the state `after` would be compared with; `Err` when the chain the rule
    /// is in does not exist (`chain_missing`).
    fn observed(after: &NetfilterState) -> Result<(NetfilterState, bool), String> {
        let listing = list(&after.program, &after.table)?;
        let chain = after.chain.as_str();
        let exists = listing.has_chain(chain);
        let mut before = NetfilterState::empty(&after.program, &after.table, chain);
        if after.chain_exists.is_some() {
            before.chain_exists = Some(exists);
            if after.chain_exists == Some(false) && exists {
                before.removed_rules = listing.rules_of(chain).cloned().collect();
            }
        }
        if after.policy.is_some() {
            before.policy = listing.policy(chain);
        }
        if let Some(wanted) = &after.rule {
            // A rule cannot be in a chain that is not there, nor jump to one.
            let target_missing = after
                .jump_chain()
                .is_some_and(|target| !listing.has_chain(target) && !is_target(target));
            let present = exists
                && !target_missing
                && rule_present(&after.program, &after.table, chain, &wanted.spec)?;
            // A rule to keep replaces the others of its comment; one to remove is deleted
            // alone.
            if let (Some(comment), true) = (wanted.comment(), wanted.present) {
                let same: Vec<Vec<String>> = listing
                    .rules_of(chain)
                    .filter(|spec| comment_of(spec) == Some(comment))
                    .cloned()
                    .collect();
                // The rule alone carries its comment: nothing to replace.
                if !(present && same.len() == 1) {
                    before.removed_rules = same;
                }
            }
            before.rule = Some(RuleState {
                spec: wanted.spec.clone(),
                present,
                insert_at: None,
            });
        }
        Ok((before, exists))
    }

    fn describe_chain(&self) -> String {
        let version = if self.program == "ip6tables" {
            "ipv6"
        } else {
            "ipv4"
        };
        escape(&format!("{version} {} {}", self.table, self.chain)).into_owned()
    }
}

/// A target built into iptables (the listing shows user chains only).
fn is_target(name: &str) -> bool {
    TARGETS.contains(&name)
}

impl FirewallState for NetfilterState {
    const WHOSE: &'static str = "an iptables node's";

    fn plan_task(task: &ApplyTask, cx: &PlanContext<'_>) -> Result<(Self, Self), String> {
        let ApplySpec::Iptables(iptables) = &task.spec else {
            return Err(format!(
                "`{}` is not an iptables task",
                task.spec.type_name()
            ));
        };
        let after = NetfilterState::wanted(iptables);
        let (before, exists) = NetfilterState::observed(&after)?;
        let key = chain_key(iptables.ip_version, iptables.table(), &iptables.chain.value);
        let made_here =
            iptables.chain_management || cx.managed.contains(&Thing::FirewallChain(key.clone()));
        if !exists && !made_here && !is_builtin_chain(iptables.table(), &iptables.chain.value) {
            return Err(format!(
                "the chain {} does not exist; add a task with `chain_management: true` for it",
                escape(&key)
            ));
        }
        Ok((before, after))
    }

    fn observe(after: &Self) -> Result<Self, String> {
        NetfilterState::observed(after).map(|(before, _)| before)
    }

    fn steps(before: &Self, after: &Self) -> Result<Vec<Step>, String> {
        let (program, table, chain) = (&after.program, &after.table, after.chain.as_str());
        if !["iptables", "ip6tables"].contains(&program.as_str()) {
            return Err(format!(
                "`{}` is not iptables or ip6tables",
                escape(program)
            ));
        }
        if !after.removed_rules.is_empty() {
            return Err("`after` removes no rules: `removed_rules` is observed".to_owned());
        }
        let mut steps = Vec::new();
        let chain_removed = before.chain_exists == Some(true) && after.chain_exists == Some(false);
        if before.chain_exists == Some(false) && after.chain_exists == Some(true) {
            steps.push(Step::new(
                StepKind::Add,
                "create chain",
                argv(program, table, &["-N", chain], &[]),
            ));
        }
        if chain_removed && !before.removed_rules.is_empty() {
            steps.push(Step::new(
                StepKind::Delete,
                "flush chain",
                argv(program, table, &["-F", chain], &[]),
            ));
        } else {
            for spec in &before.removed_rules {
                steps.push(Step::new(
                    StepKind::Delete,
                    "delete rule",
                    argv(program, table, &["-D", chain], spec),
                ));
            }
        }
        match (&before.rule, &after.rule) {
            (Some(was), Some(want)) if was.spec == want.spec => {
                // A rule replaced with the others of its comment is added again.
                let removed = was.present && !before.removed_rules.is_empty();
                if want.present && (!was.present || removed) {
                    let position = want.insert_at.map(|n| n.to_string());
                    let rest: Vec<&str> = match &position {
                        Some(n) => vec!["-I", chain, n],
                        None => vec!["-A", chain],
                    };
                    steps.push(Step::new(
                        StepKind::Add,
                        "add rule",
                        argv(program, table, &rest, &want.spec),
                    ));
                } else if !want.present && was.present {
                    steps.push(Step::new(
                        StepKind::Delete,
                        "delete rule",
                        argv(program, table, &["-D", chain], &want.spec),
                    ));
                }
            }
            (None, None) => {}
            _ => return Err("`before` and `after` are not of one rule".to_owned()),
        }
        if let Some(policy) = &after.policy
            && before.policy.as_ref() != Some(policy)
        {
            steps.push(Step::new(
                StepKind::Change,
                "set policy",
                argv(program, table, &["-P", chain, policy], &[]),
            ));
        }
        if chain_removed {
            steps.push(Step::new(
                StepKind::Delete,
                "delete chain",
                argv(program, table, &["-X", chain], &[]),
            ));
        }
        Ok(steps)
    }

    /// A chain to remove is flushed whatever rules it holds (tasks on its rules run first and
    /// may have removed some): only whether it exists must be as planned.
    fn unchanged(planned: &Self, now: &Self) -> bool {
        if planned.chain_exists.is_some() && planned.rule.is_none() {
            return planned.chain_exists == now.chain_exists;
        }
        planned == now
    }

    fn same_thing(before: &Self, after: &Self) -> bool {
        let rules = match (&before.rule, &after.rule) {
            (Some(b), Some(a)) => b.spec == a.spec && b.insert_at.is_none(),
            (None, None) => true,
            _ => false,
        };
        before.program == after.program
            && before.table == after.table
            && before.chain == after.chain
            && before.chain_exists.is_some() == after.chain_exists.is_some()
            && (before.policy.is_some() || after.policy.is_none())
            && rules
    }

    fn what(after: &Self) -> String {
        let chain = after.describe_chain();
        match (&after.policy, &after.rule, after.chain_exists) {
            (Some(_), _, _) => format!("iptables policy of {chain}"),
            (_, Some(_), _) => format!("iptables rule in {chain}"),
            _ => format!("iptables chain {chain}"),
        }
    }

    fn details(before: &Self, after: &Self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(policy) = &after.policy {
            lines.push(format!(
                "policy: {} → {}",
                escape(before.policy.as_deref().unwrap_or("(none)")),
                escape(policy)
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_read_with_its_quoted_comments() {
        let text = "-P INPUT ACCEPT\n-P FORWARD DROP\n-N web\n\
                    -A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh \\\"in\\\"\" -j ACCEPT\n\
                    -A web -j RETURN\n";
        let listing = parse_listing(text).unwrap();
        assert_eq!(listing.policy("FORWARD").as_deref(), Some("DROP"));
        assert!(listing.has_chain("web"));
        assert_eq!(listing.policy("web"), None);
        let input: Vec<_> = listing.rules_of("INPUT").collect();
        assert_eq!(comment_of(input[0]), Some("ssh \"in\""));
        assert_eq!(listing.rules_of("web").count(), 1);
        assert!(parse_listing("-A INPUT --comment \"open").is_err());
        assert!(parse_listing("bogus").is_err());
    }

    fn state(rule: Option<(bool, Option<u32>)>) -> NetfilterState {
        let mut state = NetfilterState::empty("iptables", "filter", "INPUT");
        state.rule = rule.map(|(present, insert_at)| RuleState {
            spec: [
                "-p",
                "tcp",
                "--dport",
                "22",
                "-m",
                "comment",
                "--comment",
                "ssh",
                "-j",
                "ACCEPT",
            ]
            .map(str::to_owned)
            .to_vec(),
            present,
            insert_at,
        });
        state
    }

    fn lines(before: &NetfilterState, after: &NetfilterState) -> Vec<String> {
        NetfilterState::steps(before, after)
            .unwrap()
            .iter()
            .map(Step::line)
            .collect()
    }

    #[test]
    fn steps_add_insert_delete_and_replace_a_rule() {
        let absent = state(Some((false, None)));
        assert_eq!(
            lines(&absent, &state(Some((true, None)))),
            [
                "add rule: iptables -w -t filter -A INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT"
            ]
        );
        assert_eq!(
            lines(&absent, &state(Some((true, Some(3)))))[0],
            "add rule: iptables -w -t filter -I INPUT 3 -p tcp --dport 22 -m comment --comment ssh -j ACCEPT"
        );
        assert!(lines(&state(Some((true, None))), &state(Some((true, None)))).is_empty());
        assert_eq!(
            lines(&state(Some((true, None))), &state(Some((false, None)))),
            [
                "delete rule: iptables -w -t filter -D INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT"
            ]
        );
        let mut replaced = absent.clone();
        replaced.removed_rules = vec![
            [
                "-p",
                "tcp",
                "--dport",
                "2222",
                "-m",
                "comment",
                "--comment",
                "ssh",
                "-j",
                "ACCEPT",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        let steps = NetfilterState::steps(&replaced, &state(Some((true, None)))).unwrap();
        assert_eq!(
            super::super::firewall::action_of(&steps),
            crate::apply::Action::Update
        );
        assert_eq!(steps[0].what, "delete rule");
        assert_eq!(steps[1].what, "add rule");
    }

    #[test]
    fn steps_make_and_remove_a_chain_and_set_a_policy() {
        let mut before = NetfilterState::empty("iptables", "filter", "web");
        let mut after = before.clone();
        before.chain_exists = Some(false);
        after.chain_exists = Some(true);
        assert_eq!(
            lines(&before, &after),
            ["create chain: iptables -w -t filter -N web"]
        );
        before.chain_exists = Some(true);
        before.removed_rules = vec![vec!["-j".to_owned(), "RETURN".to_owned()]];
        after.chain_exists = Some(false);
        assert_eq!(
            lines(&before, &after),
            [
                "flush chain: iptables -w -t filter -F web",
                "delete chain: iptables -w -t filter -X web"
            ]
        );
        let mut before = NetfilterState::empty("ip6tables", "filter", "INPUT");
        let mut after = before.clone();
        before.policy = Some("ACCEPT".to_owned());
        after.policy = Some("DROP".to_owned());
        assert_eq!(
            lines(&before, &after),
            ["set policy: ip6tables -w -t filter -P INPUT DROP"]
        );
    }
}
