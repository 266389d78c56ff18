//! The parts of a fleet repo that are not plain config files: the inventory, the roles it
//! applies (`roles/<name>/{tasks,handlers,defaults}/main.yaml`, with `templates/` and
//! `files/` beside them) and the task files named by `include:`.
//!
//! A config dir is a fleet repo when it has an `inventory.yaml` at its root; then `roles/` and
//! `facts/` (recorded facts) at its root are not read as config. Include files are loaded in
//! every config dir; the top-level `tasks/` directory holds them and is never read as config.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::inventory::{self, Inventory};
use super::node::{Node, Value};
use super::{ConfigDir, Document, Format, read_config_file};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span, did_you_mean};

/// Top-level directories of a fleet repo that are not config.
pub const FLEET_DIRS: &[&str] = &["roles", "facts"];
/// The top-level directory of include files: never config.
pub const INCLUDE_DIR: &str = "tasks";

/// Include files nest at most this deep (a cycle of includes stops here, with an error).
pub const MAX_INCLUDE_DEPTH: usize = 16;

#[derive(Debug, Default)]
pub struct Fleet {
    pub inventory: Inventory,
    /// The roles the inventory applies, by name.
    pub roles: BTreeMap<String, Role>,
}

#[derive(Debug, Default)]
pub struct Role {
    pub name: String,
    /// `roles/<name>/`, relative to the config dir.
    pub dir: String,
    pub tasks: Vec<Node>,
    pub handlers: Vec<Node>,
    /// The mapping of `defaults/main.yaml`: the lowest layer of vars.
    pub defaults: Option<Node>,
}

/// Task files named by `include:`, by their path relative to the config dir.
pub type Includes = HashMap<String, Vec<Node>>;

/// The inventory file of `dir`, if it is a fleet repo.
pub fn inventory_path(dir: &Path) -> Option<&'static str> {
    inventory::FILE_NAMES
        .iter()
        .copied()
        .find(|name| dir.join(name).is_file())
}

/// Reads the inventory and every role it applies.
pub fn load(
    config_dir: &ConfigDir,
    inventory_file: &str,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Fleet {
    let mut fleet = Fleet::default();
    let Some(root) = read(config_dir, inventory_file, sources, diagnostics) else {
        return fleet;
    };
    fleet.inventory = inventory::parse(&root, diagnostics);
    let uses = fleet
        .inventory
        .groups
        .iter()
        .flat_map(|g| &g.roles)
        .chain(fleet.inventory.hosts.iter().flat_map(|h| &h.roles));
    let known = role_names(config_dir.path());
    for role_use in uses {
        if fleet.roles.contains_key(&role_use.role) {
            continue;
        }
        if !inventory::valid_name(&role_use.role) || !known.contains(&role_use.role) {
            diagnostics.push(
                Diagnostic::error(format!("unknown role `{}`", role_use.role))
                    .at(role_use.role_span)
                    .help(
                        did_you_mean(&role_use.role, known.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                if inventory::valid_name(&role_use.role) {
                                    format!(
                                        "a role is a directory roles/{}/ with tasks/main.yaml",
                                        role_use.role
                                    )
                                } else {
                                    "a role is named by its directory under roles/: letters, \
                                     digits and `-`, `_`, `.`"
                                        .to_owned()
                                }
                            }),
                    ),
            );
            continue;
        }
        let role = load_role(config_dir, &role_use.role, sources, diagnostics);
        fleet.roles.insert(role_use.role.clone(), role);
    }
    fleet
}

fn role_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("roles"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn load_role(
    config_dir: &ConfigDir,
    name: &str,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Role {
    let dir = format!("roles/{name}");
    let main = |part: &str| {
        ["yaml", "yml"]
            .iter()
            .map(|ext| format!("{dir}/{part}/main.{ext}"))
            .find(|p| config_dir.path().join(p).is_file())
    };
    let mut role = Role {
        name: name.to_owned(),
        dir: dir.clone(),
        ..Role::default()
    };
    for (part, slot) in [("tasks", &mut role.tasks), ("handlers", &mut role.handlers)] {
        if let Some(path) = main(part)
            && let Some(node) = read(config_dir, &path, sources, diagnostics)
        {
            *slot = task_list(node, &path, diagnostics);
        }
    }
    if let Some(path) = main("defaults")
        && let Some(node) = read(config_dir, &path, sources, diagnostics)
    {
        match node.value {
            Value::Map(_) => role.defaults = Some(node),
            Value::Null => {}
            _ => diagnostics.push(
                Diagnostic::error(format!(
                    "{path} must be a mapping of vars, found {}",
                    node.kind()
                ))
                .at(node.span)
                .help("write `name: value` lines: the role's default vars"),
            ),
        }
    }
    role
}

/// A task file (a role's tasks or handlers, an include file) is a list of tasks.
fn task_list(node: Node, path: &str, diagnostics: &mut Diagnostics) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Null => Vec::new(),
        _ => {
            diagnostics.push(
                Diagnostic::error(format!(
                    "{path} must be a list of tasks, found {}",
                    node.kind()
                ))
                .at(node.span)
                .help("write `- type: …` items, as under `apply:`"),
            );
            Vec::new()
        }
    }
}

/// Reads and parses one file of the config dir, registering it in `sources`.
fn read(
    config_dir: &ConfigDir,
    relative: &str,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Option<Node> {
    let path = match config_dir.resolve_asset(relative) {
        Ok(path) => path,
        Err(why) => {
            diagnostics.push(Diagnostic::error(why));
            return None;
        }
    };
    let text = match read_config_file(&path, relative, config_dir.real()) {
        Ok(text) => text,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return None;
        }
    };
    let format = Format::of(&path);
    let id = sources.add(relative.to_owned(), path, text);
    match format.parse(sources.text(id), id) {
        Ok(node) => Some(node),
        Err(errors) => {
            errors.into_iter().for_each(|d| diagnostics.push(d));
            None
        }
    }
}

/// Loads every file `include:` names in the repo's task lists, the roles' and (recursively)
/// the included files', and rewrites each `include:` to the path it resolved to: inside a role
/// an include names a file of the role first (`roles/<r>/<path>`), then of the repo.
pub fn load_includes(
    config_dir: &ConfigDir,
    documents: &mut [Document],
    fleet: Option<&mut Fleet>,
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) -> Includes {
    let mut includes = Includes::new();
    let mut loader = IncludeLoader {
        config_dir,
        sources,
        diagnostics,
        includes: &mut includes,
    };
    for document in documents {
        for list in [&mut document.apply, &mut document.handlers]
            .into_iter()
            .flatten()
        {
            if let Value::Seq(items) = &mut list.value {
                loader.list(items, None, 0);
            }
        }
    }
    if let Some(fleet) = fleet {
        for role in fleet.roles.values_mut() {
            let dir = role.dir.clone();
            loader.list(&mut role.tasks, Some(&dir), 0);
            loader.list(&mut role.handlers, Some(&dir), 0);
        }
    }
    includes
}

struct IncludeLoader<'a> {
    config_dir: &'a ConfigDir,
    sources: &'a mut SourceMap,
    diagnostics: &'a mut Diagnostics,
    includes: &'a mut Includes,
}

impl IncludeLoader<'_> {
    fn list(&mut self, items: &mut [Node], role_dir: Option<&str>, depth: usize) {
        for item in items {
            let Value::Map(entries) = &mut item.value else {
                continue;
            };
            let Some((_, target)) = entries.iter_mut().find(|(k, _)| k.name == "include") else {
                continue;
            };
            let Some(written) = target.as_str().map(str::to_owned) else {
                continue; // the template stage reports a non-string include
            };
            let resolved = role_dir
                .map(|dir| format!("{dir}/{written}"))
                .filter(|p| self.config_dir.path().join(p).is_file())
                .unwrap_or(written);
            target.value = Value::Str(resolved.clone());
            self.file(&resolved, target.span, role_dir, depth);
        }
    }

    fn file(&mut self, relative: &str, span: Span, role_dir: Option<&str>, depth: usize) {
        if self.includes.contains_key(relative) || depth >= MAX_INCLUDE_DEPTH {
            return;
        }
        let path = match self.config_dir.resolve_asset(relative) {
            Ok(path) => path,
            Err(why) => {
                self.diagnostics.push(
                    Diagnostic::error(format!("include refused: {why}"))
                        .at(span)
                        .help("include task files of the config dir, e.g. tasks/common.yaml"),
                );
                return;
            }
        };
        if !path.is_file() {
            self.diagnostics.push(
                Diagnostic::error(format!("no task file `{relative}` to include"))
                    .at(span)
                    .help("name a file of task items relative to the config dir, e.g. tasks/common.yaml"),
            );
            return;
        }
        let Some(node) = read(self.config_dir, relative, self.sources, self.diagnostics) else {
            return;
        };
        let mut tasks = task_list(node, relative, self.diagnostics);
        // Inserted first: an include of itself finds it and stops (the template stage reports
        // the cycle when it expands it).
        self.includes.insert(relative.to_owned(), Vec::new());
        self.list(&mut tasks, role_dir, depth + 1);
        self.includes.insert(relative.to_owned(), tasks);
    }
}
