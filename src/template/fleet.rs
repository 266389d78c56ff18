//! Which parts of a fleet repo one host sees: the host entries that name it, the groups it is
//! in (by name or pattern, by a condition on its facts, or through a child group), in the
//! order their vars apply, and the role instances those apply.

use std::collections::BTreeMap;

use crate::config::inventory::{self, Inventory, RoleUse};
use crate::config::{Fleet, Node};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// One host's view of the inventory.
#[derive(Debug, Default)]
pub struct Selection {
    /// The name the host is selected by (its hostname fact, or `--host`).
    pub host: String,
    /// Indices of the groups the host is in, in the order their vars apply: shallower groups
    /// first (parents before children), then in the order written.
    pub groups: Vec<usize>,
    /// Indices of the host entries whose name or pattern matches.
    pub hosts: Vec<usize>,
    /// The role instances applied to the host: its groups' (in the order above), then its
    /// host entries'.
    pub roles: Vec<RoleUse>,
}

impl Selection {
    /// Whether the inventory names the host at all (directly or through a group).
    pub fn is_known(&self) -> bool {
        !self.groups.is_empty() || !self.hosts.is_empty()
    }
}

/// Selects `host` (with the tags `tags`) in the fleet. `condition` evaluates a group's `when`
/// on the host's facts (`None`: could not be evaluated, already diagnosed).
pub fn select(
    fleet: &Fleet,
    host: &str,
    tags: &[String],
    condition: impl Fn(&Node, &mut Diagnostics) -> Option<bool>,
    diagnostics: &mut Diagnostics,
) -> Selection {
    let inventory = &fleet.inventory;
    let direct: Vec<bool> = inventory
        .groups
        .iter()
        .map(|group| {
            let listed = group
                .hosts
                .iter()
                .filter_map(Node::as_str)
                .any(|pattern| inventory::matches(pattern, host));
            let tagged = group.tag.as_ref().is_some_and(|tag| tags.contains(tag));
            listed
                || tagged
                || group
                    .when
                    .as_ref()
                    .is_some_and(|when| condition(when, diagnostics) == Some(true))
        })
        .collect();
    let mut member = direct.clone();
    // A member of a child group is a member of its parents: relax until stable (children are
    // acyclic, checked when loading).
    for _ in 0..inventory.groups.len() {
        let mut changed = false;
        for (parent, group) in inventory.groups.iter().enumerate() {
            if !member[parent] && group.children.iter().any(|&c| member[c]) {
                member[parent] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut groups: Vec<usize> = (0..inventory.groups.len()).filter(|&g| member[g]).collect();
    groups.sort_by_key(|&g| inventory.groups[g].depth);
    let hosts: Vec<usize> = inventory
        .hosts
        .iter()
        .enumerate()
        .filter(|(_, h)| inventory::matches(&h.pattern.name, host))
        .map(|(i, _)| i)
        .collect();
    let roles = roles_of(inventory, &groups, &hosts, diagnostics);
    Selection {
        host: host.to_owned(),
        groups,
        hosts,
        roles,
    }
}

/// The role instances of the host; one instance name applied twice is an error (its task ids
/// would collide): give one a `name:`.
fn roles_of(
    inventory: &Inventory,
    groups: &[usize],
    hosts: &[usize],
    diagnostics: &mut Diagnostics,
) -> Vec<RoleUse> {
    let uses = groups
        .iter()
        .flat_map(|&g| &inventory.groups[g].roles)
        .chain(hosts.iter().flat_map(|&h| &inventory.hosts[h].roles));
    let mut seen: BTreeMap<String, &RoleUse> = BTreeMap::new();
    let mut roles = Vec::new();
    for role_use in uses {
        let instance = role_use.instance();
        if seen.contains_key(&instance) {
            diagnostics.push(
                Diagnostic::error(format!(
                    "role instance `{instance}` is applied twice to this host"
                ))
                .at(role_use.span)
                .help(format!(
                    "give each use its own instance name: `{{ role: {}, name: … }}`",
                    role_use.role
                )),
            );
            continue;
        }
        seen.insert(instance, role_use);
        roles.push(role_use.clone());
    }
    roles
}
