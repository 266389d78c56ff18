//! The inventory of a fleet repo (`inventory.yaml` at the root of the config dir): hosts (by
//! name or glob pattern) and groups (member lists, fact conditions, child groups), each with
//! vars and the roles applied to it. Only its shape is checked here; which host is in which
//! group is decided by the template stage, which can evaluate fact conditions
//! (`crate::template` selects the host).

use super::node::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, Span, did_you_mean, one_of};

/// The file names an inventory may have, at the root of the config dir.
pub const FILE_NAMES: &[&str] = &["inventory.yaml", "inventory.yml"];

const TOP_KEYS: &[&str] = &["groups", "hosts"];
const GROUP_KEYS: &[&str] = &["hosts", "tag", "when", "children", "vars", "roles"];
const HOST_KEYS: &[&str] = &["vars", "roles"];
const ROLE_USE_KEYS: &[&str] = &["role", "name", "vars"];

#[derive(Debug, Default)]
pub struct Inventory {
    /// In the order written.
    pub groups: Vec<GroupDef>,
    /// In the order written; a key is a hostname or a glob pattern (`web-*`).
    pub hosts: Vec<HostDef>,
}

#[derive(Debug)]
pub struct GroupDef {
    pub name: Key,
    /// Hostnames or glob patterns.
    pub hosts: Vec<Node>,
    /// A tag: hosts with the tag file `/etc/driftless/tags/<tag>` (the `tags` fact) are members.
    pub tag: Option<String>,
    /// A condition on the host's facts, e.g. `facts.os.family == "debian"`.
    pub when: Option<Node>,
    /// Indices into [`Inventory::groups`]: their members are members of this group.
    pub children: Vec<usize>,
    pub vars: Option<Node>,
    pub roles: Vec<RoleUse>,
    /// The longest chain of parent groups above this one (0 for a group that is nobody's
    /// child). A deeper (more specific) group's vars override a shallower one's.
    pub depth: usize,
}

#[derive(Debug)]
pub struct HostDef {
    pub pattern: Key,
    pub vars: Option<Node>,
    pub roles: Vec<RoleUse>,
}

/// `{ role: nginx, name: site-a, vars: {…} }` in a group's or host's `roles`.
#[derive(Debug, Clone)]
pub struct RoleUse {
    pub role: String,
    pub role_span: Span,
    /// The instance name; without one, the instance is named after the role.
    pub name: Option<String>,
    pub vars: Option<Node>,
    pub span: Span,
}

impl RoleUse {
    /// The instance's name, the prefix of its task ids: `nginx` or `nginx[site-a]`.
    pub fn instance(&self) -> String {
        match &self.name {
            Some(name) => format!("{}[{name}]", self.role),
            None => self.role.clone(),
        }
    }
}

impl Inventory {
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name.name == name)
    }
}

/// Whether `name` matches the glob `pattern` (`*` any run of characters, `?` one character;
/// a pattern without either is an exact name).
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative glob matching with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Reads the inventory's tree; every mistake is a diagnostic at its place.
pub fn parse(root: &Node, diagnostics: &mut Diagnostics) -> Inventory {
    let mut inventory = Inventory::default();
    let Some(entries) = mapping(root, "the inventory", diagnostics) else {
        return inventory;
    };
    let mut children_written: Vec<Vec<&Node>> = Vec::new();
    for (key, value) in entries {
        match key.name.as_str() {
            "groups" => {
                for (name, body) in mapping(value, "`groups`", diagnostics).unwrap_or_default() {
                    check_name(name, "group", diagnostics);
                    if inventory.group_index(&name.name).is_some() {
                        diagnostics.push(twice("group", name));
                        continue;
                    }
                    let (group, children) = parse_group(name, body, diagnostics);
                    inventory.groups.push(group);
                    children_written.push(children);
                }
            }
            "hosts" => {
                for (pattern, body) in mapping(value, "`hosts`", diagnostics).unwrap_or_default() {
                    if inventory
                        .hosts
                        .iter()
                        .any(|h| h.pattern.name == pattern.name)
                    {
                        diagnostics.push(twice("host", pattern));
                        continue;
                    }
                    inventory.hosts.push(parse_host(pattern, body, diagnostics));
                }
            }
            other => diagnostics.push(unknown_key(other, key.span, "the inventory", TOP_KEYS)),
        }
    }
    resolve_children(&mut inventory, &children_written, diagnostics);
    inventory
}

fn parse_group<'a>(
    name: &Key,
    body: &'a Node,
    diagnostics: &mut Diagnostics,
) -> (GroupDef, Vec<&'a Node>) {
    let mut group = GroupDef {
        name: name.clone(),
        hosts: Vec::new(),
        tag: None,
        when: None,
        children: Vec::new(),
        vars: None,
        roles: Vec::new(),
        depth: 0,
    };
    let mut children = Vec::new();
    let what = format!("group `{}`", name.name);
    // `web: [web1, web2]` is the short form of `web: { hosts: [web1, web2] }`.
    if let Value::Seq(_) = body.value {
        group.hosts = strings(body, "a group's `hosts`", diagnostics);
        return (group, children);
    }
    for (key, value) in mapping(body, &what, diagnostics).unwrap_or_default() {
        match key.name.as_str() {
            "hosts" => group.hosts = strings(value, "a group's `hosts`", diagnostics),
            "tag" => group.tag = string(value, "`tag`", diagnostics),
            "when" => group.when = Some(value.clone()),
            "children" => {
                if let Value::Seq(items) = &value.value {
                    children.extend(items.iter());
                } else {
                    diagnostics.push(expected_list(value, "`children`"));
                }
            }
            "vars" => group.vars = Some(value.clone()),
            "roles" => group.roles = parse_roles(value, diagnostics),
            other => diagnostics.push(unknown_key(other, key.span, &what, GROUP_KEYS)),
        }
    }
    (group, children)
}

fn parse_host(pattern: &Key, body: &Node, diagnostics: &mut Diagnostics) -> HostDef {
    let mut host = HostDef {
        pattern: pattern.clone(),
        vars: None,
        roles: Vec::new(),
    };
    if matches!(body.value, Value::Null) {
        return host;
    }
    let what = format!("host `{}`", pattern.name);
    for (key, value) in mapping(body, &what, diagnostics).unwrap_or_default() {
        match key.name.as_str() {
            "vars" => host.vars = Some(value.clone()),
            "roles" => host.roles = parse_roles(value, diagnostics),
            other => diagnostics.push(unknown_key(other, key.span, &what, HOST_KEYS)),
        }
    }
    host
}

/// `roles: [nginx, { role: nginx, name: site-a, vars: {…} }]`.
fn parse_roles(node: &Node, diagnostics: &mut Diagnostics) -> Vec<RoleUse> {
    let Value::Seq(items) = &node.value else {
        diagnostics.push(expected_list(node, "`roles`"));
        return Vec::new();
    };
    let mut roles = Vec::new();
    for item in items {
        if let Some(role) = item.as_str() {
            roles.push(RoleUse {
                role: role.to_owned(),
                role_span: item.span,
                name: None,
                vars: None,
                span: item.span,
            });
            continue;
        }
        let Some(entries) = mapping(item, "a role use", diagnostics) else {
            continue;
        };
        let mut role = None;
        let mut name = None;
        let mut vars = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "role" => role = string(value, "`role`", diagnostics).map(|r| (r, value.span)),
                "name" => {
                    name = string(value, "`name`", diagnostics);
                    if let Some(n) = &name {
                        check_instance_name(n, value.span, diagnostics);
                    }
                }
                "vars" => vars = Some(value.clone()),
                other => {
                    diagnostics.push(unknown_key(other, key.span, "a role use", ROLE_USE_KEYS))
                }
            }
        }
        match role {
            Some((role, role_span)) => roles.push(RoleUse {
                role,
                role_span,
                name,
                vars,
                span: item.span,
            }),
            None => diagnostics.push(
                Diagnostic::error("a role use needs `role`")
                    .at(item.span)
                    .help("write `- { role: nginx, name: site-a, vars: { … } }`"),
            ),
        }
    }
    roles
}

/// Child names to indices, then the cycle check and each group's depth.
fn resolve_children(
    inventory: &mut Inventory,
    written: &[Vec<&Node>],
    diagnostics: &mut Diagnostics,
) {
    for (index, children) in written.iter().enumerate() {
        for child in children {
            let Some(name) = string(child, "a child group", diagnostics) else {
                continue;
            };
            match inventory.group_index(&name) {
                Some(found) => inventory.groups[index].children.push(found),
                None => diagnostics.push(
                    Diagnostic::error(format!("unknown group `{name}`"))
                        .at(child.span)
                        .help(
                            did_you_mean(
                                &name,
                                inventory.groups.iter().map(|g| g.name.name.as_str()),
                            )
                            .unwrap_or_else(|| "define it under `groups:`".to_owned()),
                        ),
                ),
            }
        }
    }
    if let Some(cycle) = find_cycle(inventory) {
        let path: Vec<&str> = cycle
            .iter()
            .map(|&i| inventory.groups[i].name.name.as_str())
            .collect();
        diagnostics.push(
            Diagnostic::error(format!("groups form a cycle: {}", path.join(" -> ")))
                .at(inventory.groups[cycle[0]].name.span)
                .help("a group cannot contain itself through `children`; remove one link"),
        );
        // Without depths the vars order is undefined: no group is used.
        for group in &mut inventory.groups {
            group.children.clear();
        }
        return;
    }
    // Depth: the longest chain of parents. Parents first, by relaxing until nothing changes
    // (the graph is acyclic, so at most `groups` rounds).
    for _ in 0..inventory.groups.len() {
        let mut changed = false;
        for parent in 0..inventory.groups.len() {
            let depth = inventory.groups[parent].depth + 1;
            for child in inventory.groups[parent].children.clone() {
                if inventory.groups[child].depth < depth {
                    inventory.groups[child].depth = depth;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// A cycle of `children`, as the path from a group back to itself.
fn find_cycle(inventory: &Inventory) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        inventory: &Inventory,
        at: usize,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[at] = Mark::Open;
        path.push(at);
        for &child in &inventory.groups[at].children {
            match marks[child] {
                Mark::Open => {
                    let start = path.iter().position(|&g| g == child).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(child);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(inventory, child, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[at] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; inventory.groups.len()];
    (0..inventory.groups.len()).find_map(|start| {
        (marks[start] == Mark::New)
            .then(|| visit(inventory, start, &mut marks, &mut Vec::new()))
            .flatten()
    })
}

fn mapping<'a>(
    node: &'a Node,
    what: &str,
    diagnostics: &mut Diagnostics,
) -> Option<&'a [(Key, Node)]> {
    match &node.value {
        Value::Map(entries) => Some(entries),
        Value::Null => Some(&[]),
        _ => {
            diagnostics.push(
                Diagnostic::error(format!("{what} must be a mapping, found {}", node.kind()))
                    .at(node.span),
            );
            None
        }
    }
}

fn string(node: &Node, what: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    match node.as_str() {
        Some(s) => Some(s.to_owned()),
        None => {
            diagnostics.push(
                Diagnostic::error(format!("{what} must be a string, found {}", node.kind()))
                    .at(node.span),
            );
            None
        }
    }
}

fn strings(node: &Node, what: &str, diagnostics: &mut Diagnostics) -> Vec<Node> {
    let Value::Seq(items) = &node.value else {
        diagnostics.push(expected_list(node, what));
        return Vec::new();
    };
    items
        .iter()
        .filter(|item| string(item, "a host name or pattern", diagnostics).is_some())
        .cloned()
        .collect()
}

fn expected_list(node: &Node, what: &str) -> Diagnostic {
    Diagnostic::error(format!("{what} must be a list, found {}", node.kind()))
        .at(node.span)
        .help("write a list: `[a, b]`")
}

fn unknown_key(name: &str, span: Span, what: &str, known: &[&str]) -> Diagnostic {
    Diagnostic::error(format!("unknown key `{name}` in {what}"))
        .at(span)
        .help(
            did_you_mean(name, known.iter().copied())
                .unwrap_or_else(|| format!("the keys are {}", one_of(known.iter().copied()))),
        )
}

fn twice(what: &str, key: &Key) -> Diagnostic {
    Diagnostic::error(format!("{what} `{}` is defined twice", key.name))
        .at(key.span)
        .label("defined again here")
        .help(format!("merge the two `{}` entries into one", key.name))
}

/// Group names appear in messages and `vars` output: letters, digits, `-`, `_`, `.`.
fn check_name(key: &Key, what: &str, diagnostics: &mut Diagnostics) {
    if !valid_name(&key.name) {
        diagnostics.push(
            Diagnostic::error(format!("`{}` is not a valid {what} name", key.name))
                .at(key.span)
                .help("use letters, digits and `-`, `_`, `.`"),
        );
    }
}

fn check_instance_name(name: &str, span: Span, diagnostics: &mut Diagnostics) {
    if !valid_name(name) {
        diagnostics.push(
            Diagnostic::error(format!("`{name}` is not a valid role instance name"))
                .at(span)
                .help("use letters, digits and `-`, `_`, `.`: it becomes part of task ids"),
        );
    }
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name != "."
        && name != ".."
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_names() {
        assert!(matches("web-*", "web-1"));
        assert!(matches("web?", "web1"));
        assert!(matches("db1", "db1"));
        assert!(!matches("db1", "db10"));
        assert!(!matches("web-*", "db-1"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
    }
}
