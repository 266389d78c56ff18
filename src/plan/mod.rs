//! Stage 5, plan: lower the model to a DAG, observe the host (read-only), and record for every
//! node what it saw and what it will do — plan.json, the artifact reviewed in pull requests.
//!
//! Entry point: [`build`]. Same config and same host state give the same plan, byte for byte,
//! except `created_at`. Nothing here changes the host.

pub mod dag;
mod facts_nodes;
pub mod json;
mod logs_nodes;
mod lower;
pub mod source;
mod verify;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apply::contract::PlanContext;
use crate::apply::contract::Recorded;
use crate::apply::{Action, Family, FsState, NodeStates, NodeView, Reason};
use crate::config::ConfigDir;
use crate::diagnostics::SourceMap;
use crate::facts::HostFacts;
use crate::model::sinks::SinkConfig;
use crate::model::{ApplyTask, Config};
pub use facts_nodes::{address as facts_address, collector_after};
pub use logs_nodes::{
    LogsBefore, ObservedLogFile, SOURCE_TYPES as LOG_SOURCE_TYPES, address as logs_address,
    pipeline_after,
};
pub use source::{ConfigSource, GitOrigin, HostIdentity};

/// Major.minor: a minor bump only adds fields (readers ignore unknown ones); a new major is
/// refused by `execute`.
pub const FORMAT_VERSION: &str = "1.6";

pub use crate::apply::SENSITIVE;

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
    /// config to find them; empty: the default directory. Credentials are secrets' names,
    /// read again when the report is sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<SinkConfig>,
    /// In execution order: every node after the nodes it depends on.
    pub nodes: Vec<PlanNode>,
    /// The `apply` tasks left out of this plan: `when` was false, or `--tags`/`--skip-tags`
    /// did not select them (format 1.4); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedNode>,
    /// SHA-256 of this document without `digest` and `created_at`: an edited plan is refused.
    pub digest: String,
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
    /// Handlers that would change something if notified: not counted as changes, since they
    /// run only when a task notifying them changes something (format 1.3).
    #[serde(default)]
    pub handlers: usize,
    /// Nodes that run and change nothing: waits, reads (format 1.5).
    #[serde(default)]
    pub check: usize,
    /// Logs nodes: pipelines run once over what their files hold (format 1.6).
    #[serde(default)]
    pub ship: usize,
}

impl Summary {
    /// How many nodes have each action.
    pub fn of(nodes: &[PlanNode]) -> Self {
        let mut summary = Summary::default();
        for node in nodes {
            if node.handler && node.action.changes() {
                summary.handlers += 1;
                continue;
            }
            match node.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Delete => summary.delete += 1,
                Action::NoOp => summary.no_op += 1,
                Action::Run => summary.run += 1,
                Action::Collect => summary.collect += 1,
                Action::Check => summary.check += 1,
                Action::Ship => summary.ship += 1,
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

/// A `when` that reads registered results, evaluated at execute time (format 1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunCondition {
    /// The minijinja expression, without braces (`r.changed`).
    pub expression: String,
    /// Each registered name it reads, and the node whose result that is; `null` for a task
    /// not in the plan (its result reads as `{changed: false, skipped: true}`).
    pub registers: std::collections::BTreeMap<String, Option<String>>,
}

/// An `apply` task the plan leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedNode {
    /// `apply.<id>`; absent for a task skipped by `when` without an `id` (its fields are not
    /// rendered, so it has no default id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub source: SourceLocation,
    /// `when: false`, `not selected by --tags …`, `skipped by --skip-tags …`, or `tagged
    /// \`never\`: …`.
    pub reason: String,
}

impl SkippedNode {
    fn of(sources: &SourceMap, task: &crate::model::meta::SkippedTask) -> Self {
        SkippedNode {
            address: task.id.as_ref().map(|id| format!("apply.{id}")),
            source: SourceLocation::of(sources, task.span),
            reason: match &task.reason {
                crate::model::meta::SkipReason::When => "when: false".to_owned(),
                crate::model::meta::SkipReason::Tags(why) => why.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Dependency {
    pub address: String,
    /// `depends_on`, `notify`, `parent directory`, `link target`, `same file`, `owner user`
    /// or `owner group`.
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
    /// Nothing to check: the node changes nothing on the host (a facts or logs node).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanNode {
    /// `apply.<id>`, `facts.<id>` or `logs.<id>`.
    pub address: String,
    /// The task's `name`, a human label (format 1.4); absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
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
    /// Runs only if this condition over registered results holds when its turn comes
    /// (format 1.4); otherwise skipped, without blocking its dependents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<RunCondition>,
    /// Locks the node holds exclusively while it runs (a package manager's): the scheduler
    /// never runs two nodes holding one lock at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    pub action: Action,
    pub precondition: Precondition,
    /// The observed state, in the shape of the node's type's family (`FsState` for the file
    /// family, a user's or group's state; docs/plan-format.md gives each); `null` for a facts
    /// node; for a logs node, the files its globs match with their checkpointed positions.
    #[schemars(with = "NodeBefore")]
    pub before: Recorded,
    /// The wanted state, same shape; sensitive leaves are `(sensitive)`. For a facts node, the
    /// collector as it will run; for a logs node, the pipeline as it will run.
    #[schemars(with = "NodeAfter")]
    pub after: Recorded,
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

    /// The node as its family reads it.
    pub fn view(&self) -> NodeView<'_> {
        let waits = |reason: Reason| self.depends_on.iter().any(|d| d.reason == reason.as_str());
        NodeView {
            address: &self.address,
            type_name: &self.type_name,
            action: self.action,
            before: &self.before,
            after: &self.after,
            before_sensitive: &self.before_sensitive,
            after_sensitive: &self.after_sensitive,
            fingerprint: &self.fingerprint,
            route: &self.route,
            diff: self.diff.as_deref(),
            chained: self.precondition == Precondition::Chained,
            after_same_file: waits(Reason::SameFile),
            after_link_target: waits(Reason::LinkTarget),
        }
    }

    /// The family of an apply node's type: what checks, shows and runs it.
    pub fn family(&self) -> Option<&'static dyn Family> {
        match self.kind {
            NodeKind::Apply => crate::apply::family_of(&self.type_name),
            NodeKind::Facts | NodeKind::Logs => None,
        }
    }
}

/// The state of a node of a family other than the file family (services, commands …): an
/// object whose shape its `type` gives (docs/plan-format.md).
fn other_family_state() -> Value {
    serde_json::json!({
        "type": "object",
        "description": "The state of a node of another family; its shape depends on `type` (docs/plan-format.md)."
    })
}

/// What a node's `before` holds, for the plan schema.
struct NodeBefore;

impl JsonSchema for NodeBefore {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeBefore".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                generator.subschema_for::<FsState>(),
                generator.subschema_for::<crate::apply::accounts::UserState>(),
                generator.subschema_for::<crate::apply::accounts::GroupState>(),
                other_family_state(),
                generator.subschema_for::<logs_nodes::LogsBefore>(),
                { "type": "null" },
            ]
        })
    }
}

/// What a node's `after` holds, by kind, for the plan schema: the wanted `FsState` of a file
/// node, another family's state, the collector of a facts node, or `(sensitive)` for a
/// collector with secrets.
struct NodeAfter;

impl JsonSchema for NodeAfter {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeAfter".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                generator.subschema_for::<FsState>(),
                generator.subschema_for::<crate::apply::accounts::UserState>(),
                generator.subschema_for::<crate::apply::accounts::GroupState>(),
                other_family_state(),
                generator.subschema_for::<facts_nodes::CollectorAfter>(),
                generator.subschema_for::<logs_nodes::LogsAfter>(),
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
    pub secret_files: &'a [(String, std::path::PathBuf)],
    pub tags: &'a crate::model::meta::TagSelection,
    /// The files a log pipeline's globs match now, with their checkpointed positions (read
    /// by the workflow, which knows the state directory).
    pub observe_logs: &'a dyn Fn(&crate::model::logs::LogPipeline) -> Vec<ObservedLogFile>,
}

/// Lowers, observes and diffs. Errors are per node (`apply.x: why`), all reported together.
pub fn build(inputs: &PlanInputs<'_>) -> Result<Plan, Vec<String>> {
    let tasks = &inputs.config.apply;
    let started = std::time::Instant::now();
    let lowered = lower::lower(tasks).map_err(|e| vec![e])?;
    tracing::info!(elapsed = ?started.elapsed(), nodes = tasks.len(), "lowered");
    let started = std::time::Instant::now();
    let mut planned = plan_families(tasks, &lowered, inputs.config_dir, inputs.sources)?;
    tracing::info!(elapsed = ?started.elapsed(), "observed");
    let mut nodes = Vec::with_capacity(tasks.len());
    for &i in &lowered.order {
        let task = &tasks[i];
        let Some(states) = planned[i].take() else {
            return Err(vec![format!("{}: not planned", address(task))]);
        };
        let depends_on = lowered.dag.dependencies(i);
        nodes.push(PlanNode {
            address: address(task),
            name: task.meta.name.clone(),
            kind: NodeKind::Apply,
            type_name: task.spec.type_name().to_owned(),
            source: SourceLocation::of(inputs.sources, task.meta.span),
            handler: task.meta.handler || depends_on.iter().any(|(_, r)| *r == Reason::Notify),
            depends_on: depends_on
                .into_iter()
                .map(|(t, reason)| Dependency {
                    address: address(&tasks[t]),
                    reason: reason.as_str().to_owned(),
                })
                .collect(),
            notifies: lowered
                .dag
                .dependents(i)
                .into_iter()
                .filter(|&h| lowered.dag.has_edge(i, h, Reason::Notify))
                .map(|h| address(&tasks[h]))
                .collect(),
            noop: task.meta.noop,
            when: run_condition(task, tasks),
            locks: lowered.locks[i].clone(),
            action: states.action,
            precondition: if states.chained {
                Precondition::Chained
            } else {
                Precondition::Observed
            },
            before: states.before,
            after: states.after,
            before_sensitive: states.before_sensitive,
            after_sensitive: states.after_sensitive,
            fingerprint: states.fingerprint,
            route: states.route,
            diff: states.diff,
        });
    }
    nodes.extend(facts_nodes::lower(
        &inputs.config.facts,
        tasks,
        inputs.sources,
    ));
    nodes.extend(logs_nodes::lower(
        &inputs.config.logs,
        inputs.sources,
        inputs.observe_logs,
    ));
    let summary = Summary::of(&nodes);
    let started = std::time::Instant::now();
    let mut config = ConfigSource::of(
        inputs.config_dir,
        inputs.extra_vars,
        inputs.secret_files,
        inputs.tags,
    );
    config.plugins = (inputs.config.settings.plugins.iter())
        .map(|p| (p.name.value.clone(), p.sha256.value.clone()))
        .collect();
    tracing::info!(elapsed = ?started.elapsed(), "identified the config");
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
            .map(|sink| sink.value.clone())
            .collect(),
        nodes,
        skipped: (inputs.config.skipped.iter())
            .filter(|s| s.section == "apply")
            .map(|s| SkippedNode::of(inputs.sources, s))
            .collect(),
        digest: String::new(),
    })
}

/// A task's `when` over registered results, with the node each name reads.
fn run_condition(task: &ApplyTask, tasks: &[ApplyTask]) -> Option<RunCondition> {
    let when = task.meta.when_at_execute.as_ref()?;
    let registers = (when.reads.iter())
        .map(|name| {
            let source = tasks
                .iter()
                .find(|t| t.meta.register.as_ref().is_some_and(|r| &r.value == name));
            (name.clone(), source.map(address))
        })
        .collect();
    Some(RunCondition {
        expression: when.expression.clone(),
        registers,
    })
}

/// Each family plans its tasks (in execution order) together: the file family chains the
/// editors of one file and predicts hard links from their targets' tasks.
fn plan_families(
    tasks: &[ApplyTask],
    lowered: &lower::Lowered,
    config_dir: &ConfigDir,
    sources: &SourceMap,
) -> Result<Vec<Option<NodeStates>>, Vec<String>> {
    let families = crate::apply::contract::by_family(
        lowered.order.iter().map(|&i| (tasks[i].spec.family(), i)),
    );
    let cx = PlanContext {
        config_dir,
        managed: &lowered.managed,
    };
    let link_targets = |i: usize| lowered.link_targets(i);
    let mut planned: Vec<Option<NodeStates>> = (0..tasks.len()).map(|_| None).collect();
    let mut errors = Vec::new();
    for (family, members) in families {
        for (i, result) in family.plan(tasks, &members, &lowered.chained_after, &link_targets, &cx)
        {
            match result {
                Ok(states) => {
                    tracing::debug!(node = %address(&tasks[i]), action = states.action.as_str(), "observed and planned");
                    planned[i] = Some(states);
                }
                Err(e) => errors.push((i, e)),
            }
        }
    }
    // In the order the tasks are written, each with its place: every error of the run at once.
    errors.sort_by_key(|(i, _)| (tasks[*i].meta.span.file, tasks[*i].meta.span.start));
    let errors: Vec<String> = errors
        .into_iter()
        .map(|(i, e)| {
            let at = SourceLocation::of(sources, tasks[i].meta.span);
            format!(
                "{}:{}:{}: {}: {e}",
                at.file,
                at.line,
                at.column,
                address(&tasks[i])
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(planned)
    } else {
        Err(errors)
    }
}
