//! Stage 5, plan: lower the model to a DAG, observe the host (read-only), and record for every
//! node what it saw and what it will do — plan.json, the artifact reviewed in pull requests.
//!
//! Entry point: [`build`]. Same config and same host state give the same plan, byte for byte,
//! except `created_at`. Nothing here changes the host.

mod facts_nodes;
pub mod json;
mod lower;
pub mod source;
mod verify;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::apply::{self, Action, EntryKind, FsState, Observed, Planned};
use crate::config::ConfigDir;
use crate::diagnostics::SourceMap;
use crate::facts::HostFacts;
use crate::model::settings::AuditSink;
use crate::model::{ApplyTask, Config};
pub use facts_nodes::{address as facts_address, collector_after};
pub use source::{ConfigSource, HostIdentity};

/// Major.minor: a minor bump only adds fields (readers ignore unknown ones); a new major is
/// refused by `execute`.
pub const FORMAT_VERSION: &str = "1.2";

/// How a sensitive value is written wherever it would appear.
pub const SENSITIVE: &str = "(sensitive)";

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: String,
    /// The driftless version that made the plan.
    pub tool_version: String,
    /// RFC 3339 UTC; the only field that differs between two plans of the same state, and the
    /// only one outside the digest.
    pub created_at: String,
    pub host: HostIdentity,
    pub config: ConfigSource,
    pub summary: Summary,
    /// Where the run reports of this plan go (`settings.audit`), so that `execute` needs no
    /// config to find them; empty: the default directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<AuditDestination>,
    /// In execution order: every node after the nodes it depends on.
    pub nodes: Vec<PlanNode>,
    /// SHA-256 of this document without `digest` and `created_at`: an edited plan is refused.
    pub digest: String,
}

/// A run report destination, from `settings.audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditDestination {
    /// A local directory, absolute.
    Directory { path: String },
}

impl AuditDestination {
    fn of(sink: &AuditSink) -> Self {
        match sink {
            AuditSink::Directory(d) => AuditDestination::Directory {
                path: d.path.value.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub no_op: usize,
    pub run: usize,
    /// Facts nodes: collectors run once (format 1.1).
    #[serde(default)]
    pub collect: usize,
}

impl Summary {
    /// How many nodes have each action.
    pub fn of(nodes: &[PlanNode]) -> Self {
        let mut summary = Summary::default();
        for node in nodes {
            match node.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Delete => summary.delete += 1,
                Action::NoOp => summary.no_op += 1,
                Action::Run => summary.run += 1,
                Action::Collect => summary.collect += 1,
            }
        }
        summary
    }

    pub fn changes(&self) -> usize {
        self.create + self.update + self.delete + self.run
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Apply,
    Facts,
    Logs,
}

/// Where the node's task is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl SourceLocation {
    fn of(sources: &SourceMap, span: crate::diagnostics::Span) -> Self {
        let (line, column) = sources.line_col(span.file, span.start);
        SourceLocation {
            file: sources.path(span.file).to_owned(),
            line,
            column,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Dependency {
    pub address: String,
    /// `depends_on`, `notify`, `parent directory`, `link target` or `same file`.
    pub reason: String,
}

/// What the node's `before` was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precondition {
    /// Read from the host when planning; checked again before anything is changed.
    Observed,
    /// The state earlier tasks leave (the previous edit of the same file, or the rewrite of a
    /// hard link's target); checked when the node runs.
    Chained,
    /// Nothing to check: the node changes nothing on the host (a facts node).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanNode {
    /// `apply.<id>` or `facts.<id>`.
    pub address: String,
    pub kind: NodeKind,
    #[serde(rename = "type")]
    pub type_name: String,
    pub source: SourceLocation,
    pub depends_on: Vec<Dependency>,
    /// Handlers this node triggers when it changes something.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifies: Vec<String>,
    /// Notified by other nodes: runs only when one of them changed something.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handler: bool,
    /// Planned but never executed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noop: bool,
    pub action: Action,
    pub precondition: Precondition,
    /// The observed state: for the file family, the shape of `FsState`; `null` for a facts
    /// node.
    #[schemars(with = "Option<FsState>")]
    pub before: Value,
    /// The wanted state, same shape; sensitive leaves are `(sensitive)`. For a facts node, the
    /// collector as it will run.
    #[schemars(with = "NodeAfter")]
    pub after: Value,
    /// Parallel to `before`: `true` at sensitive leaves, `false` when none.
    pub before_sensitive: Value,
    /// Parallel to `after`: `true` at sensitive leaves, `false` when none.
    pub after_sensitive: Value,
    /// SHA-256 of the state `before` describes and of `route`: `execute` refuses a node whose
    /// path changed, or is no longer reached the same way.
    pub fingerprint: String,
    /// SHA-256 of the way to the path when it was observed: each directory passed and each
    /// symbolic link followed (device, inode, target). Empty for a facts node.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub route: String,
    /// Unified diff of a content change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl PlanNode {
    pub fn is_sensitive(&self) -> bool {
        self.after_sensitive != Value::Bool(false)
    }
}

/// What a node's `after` holds, by kind, for the plan schema: the wanted `FsState` of an
/// apply node, the collector of a facts node, or `(sensitive)` for a collector with secrets.
struct NodeAfter;

impl JsonSchema for NodeAfter {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeAfter".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                generator.subschema_for::<FsState>(),
                generator.subschema_for::<facts_nodes::CollectorAfter>(),
                { "const": SENSITIVE },
            ]
        })
    }
}

/// Addresses of `apply` tasks.
pub fn address(task: &ApplyTask) -> String {
    format!("apply.{}", task.meta.id)
}

/// What planning needs besides the model.
pub struct PlanInputs<'a> {
    pub config: &'a Config,
    pub sources: &'a SourceMap,
    pub config_dir: &'a ConfigDir,
    pub facts: &'a HostFacts,
    pub extra_vars: &'a [String],
}

/// Lowers, observes and diffs. Errors are per node (`apply.x: why`), all reported together.
pub fn build(inputs: &PlanInputs<'_>) -> Result<Plan, Vec<String>> {
    let tasks = &inputs.config.apply;
    let started = std::time::Instant::now();
    let lowered = lower::lower(tasks).map_err(|e| vec![e])?;
    tracing::debug!(elapsed = ?started.elapsed(), nodes = tasks.len(), "lowered");
    let started = std::time::Instant::now();
    let mut planned = observe_all(tasks, &lowered, inputs.config_dir)?;
    let predicted = predict_hard_links(&lowered, &mut planned);
    share_sensitivity(&lowered, &mut planned);
    tracing::debug!(elapsed = ?started.elapsed(), "observed");
    let mut nodes = Vec::with_capacity(tasks.len());
    for &i in &lowered.order {
        let task = &tasks[i];
        let planned = &planned[i];
        let (before, before_sensitive, after, after_sensitive) = redact(planned);
        nodes.push(PlanNode {
            address: address(task),
            kind: NodeKind::Apply,
            type_name: task.spec.type_name().to_owned(),
            source: SourceLocation::of(inputs.sources, task.meta.span),
            depends_on: lowered.depends_on[i]
                .iter()
                .map(|&(t, reason)| Dependency {
                    address: address(&tasks[t]),
                    reason: reason.as_str().to_owned(),
                })
                .collect(),
            notifies: lowered.notifies[i]
                .iter()
                .map(|&t| address(&tasks[t]))
                .collect(),
            handler: lowered.depends_on[i]
                .iter()
                .any(|(_, r)| *r == lower::Reason::Notify),
            noop: task.meta.noop,
            action: planned.action,
            precondition: if lowered.chained_after[i].is_some() || predicted[i] {
                Precondition::Chained
            } else {
                Precondition::Observed
            },
            before,
            after,
            before_sensitive,
            after_sensitive,
            fingerprint: planned.fingerprint.clone(),
            route: planned.route.digest(),
            diff: planned.diff.clone(),
        });
    }
    nodes.extend(facts_nodes::lower(
        &inputs.config.facts,
        tasks,
        inputs.sources,
    ));
    let summary = Summary::of(&nodes);
    let started = std::time::Instant::now();
    let config = ConfigSource::of(inputs.config_dir, inputs.extra_vars);
    tracing::debug!(elapsed = ?started.elapsed(), "identified the config");
    Ok(Plan {
        format_version: FORMAT_VERSION.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: crate::clock::now(),
        host: HostIdentity::of(inputs.facts),
        config,
        summary,
        audit: inputs
            .config
            .settings
            .audit
            .iter()
            .map(AuditDestination::of)
            .collect(),
        nodes,
        digest: String::new(),
    })
}

/// Observes every task: independent paths in parallel, editors of one file in a chain, each
/// starting from the state the previous one leaves.
fn observe_all(
    tasks: &[ApplyTask],
    lowered: &lower::Lowered,
    config_dir: &ConfigDir,
) -> Result<Vec<Planned>, Vec<String>> {
    let heads: Vec<usize> = (0..tasks.len())
        .filter(|&i| lowered.chained_after[i].is_none())
        .collect();
    let mut next: Vec<Option<usize>> = vec![None; tasks.len()];
    for (i, previous) in lowered.chained_after.iter().enumerate() {
        if let Some(p) = previous {
            next[*p] = Some(i);
        }
    }
    let chains: Vec<Vec<(usize, Result<Planned, String>)>> = heads
        .par_iter()
        .map(|&head| {
            let mut out = Vec::new();
            let mut current = Some(head);
            let mut leaves: Option<Observed> = None;
            while let Some(i) = current {
                let planned = apply::plan_task(&tasks[i], config_dir, leaves.as_ref());
                leaves = planned.as_ref().ok().map(|p| p.leaves.clone());
                let failed = planned.is_err();
                out.push((i, planned));
                // A chain stops at its first error: later edits have nothing to start from.
                current = if failed { None } else { next[i] };
            }
            out
        })
        .collect();
    let mut planned: Vec<Option<Planned>> = (0..tasks.len()).map(|_| None).collect();
    let mut errors = Vec::new();
    for (i, result) in chains.into_iter().flatten() {
        match result {
            Ok(p) => planned[i] = Some(p),
            Err(e) => errors.push(format!("{}: {e}", address(&tasks[i]))),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    planned
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.ok_or_else(|| {
                format!(
                    "{}: not planned (an earlier edit of its file failed)",
                    address(&tasks[i])
                )
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|e| vec![e])
}

/// Editors of one file (a chain) see each other's lines, in the chain and on disk once
/// written: when one of them writes a secret, all of them are sensitive.
fn share_sensitivity(lowered: &lower::Lowered, planned: &mut [Planned]) {
    let head = |mut i: usize| {
        while let Some(previous) = lowered.chained_after[i] {
            i = previous;
        }
        i
    };
    let sensitive_heads: std::collections::HashSet<usize> = (0..planned.len())
        .filter(|&i| planned[i].sensitive)
        .map(head)
        .collect();
    for (i, node) in planned.iter_mut().enumerate() {
        if !node.sensitive && sensitive_heads.contains(&head(i)) {
            node.hide_content();
        }
    }
}

/// A hard link shares its inode with its target, so the tasks managing the target change what
/// the link's node finds when it runs: an attribute change shows through the link, and a
/// content change replaces the target's inode (writes are atomic renames), leaving the link a
/// separate file with the old content. Such a link's `before` is that predicted state, checked
/// when the node runs, and re-linking it is its planned update. A replaced target is a new
/// inode, unknown yet: the link's route leaves the target's entry out (the run checks that
/// it made that inode). Returns which nodes were predicted.
fn predict_hard_links(lowered: &lower::Lowered, planned: &mut [Planned]) -> Vec<bool> {
    let mut predicted = vec![false; planned.len()];
    for &i in &lowered.order {
        if planned[i].after.state != EntryKind::HardLink {
            continue;
        }
        let linked = planned[i].before.state == EntryKind::HardLink;
        // The target's managers, in execution order (editors of one file form a chain).
        let managers: Vec<usize> = lowered
            .order
            .iter()
            .copied()
            .filter(|m| lowered.depends_on[i].contains(&(*m, lower::Reason::LinkTarget)))
            .collect();
        let (Some(&first), Some(&last)) = (managers.first(), managers.last()) else {
            continue;
        };
        let replaced = managers.iter().any(|&m| {
            let p = &planned[m];
            p.action.changes()
                && (p.before.state != EntryKind::File
                    || p.after.state != EntryKind::File
                    || p.before.sha256 != p.after.sha256)
        });
        if replaced {
            // Checked when it runs, after the target's managers made the new inode.
            let node = &mut planned[i];
            node.route = std::mem::take(&mut node.route).without_source_entry();
            node.fingerprint =
                apply::fs_state::fingerprint(&node.before, &node.route.digest(), !node.sensitive);
            predicted[i] = true;
        }
        if !linked {
            continue;
        }
        let mut state = planned[i].before.clone();
        if replaced {
            // The link's inode keeps the target's old content and attributes.
            let old = &planned[first].before;
            state.state = EntryKind::File;
            state.target = None;
            state.sha256 = old.sha256.clone();
            state.size = old.size;
        } else if planned[last].action.changes() {
            let new = &planned[last].after;
            state.mode = new.mode.clone();
            state.owner = new.owner.clone();
            state.uid = new.uid;
            state.group = new.group.clone();
            state.gid = new.gid;
        } else {
            continue;
        }
        let node = &mut planned[i];
        node.action = apply::action(&state, &node.after);
        node.fingerprint =
            apply::fs_state::fingerprint(&state, &node.route.digest(), !node.sensitive);
        node.before = state;
        predicted[i] = true;
    }
    predicted
}

/// `before`/`after` as plan.json shows them, with sensitive leaves replaced and their masks.
fn redact(planned: &Planned) -> (Value, Value, Value, Value) {
    let to_value = |s: &FsState| serde_json::to_value(s).unwrap_or(Value::Null);
    let mut before = to_value(&planned.before);
    let mut after = to_value(&planned.after);
    if !planned.sensitive {
        return (before, Value::Bool(false), after, Value::Bool(false));
    }
    // The content, and the hashes that would let a guess be confirmed, are left out.
    for field in ["sha256", "size"] {
        if let Some(map) = before.as_object_mut() {
            map.remove(field);
        }
    }
    if let Some(map) = after.as_object_mut() {
        for field in ["sha256", "size", "content_base64"] {
            map.remove(field);
        }
        map.insert("content".to_owned(), Value::from(SENSITIVE));
    }
    (
        before,
        json!({ "sha256": true }),
        after,
        json!({ "content": true }),
    )
}
