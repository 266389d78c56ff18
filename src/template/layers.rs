//! Vars in layers, lowest to highest: role defaults < repo vars < group vars (shallower groups
//! first) < host vars < role parameters and task vars < `-e`. A name set at two layers is an
//! override; a name set twice within one layer (two repo files, two groups at the same depth,
//! two host entries) is an error, since no order between them would be obvious to a reader.
//!
//! Every definition keeps where it was written, so `driftless vars NAME` can say which one wins
//! and which it shadows.

use std::collections::HashMap;
use std::sync::Arc;

use super::fleet::Selection;
use super::scope::GlobalVar;
use crate::config::{Key, LoadedConfig, Node, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap};

/// A layer of vars, in precedence order (a later one overrides an earlier one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    RoleDefaults,
    Repo,
    /// With the group's depth: a deeper (child) group overrides a shallower one.
    Group(usize),
    Host,
    /// A role use's `vars:`: at the level of task vars, inside the instance's tasks only.
    RoleParams,
    Extra,
}

/// One place a var is set.
#[derive(Debug, Clone)]
pub struct Definition<'a> {
    pub key: &'a Key,
    pub value: &'a Node,
    pub layer: Layer,
    /// What set it: `repo`, `group web`, `host web1`, `role nginx[site-a]`, `-e`.
    pub owner: String,
    /// For role layers: the instance whose tasks see it.
    pub instance: Option<String>,
}

impl Layer {
    pub fn describe(self) -> &'static str {
        match self {
            Layer::RoleDefaults => "role defaults",
            Layer::Repo => "repo vars",
            Layer::Group(_) => "group vars",
            Layer::Host => "host vars",
            Layer::RoleParams => "role vars",
            Layer::Extra => "-e",
        }
    }
}

/// Every definition the host sees, lowest layer first (role layers included, each naming its
/// instance). Mistakes in the shape of a `vars` mapping are diagnosed here.
pub fn collect<'a>(
    loaded: &'a LoadedConfig,
    selection: &'a Selection,
    diagnostics: &mut Diagnostics,
) -> Vec<Definition<'a>> {
    let mut defs = Vec::new();
    let mut add = |node: &'a Node, layer: Layer, owner: String, instance: Option<String>| {
        for (key, value) in entries(node, diagnostics) {
            defs.push(Definition {
                key,
                value,
                layer,
                owner: owner.clone(),
                instance: instance.clone(),
            });
        }
    };
    if let Some(fleet) = &loaded.fleet {
        for role_use in &selection.roles {
            if let Some(defaults) = fleet
                .roles
                .get(&role_use.role)
                .and_then(|r| r.defaults.as_ref())
            {
                let instance = role_use.instance();
                add(
                    defaults,
                    Layer::RoleDefaults,
                    format!("role {instance}"),
                    Some(instance),
                );
            }
        }
    }
    for node in loaded.documents.iter().filter_map(|d| d.vars.as_ref()) {
        add(node, Layer::Repo, "repo".to_owned(), None);
    }
    if let Some(fleet) = &loaded.fleet {
        let inventory = &fleet.inventory;
        for &g in &selection.groups {
            let group = &inventory.groups[g];
            if let Some(vars) = &group.vars {
                add(
                    vars,
                    Layer::Group(group.depth),
                    format!("group {}", group.name.name),
                    None,
                );
            }
        }
        for &h in &selection.hosts {
            let host = &inventory.hosts[h];
            if let Some(vars) = &host.vars {
                add(
                    vars,
                    Layer::Host,
                    format!("host {}", host.pattern.name),
                    None,
                );
            }
        }
        for role_use in &selection.roles {
            if let Some(vars) = &role_use.vars {
                let instance = role_use.instance();
                add(
                    vars,
                    Layer::RoleParams,
                    format!("role {instance}"),
                    Some(instance),
                );
            }
        }
    }
    for (key, value) in &loaded.extra_vars {
        if let Some(reserved) = super::check_var_name(&key.name) {
            diagnostics.push(reserved.at(key.span));
            continue;
        }
        defs.push(Definition {
            key,
            value,
            layer: Layer::Extra,
            owner: "command line".to_owned(),
            instance: None,
        });
    }
    defs
}

fn entries<'a>(node: &'a Node, diagnostics: &mut Diagnostics) -> Vec<(&'a Key, &'a Node)> {
    let Value::Map(entries) = &node.value else {
        diagnostics.push(
            Diagnostic::error(format!("`vars` must be a mapping, found {}", node.kind()))
                .at(node.span)
                .help("write `vars:` followed by `name: value` lines"),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(key, _)| match super::check_var_name(&key.name) {
            Some(reserved) => {
                diagnostics.push(reserved.at(key.span));
                false
            }
            None => true,
        })
        .map(|(k, v)| (k, v))
        .collect()
}

/// The vars every task of the host sees (repo, group, host, `-e`), each the winner of its
/// layers. A name twice within one layer is an error at the second.
pub fn host_vars(
    defs: &[Definition<'_>],
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> HashMap<String, Arc<GlobalVar>> {
    let shared = defs.iter().filter(|d| d.instance.is_none());
    winners(shared, sources, diagnostics)
}

/// The defaults of one role instance.
pub fn role_defaults(
    defs: &[Definition<'_>],
    instance: &str,
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> HashMap<String, Arc<GlobalVar>> {
    let own = defs
        .iter()
        .filter(|d| d.layer == Layer::RoleDefaults && d.instance.as_deref() == Some(instance));
    winners(own, sources, diagnostics)
}

fn winners<'d, 'a: 'd>(
    defs: impl Iterator<Item = &'d Definition<'a>>,
    sources: &SourceMap,
    diagnostics: &mut Diagnostics,
) -> HashMap<String, Arc<GlobalVar>> {
    let mut vars: HashMap<String, (Layer, &Definition<'_>, Arc<GlobalVar>)> = HashMap::new();
    for def in defs {
        let name = &def.key.name;
        if let Some((layer, first, _)) = vars.get(name)
            && *layer == def.layer
            && def.layer != Layer::Extra
        {
            diagnostics.push(defined_twice(first, def, sources));
            continue;
        }
        let var = Arc::new(GlobalVar::new(
            def.key,
            def.value,
            def.layer == Layer::Extra,
        ));
        vars.insert(name.clone(), (def.layer, def, var));
    }
    vars.into_iter()
        .map(|(name, (_, _, var))| (name, var))
        .collect()
}

fn defined_twice(
    first: &Definition<'_>,
    again: &Definition<'_>,
    sources: &SourceMap,
) -> Diagnostic {
    let span = first.key.span;
    let (line, _) = sources.line_col(span.file, span.start);
    let at = format!("{}:{line}", sources.path(span.file));
    let name = &again.key.name;
    let diagnostic = Diagnostic::error(format!("var `{name}` is defined twice"))
        .at(again.key.span)
        .label("defined again here");
    match again.layer {
        Layer::Repo => diagnostic.help(format!(
            "first defined in {at}; vars of all files share one namespace, rename or remove one"
        )),
        Layer::Group(_) => diagnostic.help(format!(
            "{} sets it too ({at}), and neither group is inside the other, so neither wins; \
             set it in one group only, in a child group of both, or in the host's vars",
            first.owner
        )),
        _ => diagnostic.help(format!(
            "{} sets it too ({at}); set it once per layer",
            first.owner
        )),
    }
}

/// One definition of a var as `driftless vars` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// `host vars`, `group vars`, …
    pub layer: &'static str,
    /// `host web1`, `group web`, `role nginx[site-a]`, `repo`, `-e`.
    pub owner: String,
    /// `file:line:col` of the name.
    pub location: String,
    /// The value as JSON, or `(sensitive)`.
    pub value: String,
    /// `wins`, `wins in nginx[site-a]`, or `shadowed`.
    pub status: String,
}

/// Every definition of `name` the host sees, the winning one first.
pub fn explain(defs: &[Definition<'_>], name: &str, sources: &SourceMap) -> Vec<Shown> {
    let mine: Vec<&Definition<'_>> = defs.iter().filter(|d| d.key.name == name).collect();
    let shared_top = mine.iter().rposition(|d| d.instance.is_none());
    let shown = mine.iter().enumerate().rev().map(|(index, def)| {
        let status = match &def.instance {
            None if Some(index) == shared_top => "wins".to_owned(),
            None => "shadowed".to_owned(),
            Some(instance) => {
                // Inside its instance a role's vars lose only to layers above them.
                let beaten = mine[index + 1..].iter().any(|above| {
                    above.instance.is_none() || above.instance.as_deref() == Some(instance)
                });
                if beaten {
                    "shadowed".to_owned()
                } else {
                    format!("wins in {instance}")
                }
            }
        };
        let span = def.key.span;
        let (line, col) = sources.line_col(span.file, span.start);
        Shown {
            layer: def.layer.describe(),
            owner: def.owner.clone(),
            location: format!("{}:{line}:{col}", sources.path(span.file)),
            value: if def.value.any_sensitive() {
                "(sensitive)".to_owned()
            } else {
                node_json(def.value).to_string()
            },
            status,
        }
    });
    shown.collect()
}

/// A var's value as JSON, for display: strings quoted, so `"8"` and `8` differ.
fn node_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as Json;
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::from(*f),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(node_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), node_json(v)))
                .collect(),
        ),
    }
}
