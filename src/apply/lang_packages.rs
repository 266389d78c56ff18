//! The language-package families — `pip` ([`python`]) and `npm` ([`node`]) — on one shared
//! shape: packages installed in an **environment** (a virtualenv or a Python, a project
//! directory or npm's global root), observed with **one query per environment** (`pip list`,
//! `npm ls`), planned exactly (each package's installed version and the version it will be at,
//! dependencies the installer resolves included) and changed with **one transaction per
//! environment and way of running the installer**. The ecosystem (one file under
//! `lang_packages/`) gives the query, the planning of one task from what the query said, and
//! the transaction; this file is the [`Family`] both share: the action, `show`'s lines, the
//! staleness check and the check after the transaction.

pub mod node;
pub mod python;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
};
use super::packages::compare_versions;
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::process::{self, Invocation};

/// What one environment holds, as the ecosystem's query says: each package's version.
pub type Installed = BTreeMap<String, String>;

/// A node's `before`: the environment and what its query said of the node's packages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Before {
    pub environment: String,
    /// The environment exists (a virtualenv not yet made, a project directory not yet
    /// written, does not).
    pub exists: bool,
    /// The installed version of each package (`null`: not installed).
    pub packages: BTreeMap<String, Option<String>>,
    /// What else the plan read, by digest (npm's lockfile for `ci`); `execute` reads it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
}

/// A node's `after`: the version each package will be at (`null`: not installed), and
/// everything the transaction needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After<H> {
    pub environment: String,
    pub packages: BTreeMap<String, Option<String>>,
    /// What the installer is given for a package it installs, where it is not the ecosystem's
    /// `name==version` (a tarball's path).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// How the installer runs in this environment.
    pub how: H,
}

/// One package a task wants: its version (`None`: absent) and, where the installer is given
/// something other than the name and version, that.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    pub version: Option<String>,
    pub source: Option<String>,
}

/// What a transaction does in one environment.
#[derive(Debug, Default)]
pub struct Transaction<'a> {
    /// The environment must be made first.
    pub create: bool,
    /// `(name, version, source)`.
    pub install: Vec<(&'a str, &'a str, Option<&'a str>)>,
    pub remove: Vec<&'a str>,
}

/// One ecosystem: its task type, its query, its planning, its transaction.
pub trait Ecosystem: Sync + 'static {
    type Task;
    /// How the installer runs: the environment and every option of the transaction.
    type How: Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug;

    /// The installer, as `show` names it.
    const TOOL: &'static str;

    fn task(task: &ApplyTask) -> Option<&Self::Task>;

    fn how(task: &Self::Task) -> Self::How;

    /// The environment, as `before`/`after` name it (and the key of its one query).
    fn environment(how: &Self::How) -> String;

    /// The one query: what the environment holds, `None` when it does not exist.
    fn installed(how: &Self::How) -> Result<Option<Installed>, String>;

    /// What the task wants of each of its packages (those the installer would add as
    /// dependencies included), given what the environment holds.
    fn want(
        task: &Self::Task,
        how: &Self::How,
        installed: Option<&Installed>,
    ) -> Result<BTreeMap<String, Want>, String>;

    /// The digest of what else the plan read (`None`: nothing).
    fn inputs(_: &Self::How) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// The invocations making the change, in order.
    fn transaction(how: &Self::How, change: &Transaction<'_>) -> Vec<Invocation>;

    /// A line of `show` saying how the environment is made, when the transaction makes it.
    fn creation(how: &Self::How) -> String;
}

/// A node of an ecosystem, read back.
struct LangNode<H> {
    before: Before,
    after: After<H>,
}

impl<H: DeserializeOwned> LangNode<H> {
    fn decode(node: &NodeView<'_>, tool: &str) -> Result<Self, String> {
        let whose = format!("a {tool} node's");
        let before: Before = node.before.decode("before", &whose)?;
        let after: After<H> = node.after.decode("after", &whose)?;
        if before.environment != after.environment
            || !before.packages.keys().eq(after.packages.keys())
        {
            return Err("`before` and `after` name different packages or environments".to_owned());
        }
        Ok(LangNode { before, after })
    }

    /// The packages whose version changes: `(name, installed, planned)`.
    fn changes(&self) -> impl Iterator<Item = (&str, Option<&str>, Option<&str>)> {
        self.after.packages.iter().filter_map(|(name, planned)| {
            let installed = self.before.packages.get(name)?.as_deref();
            (installed != planned.as_deref()).then_some((
                name.as_str(),
                installed,
                planned.as_deref(),
            ))
        })
    }

    /// Whether the transaction makes the environment: it does not exist and something is to
    /// be installed in it.
    fn creates(&self) -> bool {
        !self.before.exists && self.changes().any(|(_, _, planned)| planned.is_some())
    }

    fn action(&self) -> Action {
        let changes: Vec<_> = self.changes().collect();
        if changes.is_empty() {
            Action::NoOp
        } else if changes.iter().all(|(_, installed, _)| installed.is_none()) {
            Action::Create
        } else if changes.iter().all(|(_, _, planned)| planned.is_none()) {
            Action::Delete
        } else {
            Action::Update
        }
    }

    /// Why the environment is no longer what the plan saw, given what it holds now.
    fn stale(&self, now: Option<&Installed>, inputs: Option<String>) -> Option<String> {
        let mut why = Vec::new();
        if now.is_some() != self.before.exists {
            why.push(if self.before.exists {
                format!("{} no longer exists", self.before.environment)
            } else {
                format!("{} exists now", self.before.environment)
            });
        }
        for (name, seen) in &self.before.packages {
            let current = now.and_then(|n| n.get(name));
            if current != seen.as_ref() {
                why.push(format!(
                    "{name} was {} and is now {}",
                    shown(seen.as_deref()),
                    shown(current.map(String::as_str))
                ));
            }
        }
        if inputs != self.before.inputs {
            why.push("the files the plan read changed".to_owned());
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

/// A state as JSON: strings and maps only, which always serialize.
fn to_json(state: &impl Serialize) -> Value {
    serde_json::to_value(state).unwrap_or(Value::Null)
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

/// Plans one task from what its environment holds.
fn plan_task<E: Ecosystem>(
    task: &E::Task,
    how: E::How,
    installed: Option<&Installed>,
) -> Result<NodeStates, String> {
    let wanted = E::want(task, &how, installed)?;
    let environment = E::environment(&how);
    let before = Before {
        environment: environment.clone(),
        exists: installed.is_some(),
        packages: wanted
            .keys()
            .map(|name| (name.clone(), installed.and_then(|i| i.get(name)).cloned()))
            .collect(),
        inputs: E::inputs(&how)?,
    };
    let after = After {
        environment,
        sources: wanted
            .iter()
            .filter_map(|(name, want)| Some((name.clone(), want.source.clone()?)))
            .collect(),
        packages: wanted
            .into_iter()
            .map(|(name, want)| (name, want.version))
            .collect(),
        how,
    };
    let node = LangNode { before, after };
    Ok(NodeStates {
        action: node.action(),
        before: Recorded::Json(to_json(&node.before)),
        after: Recorded::Json(to_json(&node.after)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        fingerprint: fingerprint(&node.before),
        route: String::new(),
        diff: None,
        chained: false,
    })
}

/// The family of one ecosystem's type.
pub struct LangPackages<E> {
    ecosystem: PhantomData<E>,
}

pub static PIP: LangPackages<python::Pip> = LangPackages {
    ecosystem: PhantomData,
};
pub static NPM: LangPackages<node::Npm> = LangPackages {
    ecosystem: PhantomData,
};

impl<E: Ecosystem> LangPackages<E> {
    fn decode(node: &NodeView<'_>) -> Result<LangNode<E::How>, String> {
        LangNode::decode(node, E::TOOL)
    }

    /// One query per environment of `nodes`: what each holds, or why it could not be asked.
    fn observe_all<'n>(
        hows: impl Iterator<Item = &'n E::How>,
    ) -> BTreeMap<String, Result<Option<Installed>, String>> {
        let mut out = BTreeMap::new();
        for how in hows {
            out.entry(E::environment(how))
                .or_insert_with(|| E::installed(how));
        }
        out
    }

    /// Runs one transaction for nodes sharing one way of running the installer, then checks
    /// each node's packages: one result per node.
    fn transact(how: &E::How, nodes: &[&LangNode<E::How>]) -> Vec<Result<(), ResourceError>> {
        let all_fail = |error: ResourceError| nodes.iter().map(|_| Err(error.clone())).collect();
        let mut change = Transaction {
            create: nodes.iter().any(|n| n.creates()),
            ..Transaction::default()
        };
        for node in nodes {
            for (name, _, planned) in node.changes() {
                match planned {
                    Some(version) => {
                        let source = node.after.sources.get(name).map(String::as_str);
                        change.install.push((name, version, source));
                    }
                    None => change.remove.push(name),
                }
            }
        }
        change.install.sort_unstable();
        change.install.dedup();
        change.remove.sort_unstable();
        change.remove.dedup();
        for invocation in E::transaction(how, &change) {
            if let Err(error) = process::output(&invocation) {
                return all_fail(error);
            }
        }
        // "Changed" is what the environment now holds, not the installer's exit code.
        let now = match E::installed(how) {
            Ok(now) => now.unwrap_or_default(),
            Err(why) => {
                return all_fail(ResourceError::permanent(format!(
                    "cannot observe the packages after the transaction: {why}"
                )));
            }
        };
        nodes
            .iter()
            .map(|node| {
                let wrong: Vec<String> = node
                    .after
                    .packages
                    .iter()
                    .filter(|(name, planned)| now.get(*name) != planned.as_ref())
                    .map(|(name, planned)| {
                        format!(
                            "{name} is {} after the transaction, not {}",
                            shown(now.get(name).map(String::as_str)),
                            shown(planned.as_deref())
                        )
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
}

impl<E: Ecosystem> Family for LangPackages<E> {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let hows: Vec<Option<E::How>> = tasks
            .iter()
            .map(|&i| E::task(&all[i]).map(E::how))
            .collect();
        let seen = Self::observe_all(hows.iter().flatten());
        tasks
            .iter()
            .zip(hows)
            .map(|(&i, how)| {
                let planned = match (E::task(&all[i]), how) {
                    (Some(task), Some(how)) => match &seen[&E::environment(&how)] {
                        Ok(installed) => plan_task::<E>(task, how, installed.as_ref()),
                        Err(why) => Err(why.clone()),
                    },
                    _ => Err(format!("not a {} task", E::TOOL)),
                };
                (i, planned)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let decoded = Self::decode(node)?;
        if node.action != decoded.action() {
            return Err(format!(
                "its action is `{}` but its states say `{}`",
                node.action.as_str(),
                decoded.action().as_str()
            ));
        }
        if node.fingerprint != fingerprint(&decoded.before) {
            return Err("its fingerprint is not that of its `before`".to_owned());
        }
        if node.is_sensitive()
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err(format!(
                "a {} node has no sensitive values and no diff",
                E::TOOL
            ));
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let decoded = match Self::decode(node) {
            Ok(decoded) => decoded,
            Err(why) => return Description::unreadable(why),
        };
        let mut details = Vec::new();
        if decoded.creates() {
            details.push(Detail::plain(E::creation(&decoded.after.how)));
        }
        details.extend(decoded.changes().map(|c| Detail::plain(change_text(c))));
        for (name, planned) in &decoded.after.packages {
            let installed = decoded.before.packages.get(name).and_then(Option::as_deref);
            if installed == planned.as_deref() {
                details.push(Detail::plain(match installed {
                    Some(version) => format!("{name} {version} installed, unchanged"),
                    None => format!("{name} not installed, unchanged"),
                }));
            }
        }
        for (name, source) in &decoded.after.sources {
            details.push(Detail::plain(format!("{name} from {source}")));
        }
        let names: Vec<&str> = decoded.after.packages.keys().map(String::as_str).collect();
        Description {
            what: format!(
                "{} ({} in {})",
                names.join(", "),
                E::TOOL,
                decoded.after.environment
            ),
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
        self.stale_all(std::slice::from_ref(node)).pop()
    }

    fn stale_all(&self, nodes: &[NodeView<'_>]) -> Vec<String> {
        let decoded: Vec<Result<LangNode<E::How>, String>> =
            nodes.iter().map(Self::decode).collect();
        let now = Self::observe_all(decoded.iter().flatten().map(|d| &d.after.how));
        nodes
            .iter()
            .zip(&decoded)
            .filter_map(|(node, decoded)| {
                let why = match decoded {
                    Err(why) => why.clone(),
                    Ok(decoded) => match (
                        &now[&decoded.after.environment],
                        &E::inputs(&decoded.after.how),
                    ) {
                        (Err(why), _) | (_, Err(why)) => {
                            format!("cannot observe its packages: {why}")
                        }
                        (Ok(now), Ok(inputs)) => decoded.stale(now.as_ref(), inputs.clone())?,
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
        let decoded: Vec<Result<LangNode<E::How>, ResourceError>> = nodes
            .iter()
            .map(|n| Self::decode(n).map_err(ResourceError::permanent))
            .collect();
        let mut results: Vec<Option<Result<(), ResourceError>>> = decoded
            .iter()
            .map(|d| d.as_ref().err().cloned().map(Err))
            .collect();
        // One transaction per way of running the installer (its environment and options),
        // in the order the nodes came.
        let mut groups: Vec<(&E::How, Vec<usize>)> = Vec::new();
        for (i, node) in decoded.iter().enumerate() {
            let Ok(node) = node else { continue };
            match groups.iter_mut().find(|(how, _)| **how == node.after.how) {
                Some((_, members)) => members.push(i),
                None => groups.push((&node.after.how, vec![i])),
            }
        }
        for (how, members) in groups {
            let group: Vec<&LangNode<E::How>> = members
                .iter()
                .filter_map(|&i| decoded[i].as_ref().ok())
                .collect();
            for (&i, result) in members.iter().zip(Self::transact(how, &group)) {
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

/// A digest of `bytes`, as `before.inputs` records it.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::fsutil::hex(&Sha256::digest(bytes)))
}
