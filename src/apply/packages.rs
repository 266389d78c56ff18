//! The package family: the `package` type's nodes observed, planned and run together.
//!
//! Each manager (one file under `packages/`) gives three things: the **one query** that
//! observes any number of packages (installed version and candidate — the version the
//! manager would install), the parser of that query's output, and the **transaction** that
//! installs the planned versions (pinned where the manager can pin) and removes packages.
//! Planning runs the query once per manager for all the tasks of the plan; `execute` runs it
//! once again for all the nodes before changing anything (a node whose installed version or
//! candidate moved is stale), and the scheduler hands the family all its ready nodes at once
//! (holding the exclusive package-manager lock), which become one transaction.

mod apk;
mod apt;
mod dnf;
mod pacman;
mod version;
mod zypper;

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
};
use super::package::{PackageState, PackageTask};
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::process::{self, Finished, Invocation};

pub use version::compare as compare_versions;

/// The exclusive claim every package node holds: one package-manager transaction at a time.
pub const PACKAGE_MANAGER_LOCK: &str = "package manager";

/// The manager a task names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManagerChoice {
    /// Detected on the host: the first of apt, dnf, yum, apk, pacman, zypper found.
    #[default]
    Auto,
    Apt,
    Dnf,
    Yum,
    Apk,
    Pacman,
    Zypper,
}

/// A package manager driftless drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagerKind {
    Apt,
    Dnf,
    Yum,
    Apk,
    Pacman,
    Zypper,
}

impl ManagerKind {
    const DETECTION_ORDER: [(ManagerKind, &'static str); 6] = [
        (ManagerKind::Apt, "apt-get"),
        (ManagerKind::Dnf, "dnf"),
        (ManagerKind::Yum, "yum"),
        (ManagerKind::Apk, "apk"),
        (ManagerKind::Pacman, "pacman"),
        (ManagerKind::Zypper, "zypper"),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ManagerKind::Apt => "apt",
            ManagerKind::Dnf => "dnf",
            ManagerKind::Yum => "yum",
            ManagerKind::Apk => "apk",
            ManagerKind::Pacman => "pacman",
            ManagerKind::Zypper => "zypper",
        }
    }

    fn driver(self) -> &'static dyn Manager {
        match self {
            ManagerKind::Apt => &apt::Apt,
            ManagerKind::Dnf => &dnf::Dnf::DNF,
            ManagerKind::Yum => &dnf::Dnf::YUM,
            ManagerKind::Apk => &apk::Apk,
            ManagerKind::Pacman => &pacman::Pacman,
            ManagerKind::Zypper => &zypper::Zypper,
        }
    }

    /// The manager found on this host, by its program on the `PATH` programs run with.
    pub fn detect() -> Option<ManagerKind> {
        Self::DETECTION_ORDER
            .into_iter()
            .find(|(_, program)| process::installed(program))
            .map(|(kind, _)| kind)
    }

    fn resolve(choice: ManagerChoice) -> Result<ManagerKind, String> {
        Ok(match choice {
            ManagerChoice::Auto => {
                return Self::detect().ok_or_else(|| {
                    "no package manager found on this host (looked for apt-get, dnf, yum, apk, \
                     pacman, zypper)"
                        .to_owned()
                });
            }
            ManagerChoice::Apt => ManagerKind::Apt,
            ManagerChoice::Dnf => ManagerKind::Dnf,
            ManagerChoice::Yum => ManagerKind::Yum,
            ManagerChoice::Apk => ManagerKind::Apk,
            ManagerChoice::Pacman => ManagerKind::Pacman,
            ManagerChoice::Zypper => ManagerKind::Zypper,
        })
    }
}

/// What the manager says of one package: the version installed and the one it would install.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    pub installed: Option<String>,
    pub candidate: Option<String>,
    /// Every version the manager could install, when its query lists them (to refuse a pinned
    /// version it does not have at plan time rather than in the transaction).
    #[serde(skip)]
    pub available: Option<Vec<String>>,
}

/// The packages a transaction installs (at these versions) and removes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub install: Vec<(String, String)>,
    pub remove: Vec<String>,
}

/// One package manager: its query, the query's parser, its transaction.
pub trait Manager: Sync {
    /// The one invocation that observes all of `names`.
    fn query(&self, names: &[&str]) -> Invocation;

    /// What the query said of each package it knows (a package it does not know is left out).
    fn parse(&self, finished: &Finished) -> Result<BTreeMap<String, Versions>, String>;

    /// The invocations making the change: one transaction where the manager can install and
    /// remove together.
    fn transaction(&self, change: &Change) -> Vec<Invocation>;

    /// Refreshes the package index.
    fn refresh(&self) -> Invocation;

    /// How old the package index is, when the manager keeps a place that says.
    fn index_age(&self) -> Option<std::time::Duration> {
        None
    }

    /// The installed version of every package, read from the manager's database without
    /// starting a program, when driftless reads that database (dpkg's status file).
    fn installed_database(&self) -> Option<Result<BTreeMap<String, String>, String>> {
        None
    }

    /// After a successful refresh: record its time where [`Manager::index_age`] reads it.
    fn refreshed(&self) {}

    /// Whether it can install a version other than its candidate (pacman cannot).
    fn pins_versions(&self) -> bool {
        true
    }
}

/// Observes `names`: their installed versions, and the candidates of those for which
/// `needs_candidate(name, installed)` says the candidate decides something. A manager whose
/// database driftless reads (dpkg's) is asked only for those, in one query (none when no
/// candidate matters); the others answer everything in one query.
pub fn observe(
    kind: ManagerKind,
    names: &[&str],
    needs_candidate: &dyn Fn(&str, Option<&str>) -> bool,
) -> Result<BTreeMap<String, Versions>, String> {
    let driver = kind.driver();
    let Some(database) = driver.installed_database() else {
        return query(driver, names);
    };
    let database = database?;
    let asked: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| needs_candidate(name, database.get(*name).map(String::as_str)))
        .collect();
    let mut answered = query(driver, &asked)?;
    Ok(names
        .iter()
        .map(|&name| {
            let mut versions = answered.remove(name).unwrap_or_default();
            versions.installed = database.get(name).cloned();
            (name.to_owned(), versions)
        })
        .collect())
}

/// Runs the manager's one query for `names` (none for no names).
fn query(driver: &dyn Manager, names: &[&str]) -> Result<BTreeMap<String, Versions>, String> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let invocation = driver.query(names);
    let finished = process::run(&invocation).map_err(|e| e.message)?;
    if finished.timed_out {
        return Err(format!("{} did not finish in time", invocation.program()));
    }
    driver.parse(&finished)
}

/// A package name's rule: what Debian and RPM accept, never an option or shell syntax.
pub fn valid_name(name: &str, manager: ManagerChoice) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty".to_owned());
    };
    if name.len() > 128 {
        return Err("it is longer than 128 characters".to_owned());
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "it starts with `{}`",
            crate::printable::escape(&first.to_string())
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-')))
    {
        return Err(format!(
            "`{}` may not be in a package name",
            crate::printable::escape(&bad.to_string())
        ));
    }
    if manager == ManagerChoice::Apt {
        if name.len() < 2 {
            return Err("Debian package names are at least two characters long".to_owned());
        }
        if name.chars().any(|c| c.is_ascii_uppercase() || c == '_') {
            return Err("Debian package names are lowercase, without `_`".to_owned());
        }
    }
    Ok(())
}

/// A version's rule: what Debian and RPM versions are made of (epoch, `~`, release).
pub fn valid_version(version: &str) -> Result<(), String> {
    let Some(first) = version.chars().next() else {
        return Err("it is empty".to_owned());
    };
    if version.len() > 128 {
        return Err("it is longer than 128 characters".to_owned());
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "it starts with `{}`",
            crate::printable::escape(&first.to_string())
        ));
    }
    match version
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-' | '~' | ':')))
    {
        Some(bad) => Err(format!(
            "`{}` may not be in a version",
            crate::printable::escape(&bad.to_string())
        )),
        None => Ok(()),
    }
}

/// A node's `before`: what the manager said of its packages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Before {
    manager: ManagerKind,
    packages: BTreeMap<String, Versions>,
}

/// A node's `after`: the version each package will be at (`null`: not installed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct After {
    manager: ManagerKind,
    state: PackageState,
    packages: BTreeMap<String, Option<String>>,
    /// The package index is refreshed before the transaction.
    refresh_cache: bool,
}

fn decode<T: serde::de::DeserializeOwned>(recorded: &Recorded, which: &str) -> Result<T, String> {
    recorded.decode(which, "a package node's")
}

/// Both states of a node, read back.
struct PackageNode {
    before: Before,
    after: After,
}

impl PackageNode {
    fn decode(node: &NodeView<'_>) -> Result<PackageNode, String> {
        let before: Before = decode(node.before, "before")?;
        let after: After = decode(node.after, "after")?;
        if before.manager != after.manager || !before.packages.keys().eq(after.packages.keys()) {
            return Err("`before` and `after` name different packages or managers".to_owned());
        }
        Ok(PackageNode { before, after })
    }

    /// The packages whose version changes: `(name, installed, planned)`.
    fn changes(&self) -> impl Iterator<Item = (&str, Option<&str>, Option<&str>)> {
        self.after.packages.iter().filter_map(|(name, planned)| {
            let installed = self.before.packages.get(name)?.installed.as_deref();
            (installed != planned.as_deref()).then_some((
                name.as_str(),
                installed,
                planned.as_deref(),
            ))
        })
    }

    fn action(&self) -> Action {
        let changes: Vec<_> = self.changes().collect();
        if changes.is_empty() {
            return if self.after.refresh_cache {
                Action::Run
            } else {
                Action::NoOp
            };
        }
        if changes.iter().all(|(_, installed, _)| installed.is_none()) {
            Action::Create
        } else if changes.iter().all(|(_, _, planned)| planned.is_none()) {
            Action::Delete
        } else {
            Action::Update
        }
    }

    /// Whether the candidate of one of the node's packages decides what the node does: for
    /// `latest` (a new candidate makes a no-op node an upgrade), and where the planned version
    /// is the candidate to install.
    fn candidate_matters(&self, name: &str) -> bool {
        let Some(seen) = self.before.packages.get(name) else {
            return false;
        };
        let planned = self.after.packages.get(name).and_then(Option::as_deref);
        self.after.state == PackageState::Latest
            || (planned.is_some()
                && planned != seen.installed.as_deref()
                && planned == seen.candidate.as_deref())
    }

    /// Why the packages are no longer what the plan saw, given what the manager says now.
    fn stale(&self, now: &BTreeMap<String, Versions>) -> Option<String> {
        let mut why = Vec::new();
        for (name, seen) in &self.before.packages {
            let current = now.get(name).cloned().unwrap_or_default();
            if current.installed != seen.installed {
                why.push(format!(
                    "{name} was {} and is now {}",
                    shown(seen.installed.as_deref()),
                    shown(current.installed.as_deref())
                ));
                continue;
            }
            if self.candidate_matters(name) && current.candidate != seen.candidate {
                why.push(format!(
                    "the candidate of {name} was {} and is now {}",
                    shown(seen.candidate.as_deref()),
                    shown(current.candidate.as_deref())
                ));
            }
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

fn shown(version: Option<&str>) -> &str {
    version.unwrap_or("not installed")
}

fn fingerprint(before: &Before) -> String {
    let text = serde_json::to_string(before).unwrap_or_default();
    format!(
        "sha256:{}",
        crate::fsutil::hex(&Sha256::digest(text.as_bytes()))
    )
}

/// The version a task wants of one package, from what the manager says.
fn planned(
    task: &PackageTask,
    name: &str,
    seen: &Versions,
    pins: bool,
) -> Result<Option<String>, String> {
    let candidate = || {
        seen.candidate.clone().ok_or_else(|| {
            format!("package {name} is not installed and the package manager has no version of it to install")
        })
    };
    match (task.state, &task.version) {
        (PackageState::Absent, _) => Ok(None),
        (PackageState::Present, Some(version)) => {
            let version = &version.value;
            if seen.installed.as_deref() == Some(version.as_str()) {
                return Ok(Some(version.clone()));
            }
            if !pins && seen.candidate.as_deref() != Some(version.as_str()) {
                return Err(format!(
                    "package {name}: this package manager installs only its candidate {}, not {version}",
                    shown(seen.candidate.as_deref())
                ));
            }
            if let Some(available) = &seen.available
                && !available.contains(version)
            {
                return Err(format!(
                    "package {name} has no version {version} to install (available: {})",
                    if available.is_empty() {
                        "none".to_owned()
                    } else {
                        available.join(", ")
                    }
                ));
            }
            Ok(Some(version.clone()))
        }
        (PackageState::Present, None) => match &seen.installed {
            Some(installed) => Ok(Some(installed.clone())),
            None => candidate().map(Some),
        },
        (PackageState::Latest, _) => match (&seen.candidate, &seen.installed) {
            (Some(candidate), Some(installed))
                if compare_versions(candidate, installed).is_lt() =>
            {
                // A newer version installed by hand is kept: `latest` never downgrades.
                Ok(Some(installed.clone()))
            }
            (Some(candidate), _) => Ok(Some(candidate.clone())),
            (None, Some(installed)) => Ok(Some(installed.clone())),
            (None, None) => candidate().map(Some),
        },
    }
}

/// Whether what the manager would install decides the task's plan: for `latest`, for a
/// package to install, for a pinned version not installed.
fn candidate_decides(task: &PackageTask, installed: Option<&str>) -> bool {
    match (task.state, &task.version) {
        (PackageState::Absent, _) => false,
        (PackageState::Latest, _) => true,
        (PackageState::Present, Some(version)) => installed != Some(version.value.as_str()),
        (PackageState::Present, None) => installed.is_none(),
    }
}

/// Whether the task's refresh of the package index is due.
fn refresh_due(task: &PackageTask, kind: ManagerKind) -> bool {
    match task.refresh_after() {
        None => false,
        Some(None) => true,
        Some(Some(valid)) => kind.driver().index_age().is_none_or(|age| age > valid),
    }
}

fn plan_task(
    task: &PackageTask,
    kind: ManagerKind,
    seen: &BTreeMap<String, Versions>,
) -> Result<NodeStates, String> {
    let pins = kind.driver().pins_versions();
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    for name in task.names() {
        let versions = seen.get(&name.value).cloned().unwrap_or_default();
        after.insert(
            name.value.clone(),
            planned(task, &name.value, &versions, pins)?,
        );
        before.insert(
            name.value,
            Versions {
                available: None,
                ..versions
            },
        );
    }
    let before = Before {
        manager: kind,
        packages: before,
    };
    let after = After {
        manager: kind,
        state: task.state,
        packages: after,
        refresh_cache: task.state != PackageState::Absent && refresh_due(task, kind),
    };
    let node = PackageNode { before, after };
    let action = node.action();
    let fingerprint = fingerprint(&node.before);
    Ok(NodeStates {
        action,
        before: Recorded::Json(to_json(&node.before)),
        after: Recorded::Json(to_json(&node.after)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        fingerprint,
        route: String::new(),
        diff: None,
        chained: false,
    })
}

/// A state as JSON: strings and maps only, which always serialize.
fn to_json(state: &impl Serialize) -> Value {
    serde_json::to_value(state).unwrap_or(Value::Null)
}

pub struct Packages;

pub static PACKAGES: Packages = Packages;

/// Observes the packages of several nodes, one query per manager (candidates asked for where
/// `with_candidates` and the node's plan depends on them): what each manager says, or why it
/// could not be asked.
fn observe_nodes(
    nodes: &[&PackageNode],
    with_candidates: bool,
) -> HashMap<ManagerKind, Result<BTreeMap<String, Versions>, String>> {
    let mut names: BTreeMap<ManagerKind, Vec<&str>> = BTreeMap::new();
    let mut matters: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for node in nodes {
        names
            .entry(node.before.manager)
            .or_default()
            .extend(node.before.packages.keys().map(String::as_str));
        if with_candidates {
            matters.extend(
                node.before
                    .packages
                    .keys()
                    .filter(|name| node.candidate_matters(name))
                    .map(String::as_str),
            );
        }
    }
    let needs_candidate = |name: &str, _: Option<&str>| matters.contains(name);
    names
        .into_iter()
        .map(|(kind, mut names)| {
            names.sort_unstable();
            names.dedup();
            (kind, observe(kind, &names, &needs_candidate))
        })
        .collect()
}

impl Family for Packages {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let package_task = |i: usize| match &all[i].spec {
            crate::apply::ApplySpec::Package(task) => Some(task),
            _ => None,
        };
        let detected = std::sync::OnceLock::new();
        let kind_of = |task: &PackageTask| match task.manager_choice() {
            ManagerChoice::Auto => detected
                .get_or_init(|| ManagerKind::resolve(ManagerChoice::Auto))
                .clone(),
            choice => ManagerKind::resolve(choice),
        };
        // All the names of each manager, observed in one query.
        let mut names: BTreeMap<ManagerKind, Vec<String>> = BTreeMap::new();
        for &i in tasks {
            if let Some(task) = package_task(i)
                && let Ok(kind) = kind_of(task)
            {
                names
                    .entry(kind)
                    .or_default()
                    .extend(task.names().into_iter().map(|n| n.value));
            }
        }
        // Each package is named by one task (two would be a check error).
        let mut wanted: HashMap<String, &PackageTask> = HashMap::new();
        for task in tasks.iter().filter_map(|&i| package_task(i)) {
            for name in task.names() {
                wanted.insert(name.value, task);
            }
        }
        let needs_candidate = |name: &str, installed: Option<&str>| {
            wanted
                .get(name)
                .is_some_and(|task| candidate_decides(task, installed))
        };
        let seen: HashMap<ManagerKind, Result<BTreeMap<String, Versions>, String>> = names
            .into_iter()
            .map(|(kind, mut names)| {
                names.sort_unstable();
                names.dedup();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                (kind, observe(kind, &names, &needs_candidate))
            })
            .collect();
        tasks
            .iter()
            .map(|&i| {
                let Some(task) = package_task(i) else {
                    return (i, Err("not a package task".to_owned()));
                };
                let planned = kind_of(task).and_then(|kind| match &seen[&kind] {
                    Ok(seen) => plan_task(task, kind, seen),
                    Err(why) => Err(why.clone()),
                });
                (i, planned)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let package = PackageNode::decode(node)?;
        if node.action != package.action() {
            return Err(format!(
                "its action is `{}` but its states say `{}`",
                node.action.as_str(),
                package.action().as_str()
            ));
        }
        if node.fingerprint != fingerprint(&package.before) {
            return Err("its fingerprint is not that of its `before`".to_owned());
        }
        if node.is_sensitive()
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("a package node has no sensitive values and no diff".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let Ok(package) = PackageNode::decode(node) else {
            return Description {
                what: String::new(),
                details: Vec::new(),
                diff_lines: Vec::new(),
            };
        };
        let names: Vec<&str> = package.after.packages.keys().map(String::as_str).collect();
        let mut details = Vec::new();
        if package.after.refresh_cache {
            details.push(Detail::plain(format!(
                "refresh the {} package index first",
                package.after.manager.as_str()
            )));
        }
        details.extend(
            package
                .changes()
                .map(|change| Detail::plain(change_text(change))),
        );
        for (name, planned) in &package.after.packages {
            let installed = package
                .before
                .packages
                .get(name)
                .and_then(|v| v.installed.as_deref());
            if installed == planned.as_deref() {
                details.push(Detail::plain(match installed {
                    Some(version) => format!("{name} {version} installed, unchanged"),
                    None => format!("{name} not installed, unchanged"),
                }));
            }
        }
        Description {
            what: format!("{} ({})", names.join(", "), package.after.manager.as_str()),
            details,
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        self.stale_all(std::slice::from_ref(node))
            .into_iter()
            .next()
    }

    fn stale_all(&self, nodes: &[NodeView<'_>]) -> Vec<String> {
        let decoded: Vec<(&NodeView<'_>, Result<PackageNode, String>)> =
            nodes.iter().map(|n| (n, PackageNode::decode(n))).collect();
        let readable: Vec<&PackageNode> = decoded
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .collect();
        let now = observe_nodes(&readable, true);
        decoded
            .iter()
            .filter_map(|(node, package)| {
                let why = match package {
                    Err(why) => why.clone(),
                    Ok(package) => match &now[&package.before.manager] {
                        Err(why) => format!("cannot observe its packages: {why}"),
                        Ok(now) => package.stale(now)?,
                    },
                };
                Some(format!("{}: {why}", node.address))
            })
            .collect()
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        super::contract::run_as_batch_of_one(self, node, config)
    }

    fn batches(&self) -> bool {
        true
    }

    fn run_batch(
        &self,
        nodes: &[NodeView<'_>],
        _: Option<&Recompiled<'_>>,
    ) -> Vec<Result<Ran, ResourceError>> {
        let decoded: Vec<Result<PackageNode, ResourceError>> = nodes
            .iter()
            .map(|n| PackageNode::decode(n).map_err(ResourceError::permanent))
            .collect();
        let mut results: Vec<Option<Result<(), ResourceError>>> = decoded
            .iter()
            .map(|d| d.as_ref().err().cloned().map(Err))
            .collect();
        let mut kinds: Vec<ManagerKind> =
            decoded.iter().flatten().map(|p| p.after.manager).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let members: Vec<usize> = (0..nodes.len())
                .filter(|&i| decoded[i].as_ref().is_ok_and(|p| p.after.manager == kind))
                .collect();
            let packages: Vec<&PackageNode> = members
                .iter()
                .filter_map(|&i| decoded[i].as_ref().ok())
                .collect();
            let outcome = transact(kind, &packages);
            for (&i, result) in members.iter().zip(outcome) {
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ResourceError::permanent("the node did not run"))))
            .map(|r| r.map(|()| Ran::CHANGED))
            .collect()
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: SystemTime) {}
}

/// How `show` says one change.
fn change_text((name, installed, planned): (&str, Option<&str>, Option<&str>)) -> String {
    match (installed, planned) {
        (None, Some(version)) => format!("install {name} {version}"),
        (Some(version), None) => format!("remove {name} {version}"),
        (Some(from), Some(to)) if compare_versions(to, from).is_lt() => {
            format!("downgrade {name} from {from} to {to}")
        }
        (Some(from), Some(to)) => format!("upgrade {name} from {from} to {to}"),
        (None, None) => format!("{name} not installed, unchanged"),
    }
}

/// Runs the nodes' changes as one transaction of one manager, then checks that every package
/// is at the planned version: one result per node.
fn transact(kind: ManagerKind, nodes: &[&PackageNode]) -> Vec<Result<(), ResourceError>> {
    let driver = kind.driver();
    let all_fail = |error: ResourceError| nodes.iter().map(|_| Err(error.clone())).collect();
    if nodes.iter().any(|n| n.after.refresh_cache) {
        if let Err(error) = run_checked(&driver.refresh()) {
            return all_fail(error);
        }
        driver.refreshed();
    }
    let mut change = Change::default();
    for node in nodes {
        for (name, _, planned) in node.changes() {
            match planned {
                Some(version) => change.install.push((name.to_owned(), version.to_owned())),
                None => change.remove.push(name.to_owned()),
            }
        }
    }
    if change != Change::default() {
        for invocation in driver.transaction(&change) {
            if let Err(error) = run_checked(&invocation) {
                return all_fail(error);
            }
        }
    }
    // "Changed" is what the manager now says, not its exit code.
    let now = match observe_nodes(nodes, false).remove(&kind) {
        Some(Ok(now)) => now,
        Some(Err(why)) => {
            return all_fail(ResourceError::permanent(format!(
                "cannot observe the packages after the transaction: {why}"
            )));
        }
        None => BTreeMap::new(),
    };
    nodes
        .iter()
        .map(|node| {
            let wrong: Vec<String> = node
                .after
                .packages
                .iter()
                .filter_map(|(name, planned)| {
                    let installed = now.get(name).and_then(|v| v.installed.clone());
                    (installed != *planned).then(|| {
                        format!(
                            "{name} is {} after the transaction, not {}",
                            shown(installed.as_deref()),
                            shown(planned.as_deref())
                        )
                    })
                })
                .collect();
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(ResourceError::permanent(wrong.join("; ")))
            }
        })
        .collect()
}

/// Runs one manager invocation and wants it to succeed; the manager's own words otherwise.
fn run_checked(invocation: &Invocation) -> Result<(), ResourceError> {
    process::output(invocation).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_options_or_shell_syntax_are_refused() {
        for bad in [
            "nginx; rm -rf /",
            "-oAPT::Update",
            "",
            "a b",
            "x$(id)",
            "n\u{e9}",
        ] {
            assert!(valid_name(bad, ManagerChoice::Auto).is_err(), "{bad}");
        }
        for good in [
            "nginx",
            "libstdc++6",
            "python3.11",
            "NetworkManager",
            "perl-Data_Dumper",
        ] {
            assert!(valid_name(good, ManagerChoice::Auto).is_ok(), "{good}");
        }
        assert!(valid_name("NetworkManager", ManagerChoice::Apt).is_err());
        assert!(valid_version("1:2.0~rc1-3+deb12u1").is_ok());
        assert!(valid_version("-1").is_err());
        assert!(valid_version("1 2").is_err());
    }
}
