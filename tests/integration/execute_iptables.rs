//! `iptables` with Debian's real iptables (nft backend) in a throwaway root with a network
//! namespace of its own ([`FirewallRoot`], which checks the host's rules are untouched): rules
//! added, a chain made and jumped to, a policy and an IPv6 rule set; a second apply that
//! changes nothing; a commented rule changed (replaced); everything removed; dry runs that
//! change nothing; and a plan refused when a rule was added by hand after it.

use crate::common;
use crate::firewall_root::{FirewallRoot, Tools};

const SSH: &str = "{id: ssh, type: iptables, chain: INPUT, protocol: tcp, destination_port: PORT, \
                   ctstate: [NEW], comment: ssh in, jump: ACCEPT, state: STATE}";

fn config(port: u16, state: &str) -> String {
    let ssh = SSH
        .replace("PORT", &port.to_string())
        .replace("STATE", state);
    let chain_state = if state == "present" {
        "present"
    } else {
        "absent"
    };
    format!(
        "apply:\n  \
         - {{id: web-chain, type: iptables, chain: web, chain_management: true, state: {chain_state}, depends_on: [to-web]}}\n  \
         - {ssh}\n  \
         - {{id: to-web, type: iptables, chain: INPUT, protocol: tcp, destination_ports: [80, 443], jump: web, state: {state}}}\n  \
         - {{id: web-ok, type: iptables, chain: web, source: 10.0.0.0/8, jump: ACCEPT, state: {state}}}\n  \
         - {{id: forward, type: iptables, chain: FORWARD, policy: {policy}}}\n  \
         - {{id: icmp6, type: iptables, ip_version: ipv6, chain: INPUT, protocol: ipv6-icmp, jump: ACCEPT, action: insert, state: {state}}}\n",
        policy = if state == "present" { "DROP" } else { "ACCEPT" },
    )
}

const EMPTY_FILTER: &str = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

#[test]
fn rules_chains_and_policies_are_added_changed_and_removed() {
    // A chain is made before the rules jumping to it; removed after them.
    let first = config(22, "present").replace(", depends_on: [to-web]", "");
    let root = FirewallRoot::new(Tools::Iptables, &first);
    let world = &root.world;

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    for line in [
        "create chain: iptables -w -t filter -N web",
        "add rule: iptables -w -t filter -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"ssh in\" -j ACCEPT",
        "add rule: iptables -w -t filter -A INPUT -p tcp -m multiport --dports 80,443 -j web",
        "set policy: iptables -w -t filter -P FORWARD DROP",
        "add rule: ip6tables -w -t filter -I INPUT 1 -p ipv6-icmp -j ACCEPT",
    ] {
        assert!(
            dry.stdout.contains(line),
            "missing `{line}`:\n{}",
            dry.all()
        );
    }
    assert_eq!(
        root.rules("iptables", "filter"),
        EMPTY_FILTER,
        "a dry run changed the rules"
    );

    let (plan_path, plan) = world.plan();
    for address in [
        "apply.web-chain",
        "apply.ssh",
        "apply.to-web",
        "apply.web-ok",
        "apply.icmp6",
    ] {
        assert_eq!(common::action(&plan, address), "create", "{address}");
    }
    assert_eq!(common::action(&plan, "apply.forward"), "update");
    let to_web = common::node(&plan, "apply.to-web");
    assert!(
        to_web["depends_on"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["address"] == "apply.web-chain" && d["reason"] == "firewall chain")),
        "{to_web:#}"
    );
    assert_eq!(
        root.rules("iptables", "filter"),
        EMPTY_FILTER,
        "a plan changed the rules"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.status_of("apply.ssh").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        root.rules("iptables", "filter"),
        "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-N web\n\
         -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"ssh in\" -j ACCEPT\n\
         -A INPUT -p tcp -m multiport --dports 80,443 -j web\n\
         -A web -s 10.0.0.0/8 -j ACCEPT\n"
    );
    assert!(
        root.rules("ip6tables", "filter")
            .contains("-A INPUT -p ipv6-icmp -j ACCEPT\n"),
        "{}",
        root.rules("ip6tables", "filter")
    );
    world.assert_converged();

    // The commented rule on another port: the old one deleted, the new one added.
    world.set_config(&config(2222, "present").replace(", depends_on: [to-web]", ""));
    let (_, plan) = world.plan();
    let ssh = common::node(&plan, "apply.ssh");
    assert_eq!(ssh["action"], "update", "{ssh:#}");
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(
        dry.stdout.contains(
            "delete rule: iptables -w -t filter -D INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"ssh in\" -j ACCEPT"
        ),
        "{}",
        dry.all()
    );
    world.apply();
    let rules = root.rules("iptables", "filter");
    assert!(
        rules.contains("--dport 2222 ") && !rules.contains("--dport 22 "),
        "{rules}"
    );
    assert_eq!(rules.matches("ssh in").count(), 1, "{rules}");
    world.assert_converged();

    // Everything removed: the rules, the chain (after the rule jumping to it), the policy back.
    world.set_config(&config(2222, "absent"));
    let (_, plan) = world.plan();
    for address in [
        "apply.web-chain",
        "apply.ssh",
        "apply.to-web",
        "apply.web-ok",
        "apply.icmp6",
    ] {
        assert_eq!(common::action(&plan, address), "delete", "{address}");
    }
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.web-chain").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert_eq!(root.rules("iptables", "filter"), EMPTY_FILTER);
    assert!(!root.rules("ip6tables", "filter").contains("-A INPUT"));
    world.assert_converged();
}

#[test]
fn a_plan_is_refused_when_a_rule_was_added_by_hand_since() {
    let config = "apply:\n  - {id: ssh, type: iptables, chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT}\n";
    let root = FirewallRoot::new(Tools::Iptables, config);
    let world = &root.world;
    let (plan_path, _) = world.plan();
    root.sh_ok("iptables -A INPUT -p tcp --dport 22 -j ACCEPT");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.ssh") && run.stderr.contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(
        root.rules("iptables", "filter")
            .matches("--dport 22")
            .count(),
        1,
        "a refused plan added the rule again"
    );
    // Planned again, the rule is there: nothing to do.
    world.assert_converged();
}

#[test]
fn a_chain_is_made_with_its_rule_and_a_rule_inserted_at_the_top() {
    let config = "apply:\n  \
        - {id: masq, type: iptables, table: nat, chain: masq, chain_management: true, out_interface: eth0, jump: MASQUERADE}\n  \
        - {id: to-masq, type: iptables, table: nat, chain: POSTROUTING, source: 10.8.0.0/24, jump: masq}\n  \
        - {id: top, type: iptables, chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT, action: insert, rule_num: 1}\n";
    let root = FirewallRoot::new(Tools::Iptables, config);
    let world = &root.world;
    root.sh_ok("iptables -A INPUT -p udp --dport 53 -j ACCEPT");
    let nat_before = root.rules("iptables", "nat");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("create chain: iptables -w -t nat -N masq")
            && dry
                .stdout
                .contains("add rule: iptables -w -t nat -A masq -o eth0 -j MASQUERADE")
            && dry
                .stdout
                .contains("add rule: iptables -w -t filter -I INPUT 1 -p tcp --dport 22 -j ACCEPT"),
        "{}",
        dry.all()
    );
    assert_eq!(
        root.rules("iptables", "nat"),
        nat_before,
        "a dry run changed the rules"
    );

    let run = world.apply();
    assert_eq!(
        run.status_of("apply.masq").as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    let nat = root.rules("iptables", "nat");
    assert!(
        nat.contains("-N masq\n")
            && nat.contains("-A POSTROUTING -s 10.8.0.0/24 -j masq\n")
            && nat.contains("-A masq -o eth0 -j MASQUERADE\n"),
        "{nat}"
    );
    let input: Vec<String> = root
        .rules("iptables", "filter")
        .lines()
        .filter(|l| l.starts_with("-A INPUT"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        input,
        [
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A INPUT -p udp -m udp --dport 53 -j ACCEPT"
        ]
    );
    world.assert_converged();
}
