//! `ufw` with Debian's real ufw (over iptables, nft backend) in a throwaway root with a network
//! namespace of its own ([`FirewallRoot`], which checks the host's rules are untouched): rules
//! added, default policies set and ufw enabled; a second apply that changes nothing; a
//! commented rule changed (replaced); rules deleted and ufw disabled; dry runs that change
//! nothing; and a plan refused when the rule was added by hand after it.

use crate::common;
use crate::firewall_root::{FirewallRoot, Tools};

fn config(ssh_port: u16, delete: bool, incoming: &str, state: &str) -> String {
    format!(
        "apply:\n  \
         - {{id: ssh, type: ufw, rule: allow, direction: in, interface: eth0, from_ip: 10.0.0.0/8, to_port: {ssh_port}, proto: tcp, comment: ssh admins, delete: {delete}}}\n  \
         - {{id: dns6, type: ufw, rule: deny, direction: out, to_ip: \"2001:db8::/32\", to_port: 53, proto: udp, delete: {delete}}}\n  \
         - {{id: web, type: ufw, rule: limit, to_port: 443, proto: tcp, delete: {delete}}}\n  \
         - {{id: incoming, type: ufw, default: {incoming}, direction: incoming}}\n  \
         - {{id: on, type: ufw, state: {state}}}\n"
    )
}

fn added(root: &FirewallRoot) -> String {
    root.sh_ok("ufw show added")
}

#[test]
fn rules_defaults_and_the_state_are_set_changed_and_removed() {
    let root = FirewallRoot::new(
        Tools::IptablesAndUfw,
        &config(22, false, "reject", "enabled"),
    );
    let world = &root.world;
    let nothing_added = added(&root);
    assert!(nothing_added.contains("(None)"), "{nothing_added}");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    for line in [
        "add rule: ufw allow in on eth0 from 10.0.0.0/8 to any port 22 proto tcp comment \"ssh admins\"",
        "add rule: ufw deny out from any to 2001:db8::/32 port 53 proto udp",
        "add rule: ufw limit from any to any port 443 proto tcp",
        "set default policy: ufw default reject incoming",
        "enable ufw: ufw --force enable",
    ] {
        assert!(
            dry.stdout.contains(line),
            "missing `{line}`:\n{}",
            dry.all()
        );
    }
    assert_eq!(added(&root), nothing_added, "a dry run added rules");
    assert!(root.sh_ok("ufw status").starts_with("Status: inactive"));

    let (plan_path, plan) = world.plan();
    for address in ["apply.ssh", "apply.dns6", "apply.web"] {
        assert_eq!(common::action(&plan, address), "create", "{address}");
    }
    assert_eq!(common::action(&plan, "apply.incoming"), "update");
    assert_eq!(common::action(&plan, "apply.on"), "update");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let rules = added(&root);
    for rule in [
        "ufw allow in on eth0 from 10.0.0.0/8 to any port 22 proto tcp comment 'ssh admins'",
        "ufw deny out to 2001:db8::/32 port 53 proto udp",
        "ufw limit 443/tcp",
    ] {
        assert!(rules.contains(rule), "missing `{rule}`:\n{rules}");
    }
    let status = root.sh_ok("ufw status verbose");
    assert!(
        status.starts_with("Status: active") && status.contains("Default: reject (incoming)"),
        "{status}"
    );
    assert!(
        root.rules("iptables", "filter")
            .contains("-N ufw-user-input")
    );
    world.assert_converged();

    // The commented rule on another port: the old one deleted, the new one added.
    world.set_config(&config(2222, false, "reject", "enabled"));
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.ssh"), "update");
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(
        dry.stdout.contains(
            "delete rule: ufw delete allow in on eth0 from 10.0.0.0/8 to any port 22 proto tcp comment \"ssh admins\""
        ),
        "{}",
        dry.all()
    );
    world.apply();
    let rules = added(&root);
    assert!(
        rules.contains("port 2222 proto tcp comment 'ssh admins'"),
        "{rules}"
    );
    assert!(!rules.contains("port 22 proto"), "{rules}");
    world.assert_converged();

    // Deleted, the default back, ufw off.
    world.set_config(&config(2222, true, "deny", "disabled"));
    let (_, plan) = world.plan();
    for address in ["apply.ssh", "apply.dns6", "apply.web"] {
        assert_eq!(common::action(&plan, address), "delete", "{address}");
    }
    world.apply();
    assert!(added(&root).contains("(None)"), "{}", added(&root));
    assert!(root.sh_ok("ufw status").starts_with("Status: inactive"));
    assert!(
        root.sh_ok("grep DEFAULT_INPUT_POLICY /etc/default/ufw")
            .contains("\"DROP\"")
    );
    world.assert_converged();
}

#[test]
fn a_plan_is_refused_when_the_rule_was_added_by_hand_since() {
    let config = "apply:\n  - {id: ssh, type: ufw, rule: allow, to_port: 22, proto: tcp}\n";
    let root = FirewallRoot::new(Tools::IptablesAndUfw, config);
    let world = &root.world;
    let (plan_path, _) = world.plan();
    root.sh_ok("ufw allow from any to any port 22 proto tcp");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.ssh") && run.stderr.contains("changed since the plan"),
        "{}",
        run.all()
    );
    assert_eq!(
        added(&root).matches("22/tcp").count(),
        1,
        "{}",
        added(&root)
    );
    world.assert_converged();
}
