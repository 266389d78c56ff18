//! `ufw`: one rule of the Uncomplicated Firewall, a default policy, or whether ufw is
//! enabled, with the fields of Ansible's `community.general.ufw`. Planned and run by the ufw
//! family ([`super::ufw_rules`]) through the `ufw` command (argv only).
//!
//! One task does one of three things: a rule (`rule`, with `delete: true` to remove it), a
//! default policy (`default` with `direction`), or ufw's state (`state: enabled` or
//! `disabled`). `state: reloaded` and `state: reset` are refused: a reload is not a state
//! (ufw applies rule changes at once; a reload after editing ufw's files by hand is a
//! handler's `command: ufw reload`), and a reset throws every rule away on each run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::firewall::netfilter_lock;
use super::firewall_fields::{self, IpVersionOf, PortSpec};
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// A rule, a default policy, or ufw's state.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UfwTask {
    /// What a matching packet gets: `allow`, `deny`, `reject` or `limit` (allow, but deny an
    /// address opening 6 or more connections in 30 seconds).
    pub rule: Option<Spanned<UfwPolicy>>,
    /// For a rule: `in` (or `incoming`) or `out` (or `outgoing`); ufw reads a rule without
    /// one as `in`. For `default`: `incoming` (the default), `outgoing` or `routed`.
    pub direction: Option<Spanned<UfwDirection>>,
    /// The source address or network, default `any`.
    pub from_ip: Option<Spanned<String>>,
    /// The destination address or network, default `any`.
    pub to_ip: Option<Spanned<String>>,
    /// The source port or range (`"6000:6007"` needs `proto` tcp or udp).
    pub from_port: Option<Spanned<PortSpec>>,
    /// The destination port or range.
    pub to_port: Option<Spanned<PortSpec>>,
    /// `any` (default), `tcp`, `udp`, `ipv6`, `esp`, `ah`, `gre` or `igmp`.
    pub proto: Option<Spanned<String>>,
    /// The interface (`on eth0`; needs `direction`).
    pub interface: Option<Spanned<String>>,
    /// A comment on the rule. A rule with a comment is also known by it: another rule with
    /// the same comment is replaced by this one.
    pub comment: Option<Spanned<String>>,
    /// Remove the rule instead of adding it (default false).
    #[serde(default)]
    pub delete: bool,
    /// A default policy, for the `direction` given: `allow`, `deny` or `reject`.
    pub default: Option<Spanned<UfwPolicy>>,
    /// `enabled` (ufw on, now and at boot) or `disabled`.
    pub state: Option<Spanned<UfwState>>,
}

/// A rule's or a default's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UfwPolicy {
    Allow,
    Deny,
    Reject,
    Limit,
}

impl UfwPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            UfwPolicy::Allow => "allow",
            UfwPolicy::Deny => "deny",
            UfwPolicy::Reject => "reject",
            UfwPolicy::Limit => "limit",
        }
    }
}

/// Which traffic a rule or default is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UfwDirection {
    In,
    Incoming,
    Out,
    Outgoing,
    Routed,
}

/// ufw's state, as a task may ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UfwState {
    Enabled,
    Disabled,
    /// Refused at check time (see the type's documentation).
    Reloaded,
    /// Refused at check time (see the type's documentation).
    Reset,
}

const PROTOS: &[&str] = &["any", "tcp", "udp", "ipv6", "esp", "ah", "gre", "igmp"];

/// What one task manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UfwConcern {
    Rule,
    Default,
    State,
}

impl UfwTask {
    pub fn concern(&self) -> UfwConcern {
        if self.default.is_some() {
            UfwConcern::Default
        } else if self.state.is_some() {
            UfwConcern::State
        } else {
            UfwConcern::Rule
        }
    }

    /// The rule as ufw's arguments, in the order of Ansible's module: `allow in on eth0 from
    /// any port 1000 to 10.0.0.1 port 22 proto tcp comment 'ssh'`.
    pub fn rule_args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        if let Some(rule) = &self.rule {
            args.push(rule.value.as_str().to_owned());
        }
        if let Some(direction) = &self.direction {
            args.push(rule_direction(direction.value).to_owned());
        }
        if let Some(interface) = &self.interface {
            args.extend(["on".to_owned(), interface.value.clone()]);
        }
        let any = |ip: &Option<Spanned<String>>| {
            ip.as_ref().map_or("any".to_owned(), |i| i.value.clone())
        };
        args.extend(["from".to_owned(), any(&self.from_ip)]);
        if let Some(port) = &self.from_port {
            args.extend(["port".to_owned(), port.value.0.clone()]);
        }
        args.extend(["to".to_owned(), any(&self.to_ip)]);
        if let Some(port) = &self.to_port {
            args.extend(["port".to_owned(), port.value.0.clone()]);
        }
        if let Some(proto) = &self.proto {
            args.extend(["proto".to_owned(), proto.value.clone()]);
        }
        if let Some(comment) = &self.comment {
            args.extend(["comment".to_owned(), comment.value.clone()]);
        }
        args
    }

    /// `incoming`, `outgoing` or `routed`, for a default.
    pub fn default_direction(&self) -> &'static str {
        match self.direction.as_ref().map(|d| d.value) {
            Some(UfwDirection::Out | UfwDirection::Outgoing) => "outgoing",
            Some(UfwDirection::Routed) => "routed",
            _ => "incoming",
        }
    }

    /// What the task is about, for its id: the rule's comment (or arguments), `default
    /// DIRECTION` or `state`.
    fn key(&self) -> String {
        match self.concern() {
            UfwConcern::Default => format!("default {}", self.default_direction()),
            UfwConcern::State => "state".to_owned(),
            UfwConcern::Rule => match &self.comment {
                Some(comment) => comment.value.clone(),
                None => self.rule_args().join(" "),
            },
        }
    }

    /// The part of ufw's settings the task manages, in messages.
    fn identity(&self) -> String {
        match (self.concern(), &self.comment) {
            (UfwConcern::Rule, Some(comment)) => format!("the rule with comment {}", comment.value),
            _ => format!("the {}", self.key()),
        }
    }

    fn rule_fields(&self) -> [(&'static str, Option<crate::diagnostics::Span>); 9] {
        [
            ("rule", self.rule.as_ref().map(|f| f.span)),
            ("from_ip", self.from_ip.as_ref().map(|f| f.span)),
            ("to_ip", self.to_ip.as_ref().map(|f| f.span)),
            ("from_port", self.from_port.as_ref().map(|f| f.span)),
            ("to_port", self.to_port.as_ref().map(|f| f.span)),
            ("proto", self.proto.as_ref().map(|f| f.span)),
            ("interface", self.interface.as_ref().map(|f| f.span)),
            ("comment", self.comment.as_ref().map(|f| f.span)),
            ("delete", None),
        ]
    }

    fn check_rule(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if self.rule.is_none() {
            found.push(
                Diagnostic::error("the task has no `rule`, `default` or `state`")
                    .at(cx.task)
                    .help("a ufw task adds a rule (`rule: allow` …), sets a `default` policy, or sets `state: enabled`"),
            );
        }
        if let Some(direction) = &self.direction
            && direction.value == UfwDirection::Routed
        {
            found.push(
                Diagnostic::error("`direction: routed` is for a `default` policy, not a rule")
                    .at(direction.span)
                    .help("a rule's direction is `in` or `out`"),
            );
        }
        let from = self
            .from_ip
            .as_ref()
            .and_then(|ip| version_of(ip, "from_ip", found));
        let to = self
            .to_ip
            .as_ref()
            .and_then(|ip| version_of(ip, "to_ip", found));
        if let (Some(from), Some(to), Some(to_ip)) = (from, to, &self.to_ip)
            && from != to
        {
            found.push(
                Diagnostic::error("`from_ip` and `to_ip` are of different IP versions")
                    .at(to_ip.span)
                    .help("a rule is for IPv4 or for IPv6: write two rules"),
            );
        }
        firewall_fields::interface("interface", self.interface.as_ref(), false, found);
        if let (Some(interface), None) = (&self.interface, &self.direction) {
            found.push(
                Diagnostic::error("`interface` needs `direction` (`in` or `out`)")
                    .at(interface.span)
                    .help("ufw applies a rule on an interface to packets coming in or going out: add `direction: in`"),
            );
        }
        firewall_fields::comment(self.comment.as_ref(), found);
        firewall_fields::port("from_port", self.from_port.as_ref(), found);
        firewall_fields::port("to_port", self.to_port.as_ref(), found);
        let proto = self.proto.as_ref().map(|p| p.value.as_str());
        if let Some(p) = &self.proto
            && !PROTOS.contains(&p.value.as_str())
        {
            found.push(
                Diagnostic::error(format!(
                    "`proto`: `{}` is not a protocol ufw knows",
                    p.value
                ))
                .at(p.span)
                .help(format!("write one of {}", PROTOS.join(", "))),
            );
        }
        // An unknown protocol is reported once, at `proto`.
        let proto = proto.filter(|p| PROTOS.contains(p));
        for port in [&self.from_port, &self.to_port].into_iter().flatten() {
            let range = port.value.0.contains(':');
            if range && !matches!(proto, Some("tcp" | "udp")) {
                found.push(
                    Diagnostic::error("a range of ports needs `proto` tcp or udp")
                        .at(port.span)
                        .help("add `proto: tcp` (or udp)"),
                );
            } else if matches!(proto, Some(p) if !["any", "tcp", "udp"].contains(&p)) {
                found.push(Diagnostic::error("ports need `proto` any, tcp or udp").at(port.span));
            }
        }
    }

    /// `default` and `state` tasks take no rule fields.
    fn check_alone(&self, what: &str, found: &mut Vec<Diagnostic>, at: crate::diagnostics::Span) {
        for (field, span) in self.rule_fields() {
            let set = span.is_some() || (field == "delete" && self.delete);
            if set {
                found.push(
                    Diagnostic::error(format!("`{field}` has no meaning with `{what}`"))
                        .at(span.unwrap_or(at))
                        .help("a ufw task does one thing: a rule, a default policy, or the state; write several tasks"),
                );
            }
        }
    }
}

fn rule_direction(direction: UfwDirection) -> &'static str {
    match direction {
        UfwDirection::In | UfwDirection::Incoming => "in",
        UfwDirection::Out | UfwDirection::Outgoing => "out",
        UfwDirection::Routed => "routed",
    }
}

/// The IP version of `any` (none) or an address; a diagnostic for anything else.
fn version_of(
    ip: &Spanned<String>,
    field: &str,
    found: &mut Vec<Diagnostic>,
) -> Option<IpVersionOf> {
    if ip.value == "any" {
        return None;
    }
    firewall_fields::address(field, Some(ip), None, found);
    firewall_fields::address_version(&ip.value).ok()
}

impl Resource for UfwTask {
    /// Its rule, default or state as a part of ufw's rules (tasks run in the order written;
    /// two for one rule, one comment, one default or the state conflict), and the lock every
    /// firewall node holds.
    fn claims(&self) -> Vec<Claim> {
        let span = self
            .rule
            .as_ref()
            .map(|r| r.span)
            .or(self.default.as_ref().map(|d| d.span))
            .or(self.state.as_ref().map(|s| s.span));
        let Some(span) = span else {
            return Vec::new();
        };
        let identity = self.identity();
        vec![
            Claim {
                thing: netfilter_lock(),
                hold: Hold::Exclusive,
                span,
                written: "netfilter".to_owned(),
                sensitive: false,
            },
            Claim {
                thing: Thing::FirewallRules("ufw".to_owned()),
                hold: Hold::Edits(Some(identity.clone())),
                span: self.comment.as_ref().map_or(span, |c| c.span),
                written: format!("ufw: {identity}"),
                sensitive: false,
            },
        ]
    }

    /// The `ufw` package when a task installs it.
    fn requires(&self) -> Vec<Requirement> {
        vec![Requirement::exact(
            Thing::Package("ufw".to_owned()),
            Reason::Package,
        )]
    }

    /// `ufw:<comment or rule>`, `ufw:default <direction>`, `ufw:state`.
    fn default_id(&self) -> String {
        format!("ufw:{}", self.key())
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(state) = &self.state {
            let refused = match state.value {
                UfwState::Reloaded => Some(
                    "ufw applies rule changes at once; to reload after editing ufw's files, notify a handler running `ufw reload` (a `command` task)",
                ),
                UfwState::Reset => Some(
                    "a reset removes every rule on every run; remove the rules you no longer want with `delete: true`",
                ),
                _ => None,
            };
            if let Some(help) = refused {
                found.push(
                    Diagnostic::error(format!(
                        "`state: {}` is not a state driftless can keep",
                        if state.value == UfwState::Reset {
                            "reset"
                        } else {
                            "reloaded"
                        }
                    ))
                    .at(state.span)
                    .help(help),
                );
            }
        }
        match self.concern() {
            UfwConcern::Default => {
                if let Some(default) = &self.default {
                    if default.value == UfwPolicy::Limit {
                        found.push(
                            Diagnostic::error("`default: limit` is not a default policy")
                                .at(default.span)
                                .help("a default policy is allow, deny or reject"),
                        );
                    }
                    self.check_alone("default", found, default.span);
                    if let Some(state) = &self.state {
                        found.push(
                            Diagnostic::error("`state` has no meaning with `default`")
                                .at(state.span)
                                .help(
                                    "write one task for the default policy and one for the state",
                                ),
                        );
                    }
                }
            }
            UfwConcern::State => {
                if let Some(state) = &self.state {
                    self.check_alone("state", found, state.span);
                    if let Some(direction) = &self.direction {
                        found.push(
                            Diagnostic::error("`direction` has no meaning with `state`")
                                .at(direction.span),
                        );
                    }
                }
            }
            UfwConcern::Rule => self.check_rule(cx, found),
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::ufw_rules::UFW
    }
}
