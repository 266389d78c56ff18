//! `iptables`: one rule of a chain, a built-in chain's policy, or a user chain itself, with
//! the fields of Ansible's `ansible.builtin.iptables`. Planned and run by the netfilter family
//! ([`super::netfilter`]) through the `iptables`/`ip6tables` commands (on Debian the nft
//! backend, `iptables-nft`): a rule is found with `iptables -C` (read-only), added with `-A` or
//! `-I`, removed with `-D`.
//!
//! A rule is known by its fields, as Ansible's module knows it; with a `comment` it is also
//! known by the comment: a rule of the chain carrying the comment but differing from the task
//! is replaced (deleted, and the task's rule added), so that changing a commented rule in the
//! config changes it on the host rather than adding a second one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Needed, Reason, Requirement, Resource, Thing};
use super::firewall::netfilter_lock;
use super::firewall_fields::{self, IpVersionOf, PortSpec};
use crate::diagnostics::Diagnostic;
use crate::model::apply::State;
use crate::model::{RenderedContent, Spanned};

/// A rule, a policy or a user chain of the packet filter.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IptablesTask {
    /// The table: `filter` (default), `nat`, `mangle`, `raw` or `security`.
    pub table: Option<Spanned<String>>,
    /// The chain: a built-in one (`INPUT`, `FORWARD`, `OUTPUT`, `PREROUTING`, `POSTROUTING`)
    /// or a user chain (made by a task with `chain_management: true`).
    pub chain: Spanned<String>,
    /// `ipv4` (default, `iptables`) or `ipv6` (`ip6tables`).
    #[serde(default)]
    pub ip_version: IpVersion,
    /// The rule's protocol: `tcp`, `udp`, `udplite`, `sctp`, `icmp`, `ipv6-icmp`, `esp`, `ah`,
    /// `gre`, `all`, or a protocol number.
    pub protocol: Option<Spanned<String>>,
    /// The source address or network (`-s`): `192.0.2.0/24`.
    pub source: Option<Spanned<String>>,
    /// The destination address or network (`-d`).
    pub destination: Option<Spanned<String>>,
    /// The source port or range (`--sport`; needs `protocol` tcp, udp, udplite or sctp).
    pub source_port: Option<Spanned<PortSpec>>,
    /// The destination port or range (`--dport`): `22`, `"8000:8080"`.
    pub destination_port: Option<Spanned<PortSpec>>,
    /// Several destination ports or ranges (`-m multiport --dports`, at most 15).
    #[serde(default)]
    pub destination_ports: Vec<Spanned<PortSpec>>,
    /// The interface packets come in on (`-i`); a trailing `+` matches every interface
    /// starting so.
    pub in_interface: Option<Spanned<String>>,
    /// The interface packets go out on (`-o`).
    pub out_interface: Option<Spanned<String>>,
    /// Connection tracking states (`-m conntrack --ctstate`): `NEW`, `ESTABLISHED`,
    /// `RELATED`, `INVALID`, `UNTRACKED`, `SNAT`, `DNAT`.
    #[serde(default)]
    pub ctstate: Vec<Spanned<String>>,
    /// What a matching packet does (`-j`): `ACCEPT`, `DROP`, `REJECT`, `RETURN`, `LOG`,
    /// `NFLOG`, `MASQUERADE`, `NOTRACK`, or a user chain some task makes.
    pub jump: Option<Spanned<String>>,
    /// A comment on the rule (`-m comment --comment`). A rule with a comment is also known by
    /// it: another rule of the chain with the same comment is replaced by this one.
    pub comment: Option<Spanned<String>>,
    /// `append` (default: at the end of the chain) or `insert` (at `rule_num`, default 1).
    /// Only where a missing rule is added: a rule already in the chain is not moved.
    #[serde(default)]
    pub action: RuleAction,
    /// Where `action: insert` puts the rule (1 is the top).
    pub rule_num: Option<Spanned<u32>>,
    /// `present` (default) or `absent`: the rule (or, with `chain_management`, the chain).
    #[serde(default)]
    pub state: State,
    /// The default policy of a built-in chain: `ACCEPT` or `DROP`. A task setting a policy
    /// has no rule fields.
    pub policy: Option<Spanned<String>>,
    /// The task manages the user chain `chain` itself: made with `state: present` (and the
    /// rule fields, if any, a rule added to it), removed with its rules with `state: absent`.
    #[serde(default)]
    pub chain_management: bool,
}

/// The IP version of a rule: which command manages it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    #[default]
    Ipv4,
    Ipv6,
}

impl IpVersion {
    pub fn program(self) -> &'static str {
        match self {
            IpVersion::Ipv4 => "iptables",
            IpVersion::Ipv6 => "ip6tables",
        }
    }

    fn name(self) -> &'static str {
        match self {
            IpVersion::Ipv4 => "ipv4",
            IpVersion::Ipv6 => "ipv6",
        }
    }

    fn of_addresses(self) -> IpVersionOf {
        match self {
            IpVersion::Ipv4 => IpVersionOf::V4,
            IpVersion::Ipv6 => IpVersionOf::V6,
        }
    }
}

/// Where a missing rule is added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    #[default]
    Append,
    Insert,
}

/// The tables and their built-in chains.
const TABLES: &[(&str, &[&str])] = &[
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    (
        "mangle",
        &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    ),
    ("raw", &["PREROUTING", "OUTPUT"]),
    ("security", &["INPUT", "FORWARD", "OUTPUT"]),
];

/// Targets built into iptables that need no options of their own.
pub const TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "REJECT",
    "RETURN",
    "LOG",
    "NFLOG",
    "MASQUERADE",
    "NOTRACK",
];

const PROTOCOLS: &[&str] = &[
    "tcp",
    "udp",
    "udplite",
    "sctp",
    "dccp",
    "icmp",
    "ipv6-icmp",
    "icmpv6",
    "esp",
    "ah",
    "gre",
    "all",
];

/// The protocols that have ports.
const PORTED: &[&str] = &["tcp", "udp", "udplite", "sctp", "dccp"];

const CTSTATES: &[&str] = &[
    "NEW",
    "ESTABLISHED",
    "RELATED",
    "INVALID",
    "UNTRACKED",
    "SNAT",
    "DNAT",
];

/// The longest chain name iptables takes.
const MAX_CHAIN: usize = 28;

/// Whether `chain` is built into `table`.
pub fn is_builtin_chain(table: &str, chain: &str) -> bool {
    TABLES
        .iter()
        .any(|(t, chains)| *t == table && chains.contains(&chain))
}

/// The key of a chain in things and messages: `ipv4 filter INPUT`.
pub fn chain_key(version: IpVersion, table: &str, chain: &str) -> String {
    format!("{} {table} {chain}", version.name())
}

impl IptablesTask {
    pub fn table(&self) -> &str {
        self.table.as_ref().map_or("filter", |t| t.value.as_str())
    }

    fn key(&self) -> String {
        chain_key(self.ip_version, self.table(), &self.chain.value)
    }

    /// The user chain the rule jumps to, if it jumps to one.
    pub fn jump_chain(&self) -> Option<&Spanned<String>> {
        self.jump.as_ref().filter(|j| {
            !TARGETS.contains(&j.value.as_str()) && firewall_fields::is_word(&j.value, MAX_CHAIN)
        })
    }

    /// Whether the task describes a rule (some rule field is set).
    pub fn has_rule(&self) -> bool {
        self.rule_fields().iter().any(|(_, set)| *set)
    }

    fn rule_fields(&self) -> [(&'static str, bool); 12] {
        [
            ("protocol", self.protocol.is_some()),
            ("source", self.source.is_some()),
            ("destination", self.destination.is_some()),
            ("source_port", self.source_port.is_some()),
            ("destination_port", self.destination_port.is_some()),
            ("destination_ports", !self.destination_ports.is_empty()),
            ("in_interface", self.in_interface.is_some()),
            ("out_interface", self.out_interface.is_some()),
            ("ctstate", !self.ctstate.is_empty()),
            ("jump", self.jump.is_some()),
            ("comment", self.comment.is_some()),
            ("rule_num", self.rule_num.is_some()),
        ]
    }

    /// The rule as iptables' arguments after `-A CHAIN`, in a fixed order.
    pub fn rule_spec(&self) -> Vec<String> {
        let mut spec: Vec<String> = Vec::new();
        let mut add = |flag: &str, value: Option<&str>| {
            if let Some(value) = value {
                spec.push(flag.to_owned());
                spec.push(value.to_owned());
            }
        };
        let text = |field: &Option<Spanned<String>>| field.as_ref().map(|f| f.value.clone());
        let port = |field: &Option<Spanned<PortSpec>>| field.as_ref().map(|f| f.value.0.clone());
        add("-p", text(&self.protocol).as_deref());
        add("-s", text(&self.source).as_deref());
        add("-d", text(&self.destination).as_deref());
        add("-i", text(&self.in_interface).as_deref());
        add("-o", text(&self.out_interface).as_deref());
        add("--sport", port(&self.source_port).as_deref());
        add("--dport", port(&self.destination_port).as_deref());
        if !self.destination_ports.is_empty() {
            let ports: Vec<&str> = self
                .destination_ports
                .iter()
                .map(|p| p.value.0.as_str())
                .collect();
            add("-m", Some("multiport"));
            add("--dports", Some(&ports.join(",")));
        }
        if !self.ctstate.is_empty() {
            let states: Vec<&str> = self.ctstate.iter().map(|s| s.value.as_str()).collect();
            add("-m", Some("conntrack"));
            add("--ctstate", Some(&states.join(",")));
        }
        if let Some(comment) = &self.comment {
            add("-m", Some("comment"));
            add("--comment", Some(&comment.value));
        }
        add("-j", text(&self.jump).as_deref());
        spec
    }

    /// Where `action: insert` puts a missing rule.
    pub fn insert_at(&self) -> Option<u32> {
        (self.action == RuleAction::Insert).then(|| self.rule_num.as_ref().map_or(1, |n| n.value))
    }

    fn check_names(&self, found: &mut Vec<Diagnostic>) {
        if let Some(table) = &self.table
            && !TABLES.iter().any(|(t, _)| *t == table.value)
        {
            found.push(
                Diagnostic::error(format!(
                    "`table`: `{}` is not an iptables table",
                    table.value
                ))
                .at(table.span)
                .help("the tables are filter, nat, mangle, raw and security"),
            );
        }
        let chain = &self.chain.value;
        if !firewall_fields::is_word(chain, MAX_CHAIN) {
            found.push(
                Diagnostic::error(format!("`chain`: `{chain}` is not a chain name"))
                    .at(self.chain.span)
                    .help("a chain is named with at most 28 letters, digits and `_-.`"),
            );
        }
        if let Some(jump) = &self.jump
            && !TARGETS.contains(&jump.value.as_str())
            && !firewall_fields::is_word(&jump.value, MAX_CHAIN)
        {
            found.push(
                Diagnostic::error(format!("`jump`: `{}` is not a target or chain", jump.value))
                    .at(jump.span)
                    .help(format!(
                        "a target is one of {}, or a user chain",
                        TARGETS.join(", ")
                    )),
            );
        }
    }

    fn check_rule(&self, found: &mut Vec<Diagnostic>) {
        let protocol = self.protocol.as_ref().map(|p| p.value.as_str());
        let known = |p: &str| {
            PROTOCOLS.contains(&p)
                || (p.parse::<u8>().is_ok() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if let Some(p) = &self.protocol
            && !known(&p.value)
        {
            found.push(
                Diagnostic::error(format!("`protocol`: `{}` is not a protocol", p.value))
                    .at(p.span)
                    .help(format!(
                        "write one of {}, or a protocol number",
                        PROTOCOLS.join(", ")
                    )),
            );
        }
        let version = Some(self.ip_version.of_addresses());
        firewall_fields::address("source", self.source.as_ref(), version, found);
        firewall_fields::address("destination", self.destination.as_ref(), version, found);
        firewall_fields::interface("in_interface", self.in_interface.as_ref(), true, found);
        firewall_fields::interface("out_interface", self.out_interface.as_ref(), true, found);
        firewall_fields::comment(self.comment.as_ref(), found);
        firewall_fields::port("source_port", self.source_port.as_ref(), found);
        firewall_fields::port("destination_port", self.destination_port.as_ref(), found);
        for port in &self.destination_ports {
            firewall_fields::port("destination_ports", Some(port), found);
        }
        if let Some(extra) = self.destination_ports.get(15) {
            found.push(
                Diagnostic::error("`destination_ports`: more than 15 ports")
                    .at(extra.span)
                    .help("iptables' multiport match takes at most 15 ports; split the rule"),
            );
        }
        let ports = [
            ("source_port", self.source_port.as_ref().map(|p| p.span)),
            (
                "destination_port",
                self.destination_port.as_ref().map(|p| p.span),
            ),
            (
                "destination_ports",
                self.destination_ports.first().map(|p| p.span),
            ),
        ];
        for (field, span) in ports {
            // An unknown protocol is reported once, at `protocol`.
            if let Some(span) = span
                && !protocol.is_some_and(|p| PORTED.contains(&p) || !known(p))
            {
                found.push(
                    Diagnostic::error(format!(
                        "`{field}` needs `protocol` tcp, udp, udplite, sctp or dccp"
                    ))
                    .at(span)
                    .help("ports belong to a protocol: add `protocol: tcp`"),
                );
            }
        }
        if let (Some(single), Some(_)) = (&self.destination_port, self.destination_ports.first()) {
            found.push(
                Diagnostic::error("`destination_port` and `destination_ports` cannot both be set")
                    .at(single.span)
                    .help("list every port under `destination_ports`"),
            );
        }
        for state in &self.ctstate {
            if !CTSTATES.contains(&state.value.as_str()) {
                found.push(
                    Diagnostic::error(format!(
                        "`ctstate`: `{}` is not a connection state",
                        state.value
                    ))
                    .at(state.span)
                    .help(format!("write one of {}", CTSTATES.join(", "))),
                );
            }
        }
        if let Some(num) = &self.rule_num {
            if self.action != RuleAction::Insert {
                found.push(
                    Diagnostic::error("`rule_num` has a meaning only with `action: insert`")
                        .at(num.span)
                        .help("add `action: insert`, or remove `rule_num`"),
                );
            } else if num.value == 0 {
                found.push(
                    Diagnostic::error("`rule_num` counts from 1 (the top of the chain)")
                        .at(num.span),
                );
            }
        }
    }

    fn check_combination(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        let builtin = is_builtin_chain(self.table(), &self.chain.value);
        let rule_field = self.rule_fields().into_iter().find(|(_, set)| *set);
        if let Some(policy) = &self.policy {
            if !["ACCEPT", "DROP"].contains(&policy.value.as_str()) {
                found.push(
                    Diagnostic::error(format!(
                        "`policy`: `{}` is not a chain policy",
                        policy.value
                    ))
                    .at(policy.span)
                    .help("a built-in chain's policy is ACCEPT or DROP"),
                );
            }
            if !builtin {
                found.push(
                    Diagnostic::error(format!(
                        "`policy`: `{}` is not a built-in chain of table `{}`; only built-in chains have a policy",
                        self.chain.value,
                        self.table()
                    ))
                    .at(self.chain.span),
                );
            }
            let other = rule_field
                .map(|(f, _)| f)
                .or(self.chain_management.then_some("chain_management"))
                .or((self.state == State::Absent).then_some("state: absent"));
            if let Some(field) = other {
                found.push(
                    Diagnostic::error(format!("`policy` and `{field}` cannot both be set"))
                        .at(policy.span)
                        .help("a task sets a chain's policy, or manages a rule: write two tasks"),
                );
            }
            return;
        }
        if self.chain_management {
            if builtin {
                found.push(
                    Diagnostic::error(format!(
                        "`chain_management`: `{}` is a built-in chain of table `{}`; it cannot be made or removed",
                        self.chain.value,
                        self.table()
                    ))
                    .at(self.chain.span),
                );
            }
            if let (State::Absent, Some((field, _))) = (self.state, rule_field) {
                found.push(
                    Diagnostic::error(format!(
                        "`{field}` has no meaning when the task removes the chain"
                    ))
                    .at(cx.task)
                    .help("`chain_management` with `state: absent` removes the chain and every rule in it; remove the rule fields"),
                );
            }
            return;
        }
        if rule_field.is_none() {
            found.push(
                Diagnostic::error("the task names a chain but no rule, policy or `chain_management`")
                    .at(self.chain.span)
                    .help("add rule fields (`protocol`, `destination_port`, `jump` …), a `policy`, or `chain_management: true`"),
            );
        }
    }
}

impl Resource for IptablesTask {
    /// Its rule or policy as a part of the chain's contents (rules of one chain run in the
    /// order written; two tasks for one rule, one comment or one policy conflict), the user
    /// chain it makes or removes, and the lock every firewall node holds.
    fn claims(&self) -> Vec<Claim> {
        let key = self.key();
        let mut claims = vec![Claim {
            thing: netfilter_lock(),
            hold: Hold::Exclusive,
            span: self.chain.span,
            written: "netfilter".to_owned(),
            sensitive: false,
        }];
        let part = if self.policy.is_some() {
            Some((
                "the policy".to_owned(),
                self.policy.as_ref().map_or(self.chain.span, |p| p.span),
            ))
        } else if (self.has_rule() && self.state == State::Present) || !self.chain_management {
            let identity = match &self.comment {
                Some(comment) => format!("the rule with comment {}", comment.value),
                None => format!("the rule {}", self.rule_spec().join(" ")),
            };
            let span = self.comment.as_ref().map_or(self.chain.span, |c| c.span);
            Some((identity, span))
        } else {
            None
        };
        if let Some((identity, span)) = part {
            claims.push(Claim {
                thing: Thing::FirewallRules(key.clone()),
                hold: Hold::Edits(Some(identity.clone())),
                span,
                written: format!("{key}: {identity}"),
                sensitive: self.chain.sensitive,
            });
        }
        if self.chain_management {
            claims.push(Claim {
                thing: Thing::FirewallChain(key.clone()),
                hold: Hold::Owns,
                span: self.chain.span,
                written: key,
                sensitive: self.chain.sensitive,
            });
        }
        claims
    }

    /// The task making the user chain the rule is in, and the one it jumps to; the
    /// `iptables` package when a task installs it. Removing needs nothing made first; a
    /// chain is removed after the tasks on its rules.
    fn requires(&self) -> Vec<Requirement> {
        let mut required = vec![Requirement::exact(
            Thing::Package("iptables".to_owned()),
            Reason::Package,
        )];
        if self.state == State::Absent {
            if self.chain_management {
                required.push(Requirement::exact(
                    Thing::FirewallRules(self.key()),
                    Reason::FirewallChain,
                ));
            }
            return required;
        }
        if !self.chain_management && !is_builtin_chain(self.table(), &self.chain.value) {
            required.push(Requirement::exact(
                Thing::FirewallChain(self.key()),
                Reason::FirewallChain,
            ));
        }
        if let Some(target) = self.jump_chain() {
            required.push(Requirement::exact(
                Thing::FirewallChain(chain_key(self.ip_version, self.table(), &target.value)),
                Reason::FirewallChain,
            ));
        }
        required
    }

    /// A rule jumping to a user chain: some task makes that chain.
    fn needs(&self) -> Vec<Needed> {
        let Some(target) = self.jump_chain().filter(|_| self.state == State::Present) else {
            return Vec::new();
        };
        vec![Needed {
            thing: Thing::FirewallChain(chain_key(self.ip_version, self.table(), &target.value)),
            span: target.span,
            message: format!(
                "`jump`: `{}` is not a built-in target, and no task makes the chain `{}` in table `{}` ({})",
                target.value,
                target.value,
                self.table(),
                self.ip_version.name()
            ),
            help: format!(
                "add a task `type: iptables, chain: {}, chain_management: true` for the chain, or jump to one of {}",
                target.value,
                TARGETS.join(", ")
            ),
        }]
    }

    /// `iptables:<version> <table> <chain>[ <comment or rule>]`.
    fn default_id(&self) -> String {
        let key = self.key();
        if self.policy.is_some() {
            return format!("iptables:{key} policy");
        }
        if self.chain_management && !self.has_rule() {
            return format!("iptables:{key}");
        }
        match &self.comment {
            Some(comment) => format!("iptables:{key} {}", comment.value),
            None => format!("iptables:{key} {}", self.rule_spec().join(" ")),
        }
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        self.check_names(found);
        self.check_rule(found);
        self.check_combination(cx, found);
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::netfilter::NETFILTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_chains_are_those_of_their_table() {
        assert!(is_builtin_chain("filter", "INPUT"));
        assert!(is_builtin_chain("nat", "POSTROUTING"));
        assert!(!is_builtin_chain("filter", "POSTROUTING"));
        assert!(!is_builtin_chain("filter", "web"));
    }
}
