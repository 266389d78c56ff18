//! The resource contract: what every apply type answers, and what the rest of the pipeline
//! may ask of it.
//!
//! A **type** (one file each: `file.rs`, `link.rs` …) is its task struct — the fields, typed
//! and documented for the schema — and an implementation of [`Resource`]: the things it
//! **claims** (manages), the claims it **requires** of other tasks, its id, its field rules
//! and whether it writes a secret. Types that share one kind of state form a **family**
//! ([`Family`]; the file family shares [`super::FsState`]): the family observes and plans its
//! tasks (read-only — this *is* the dry run), and is what `execute`, `show` and the plan
//! reader call for a node of one of its types, decoding the node's `before`/`after` through
//! its own state. Generic code never reads a field of a state by name.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Action;
use super::fs_state::FsState;
use crate::config::ConfigDir;
use crate::diagnostics::{Diagnostic, Span};
use crate::error::ResourceError;
use crate::model::{ApplyTask, RenderedContent};

/// How a sensitive value is written wherever it would appear.
pub const SENSITIVE: &str = "(sensitive)";

/// Something a task manages or needs, typed: two tasks claiming the same thing conflict (or
/// share it, in order); a requirement is matched to the task claiming the thing it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Thing {
    /// A path, spelled plainly (`.` removed, `..` resolved lexically).
    Path(String),
    /// A user account, by name.
    User(String),
    /// A group, by name.
    Group(String),
    /// A package, by name (whatever manager installs it).
    Package(String),
    /// A service, by unit name (`nginx.service`).
    Service(String),
    /// A lock no two running nodes hold at once (a package manager's, say).
    Lock(String),
    /// A kernel parameter, dotted (`net.ipv4.ip_forward`).
    SysctlKey(String),
    /// A user's crontab (`crontab -u`), by the user's name.
    Crontab(String),
    /// A user's `~/.ssh/authorized_keys`, by the user's name (its path is known only when
    /// planning).
    AuthorizedKeys(String),
    /// The host's name (one per host: the kernel's and `/etc/hostname`).
    Hostname,
    /// The host's time zone (one per host: `/etc/localtime` and `/etc/timezone`).
    Timezone,
    /// A mount point, by its path: what is mounted there and its `fstab` line.
    MountPoint(String),
    /// A Python distribution in one environment: `<normalized name> in <environment>`.
    PythonPackage(String),
    /// An npm package in one environment: `<name> in <project directory or global>`.
    NpmPackage(String),
    /// A user-defined firewall chain itself (made or removed), as `ipv4 filter NAME`.
    FirewallChain(String),
    /// What a firewall chain holds — its rules and its policy (`ipv4 filter INPUT`), or ufw's
    /// rules and defaults (`ufw`): rule tasks edit it, each its own rule.
    FirewallRules(String),
}

impl Thing {
    /// A path thing, with `.`, `..` and repeated slashes resolved lexically: enough to match a
    /// path with the task managing it (a relative link target such as
    /// `../sites-available/shop` included).
    pub fn path(path: &str) -> Thing {
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        let absolute = if path.starts_with('/') { "/" } else { "" };
        Thing::Path(format!("{absolute}{}", parts.join("/")))
    }

    /// The path of a path thing.
    pub fn as_path(&self) -> Option<&str> {
        match self {
            Thing::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The thing's parent: a path's directory; nothing for other things.
    fn parent(&self) -> Option<Thing> {
        let parent = Path::new(self.as_path()?).parent()?;
        Some(Thing::Path(parent.to_str()?.to_owned()))
    }

    /// What the thing is called in messages: "path", "user" …
    pub fn noun(&self) -> &'static str {
        match self {
            Thing::Path(_) => "path",
            Thing::User(_) => "user",
            Thing::Group(_) => "group",
            Thing::Package(_) => "package",
            Thing::Service(_) => "service",
            Thing::Lock(_) => "lock",
            Thing::SysctlKey(_) => "kernel parameter",
            Thing::Crontab(_) => "crontab of user",
            Thing::AuthorizedKeys(_) => "authorized_keys file",
            Thing::Hostname => "hostname",
            Thing::Timezone => "time zone",
            Thing::MountPoint(_) => "mount point",
            Thing::PythonPackage(_) => "python package",
            Thing::NpmPackage(_) => "npm package",
            Thing::FirewallChain(_) => "firewall chain",
            Thing::FirewallRules(_) => "firewall entry",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Thing::Path(n)
            | Thing::User(n)
            | Thing::Group(n)
            | Thing::Package(n)
            | Thing::Service(n)
            | Thing::Lock(n)
            | Thing::SysctlKey(n)
            | Thing::Crontab(n)
            | Thing::AuthorizedKeys(n)
            | Thing::MountPoint(n)
            | Thing::PythonPackage(n)
            | Thing::NpmPackage(n)
            | Thing::FirewallChain(n)
            | Thing::FirewallRules(n) => n,
            // One per host: the noun says it all.
            Thing::Hostname | Thing::Timezone => "",
        }
    }
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "" => f.write_str(self.noun()),
            name => write!(f, "{} {name}", self.noun()),
        }
    }
}

/// How a task holds what it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// It manages the whole thing: no other task may claim it.
    Owns,
    /// It edits a part of it (a line, a marked block): editors share the thing, each starting
    /// from the state the one before it (in the order written) leaves. Two editors of the
    /// same named part conflict; a part without a name conflicts with nothing.
    Edits(Option<String>),
    /// Held while the node runs: the scheduler never runs two nodes holding it at once. Not a
    /// conflict, however many tasks hold it.
    Exclusive,
}

/// One claim of a task.
#[derive(Debug, Clone)]
pub struct Claim {
    pub thing: Thing,
    pub hold: Hold,
    /// The field that makes the claim: where a conflict is reported.
    pub span: Span,
    /// The thing's name as that field writes it (`/etc//motd` for the path `/etc/motd`).
    pub written: String,
    /// The thing's name came from a secret: messages do not show it.
    pub sensitive: bool,
}

/// Why one node waits for another: an explicit keyword, or an implicit edge from a
/// requirement matched to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    DependsOn,
    Notify,
    ParentDirectory,
    LinkTarget,
    SameFile,
    OwnerUser,
    OwnerGroup,
    /// A service after the package that installs it.
    Package,
    /// A service after the task writing its unit file.
    UnitFile,
    /// A user after the groups it is put in.
    AccountGroup,
    /// A command or service after the user it runs as.
    RunAs,
    /// A command after the task managing the directory it runs in, or the paths its guards
    /// name.
    CommandPath,
    /// A service's restart or reload after the task managing whether it runs.
    ServiceState,
    /// An `authorized_key` after the task managing the user whose keys they are.
    KeyOwner,
    /// An extraction after the task writing its archive (a download).
    ArchiveSource,
    /// A mount after the task managing its mount point directory.
    MountPoint,
    /// A task whose `when` reads a registered result, after the task that registers it.
    Register,
    /// A language-package task after the task writing what it installs from (a requirements
    /// file, an npm project's directory).
    PackageSource,
    /// A firewall rule after the task making the chain it is in or jumps to.
    FirewallChain,
    /// An archive after the tasks managing the paths it packs.
    ArchivedPath,
    /// A reboot or shutdown after every other task: it ends the run.
    EndOfRun,
}

impl Reason {
    const ALL: [Reason; 21] = [
        Reason::DependsOn,
        Reason::Notify,
        Reason::ParentDirectory,
        Reason::LinkTarget,
        Reason::SameFile,
        Reason::OwnerUser,
        Reason::OwnerGroup,
        Reason::Package,
        Reason::UnitFile,
        Reason::AccountGroup,
        Reason::RunAs,
        Reason::CommandPath,
        Reason::ServiceState,
        Reason::KeyOwner,
        Reason::ArchiveSource,
        Reason::MountPoint,
        Reason::Register,
        Reason::PackageSource,
        Reason::FirewallChain,
        Reason::ArchivedPath,
        Reason::EndOfRun,
    ];

    /// The reason plan.json names.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// As plan.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DependsOn => "depends_on",
            Reason::Notify => "notify",
            Reason::Register => "register",
            Reason::ParentDirectory => "parent directory",
            Reason::LinkTarget => "link target",
            Reason::SameFile => "same file",
            Reason::OwnerUser => "owner user",
            Reason::OwnerGroup => "owner group",
            Reason::Package => "package",
            Reason::UnitFile => "unit file",
            Reason::AccountGroup => "account group",
            Reason::RunAs => "run as",
            Reason::CommandPath => "command path",
            Reason::ServiceState => "service state",
            Reason::KeyOwner => "key owner",
            Reason::ArchiveSource => "archive source",
            Reason::MountPoint => "mount point",
            Reason::PackageSource => "package source",
            Reason::FirewallChain => "firewall chain",
            Reason::ArchivedPath => "archived path",
            Reason::EndOfRun => "end of run",
        }
    }
}

/// A claim a task needs another task to hold first, when some task does.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub thing: Thing,
    pub reason: Reason,
    /// Matched by the nearest ancestor any task claims (a file needs the task managing the
    /// closest of its parent directories), not only by the thing itself.
    pub nearest_ancestor: bool,
}

impl Requirement {
    pub fn exact(thing: Thing, reason: Reason) -> Self {
        Requirement {
            thing,
            reason,
            nearest_ancestor: false,
        }
    }

    /// The things that would meet this requirement, nearest first.
    pub fn candidates(&self) -> Vec<Thing> {
        let mut out = vec![self.thing.clone()];
        if self.nearest_ancestor {
            while let Some(parent) = out.last().and_then(Thing::parent) {
                if out.last() == Some(&parent) {
                    break;
                }
                out.push(parent);
            }
        }
        out
    }
}

/// A thing a task cannot do without: some task of the config must claim it, else `check`
/// reports `message` at `span` (a firewall rule jumping to a chain no task makes).
#[derive(Debug, Clone)]
pub struct Needed {
    pub thing: Thing,
    pub span: Span,
    pub message: String,
    pub help: String,
}

/// What `check` gives a type's field rules.
pub struct CheckContext<'a> {
    pub config_dir: &'a ConfigDir,
    /// Where the task is written: the place of a rule about a field it lacks.
    pub task: Span,
    /// The task is written under `handlers:` (it runs only when notified).
    pub handler: bool,
}

/// One task type: its own file, and one line in the registry (which names it).
pub trait Resource {
    /// The fields that may hold a value read from a secret: what the task writes, never what
    /// names, addresses or orders it (those are shown everywhere).
    const SECRET_FIELDS: &'static [&'static str] = &[];

    /// What a `register`ed result of the type holds besides `changed` and `skipped` (a
    /// command's `rc`, `stdout`, `stderr`): the fields a `when` or a template may read.
    const RESULT_FIELDS: &'static [&'static str] = &[];

    /// What the task manages: its primary key and everything another task may not also
    /// manage (and the exclusive locks its node holds while it runs).
    fn claims(&self) -> Vec<Claim>;

    /// Claims other tasks must have made good first, when a task of the config holds them.
    fn requires(&self) -> Vec<Requirement>;

    /// Things some task of the config must claim (checked across all tasks by `check`).
    fn needs(&self) -> Vec<Needed> {
        Vec::new()
    }

    /// What the task reads when the config is planned, for later tasks to decide on (a
    /// `stat`'s path): another task managing the same thing is a check error, since what was
    /// read is the state before that task runs.
    fn observes(&self) -> Vec<Claim> {
        Vec::new()
    }

    /// The id of a task that gives none: `<type>:<its key>`. Never a value read from a
    /// secret: addresses are shown everywhere.
    fn default_id(&self) -> String;

    /// The rules of its fields beyond their types, each finding a diagnostic at the field.
    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>);

    /// Whether content the task writes comes from a secret (with the template file it was
    /// rendered from, if any).
    fn carries_secret(&self, rendered: Option<&RenderedContent>) -> bool;

    /// The family that plans and runs the type's nodes.
    fn family() -> &'static dyn Family;

    /// The task as a member of the file family, for the types that are.
    fn file_type(&self) -> Option<&dyn super::files::FileType> {
        None
    }
}

/// A node's `before` or `after` as plan.json records it: the family's own typed state when the
/// plan was made in this process (no JSON tree per node is built, only the text written), or
/// the JSON read back from a plan file, which the family decodes through its own state.
#[derive(Debug, Clone, PartialEq)]
// One per node's `before`/`after`: the typed file state by value (no allocation per node) is
// what a plan made in this process holds; the JSON form is only for plans read back.
#[allow(clippy::large_enum_variant)]
pub enum Recorded {
    /// A file-family state.
    File(FsState),
    /// JSON: read back from plan.json, or a state without a typed form (a collector).
    Json(Value),
}

impl Recorded {
    /// The JSON form, for the nodes generic code reads as JSON (facts nodes).
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Recorded::Json(value) => Some(value),
            Recorded::File(_) => None,
        }
    }

    /// A family's JSON state as its type: `which` is the side (`before`, `after`), `whose`
    /// the family's state in the message (`a mount's`).
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        which: &str,
        whose: &str,
    ) -> Result<T, String> {
        let json = self
            .as_json()
            .ok_or_else(|| format!("`{which}` is not {whose}"))?;
        T::deserialize(json).map_err(|e| format!("unreadable `{which}`: {e}"))
    }
}

impl Serialize for Recorded {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Recorded::File(state) => state.serialize(serializer),
            Recorded::Json(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Recorded::Json)
    }
}

/// What planning needs besides the tasks.
pub struct PlanContext<'a> {
    pub config_dir: &'a ConfigDir,
    /// Everything some task of the plan manages (owns or edits): a file may be owned by a
    /// user that a task creates in the same run, resolved when the file is written.
    pub managed: &'a std::collections::HashSet<Thing>,
}

/// A node as plan.json records it, for its family: the family decodes `before` and `after`
/// through its own state.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStates {
    pub action: Action,
    pub before: Recorded,
    pub after: Recorded,
    /// Parallel to `before`: `true` at sensitive leaves, `false` when none.
    pub before_sensitive: Value,
    /// Parallel to `after`: `true` at sensitive leaves, `false` when none.
    pub after_sensitive: Value,
    pub fingerprint: String,
    /// The way to what was observed, when the family records one (paths).
    pub route: String,
    pub diff: Option<String>,
    /// `before` was made by earlier nodes (checked when the node runs), not observed.
    pub chained: bool,
}

impl NodeStates {
    pub fn is_sensitive(&self) -> bool {
        self.after_sensitive != Value::Bool(false)
    }
}

/// A node of a family's type in a plan read back, as plan.json records it: the family decodes
/// `before` and `after` through its own state.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    pub address: &'a str,
    pub type_name: &'a str,
    pub action: Action,
    pub before: &'a Recorded,
    pub after: &'a Recorded,
    pub before_sensitive: &'a Value,
    pub after_sensitive: &'a Value,
    pub fingerprint: &'a str,
    pub route: &'a str,
    pub diff: Option<&'a str>,
    /// Its `before` is made by earlier nodes (checked when it runs), not observed.
    pub chained: bool,
    /// It waits for an earlier edit of the same thing (`same file`).
    pub after_same_file: bool,
    /// It waits for the tasks managing its link's target (`link target`).
    pub after_link_target: bool,
}

impl NodeView<'_> {
    pub fn is_sensitive(&self) -> bool {
        *self.after_sensitive != Value::Bool(false)
    }
}

/// The config compiled again at execute time, by address: where sensitive values come from
/// (the plan holds `(sensitive)`).
pub struct Recompiled<'a> {
    pub tasks: &'a std::collections::HashMap<String, &'a ApplyTask>,
    pub config_dir: &'a ConfigDir,
}

/// How `show` describes a node: what it manages, and one line per detail.
pub struct Description {
    pub what: String,
    pub details: Vec<Detail>,
    /// Lines to print under the diff (content the diff only summarises).
    pub diff_lines: Vec<String>,
}

impl Description {
    /// What `show` says of a node its family cannot read: why, as a warning.
    pub fn unreadable(why: String) -> Self {
        Description {
            what: String::new(),
            details: vec![Detail {
                text: why,
                warning: true,
            }],
            diff_lines: Vec::new(),
        }
    }
}

/// One line under a node in `show`; a warning is painted red.
pub struct Detail {
    pub text: String,
    pub warning: bool,
}

impl Detail {
    pub fn plain(text: String) -> Self {
        Detail {
            text,
            warning: false,
        }
    }
}

/// The types that share one kind of state: how their tasks are planned together and their
/// nodes checked, shown and run.
pub trait Family: Sync + 'static {
    /// Which family this is. Nodes are grouped by family with it, never by a family's
    /// address: two zero-sized statics (every family is one) may share an address.
    fn identity(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Self>()
    }

    /// Observes (read-only) and plans `tasks` (indexes into `all`, in execution order), each
    /// from the state the task before it on the same thing (`chained_after`) leaves. Errors
    /// are per task, `(index, why)`.
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)>;

    /// Whether a node read back from plan.json holds together: its action follows from its
    /// states, its fingerprint and diff are those of its states, its sensitivity masks are
    /// the ones `plan` makes.
    fn verify(&self, node: &NodeView<'_>) -> Result<(), String>;

    /// What `show` prints for a node.
    fn describe(&self, node: &NodeView<'_>) -> Description;

    /// The thing the node changes (its `after`), for grouping the nodes of one thing (`same
    /// file` chains in a read-back plan, the edits of a file one of which writes a secret).
    fn key(&self, after: &Recorded) -> Option<String>;

    /// Whether the node's `after` shows content (which a secret could be in).
    fn shows_content(&self, node: &NodeView<'_>) -> bool;

    /// Whether `show` lists the family's `no-op` nodes too, with why they do nothing (a
    /// command skipped by its guard).
    fn shows_no_op(&self) -> bool {
        false
    }

    /// Whether `execute` runs the family's `no-op` nodes too: nodes that change nothing on
    /// the host but do something when they run (print a message, wait, fail). Other `no-op`
    /// nodes end `unchanged` without reaching their family.
    fn runs_no_op(&self) -> bool {
        false
    }

    /// Why the node's thing no longer is what the plan observed, if it changed.
    fn stale(&self, node: &NodeView<'_>) -> Option<String>;

    /// Why each of these nodes' things no longer are what the plan observed (the stale
    /// ones only). A family that observes many things in one query (packages) looks once for
    /// all its nodes; the default asks [`Family::stale`] node by node.
    fn stale_all(&self, nodes: &[NodeView<'_>]) -> Vec<String> {
        nodes.iter().filter_map(|node| self.stale(node)).collect()
    }

    /// Checks the node's precondition again and makes the change: whether it changed
    /// something (a command whose `changed_when` is false did not), and what a program it ran
    /// printed.
    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError>;

    /// Whether the family runs its ready nodes together ([`Family::run_batch`]): the package
    /// family makes of them one package-manager transaction.
    fn batches(&self) -> bool {
        false
    }

    /// Runs several nodes that are ready at once, one result per node in the order given. The
    /// scheduler calls it only for a family that [`batches`](Family::batches), with nodes
    /// that change something; the default runs them one by one.
    fn run_batch(
        &self,
        nodes: &[NodeView<'_>],
        config: Option<&Recompiled<'_>>,
    ) -> Vec<Result<Ran, ResourceError>> {
        nodes.iter().map(|node| self.run(node, config)).collect()
    }

    /// After a run: what the family does once for all its nodes (`changed` tells which
    /// changed something), e.g. sync the directories written.
    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime);

    /// What the node changes, field by field, for the run report: every top-level field of
    /// `before` and `after` that differs, sensitive ones as `(sensitive)`. A family leaves out
    /// the fields its diff already shows.
    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        field_changes(node, &[])
    }

    /// What the host is asked to do once the node changed something (`reboot`, `poweroff`):
    /// the run report records it, so that whoever runs driftless next (the agent) knows the
    /// run ended with the host going down.
    fn host_going_down(&self, _node: &NodeView<'_>) -> Option<&'static str> {
        None
    }

    /// Whether the family's nodes end the run (a reboot): each waits for every other node,
    /// and for the ones of its kind written before it.
    fn ends_run(&self) -> bool {
        false
    }
}

/// One field a node changed, as the run report records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// The top-level fields of a node's `after` that differ from its `before` (both JSON objects),
/// but those in `shown_by_the_diff`; a field `after` lacks is one the node does not set. A
/// sensitive leaf is `(sensitive)`.
pub fn field_changes(node: &NodeView<'_>, shown_by_the_diff: &[&str]) -> Vec<Change> {
    let as_object = |recorded: &Recorded| match serde_json::to_value(recorded) {
        Ok(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_object(node.before), as_object(node.after));
    let shown = |mask: &Value, field: &str, value: Option<&Value>| {
        let sensitive =
            *mask == Value::Bool(true) || mask.get(field).is_some_and(|m| *m != Value::Bool(false));
        match value {
            Some(_) if sensitive => Value::from(SENSITIVE),
            Some(value) => value.clone(),
            None => Value::Null,
        }
    };
    let mut fields: Vec<&String> = after.keys().collect();
    fields.sort();
    fields
        .into_iter()
        .filter(|field| !shown_by_the_diff.contains(&field.as_str()))
        .filter(|field| before.get(*field) != after.get(*field))
        .map(|field| Change {
            field: field.clone(),
            before: shown(node.before_sensitive, field, before.get(field)),
            after: shown(node.after_sensitive, field, after.get(field)),
        })
        .collect()
}

/// What running a node did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// It changed something (a command ran and its `changed_when` held).
    pub changed: bool,
    /// What the program the node ran printed, for the run report (already redacted when the
    /// node is sensitive).
    pub output: Option<crate::process::Output>,
    /// The fields the type adds to a registered result (`uri`'s `status`, `content` …): read
    /// by a `when` in this process only, never written to the report.
    pub registered: Option<serde_json::Map<String, Value>>,
    /// What the node says (a `debug` task's message), for the run output and report.
    pub message: Option<Message>,
}

impl Ran {
    /// A change was made; no program output to report.
    pub const CHANGED: Ran = Ran {
        changed: true,
        output: None,
        registered: None,
        message: None,
    };

    /// Nothing was changed; no program output to report.
    pub const UNCHANGED: Ran = Ran {
        changed: false,
        output: None,
        registered: None,
        message: None,
    };
}

/// A message a node reports when it runs (a `debug` task's), `(sensitive)` when it was read
/// from a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub text: String,
    /// The number of `-v` from which the run output prints it (the run report always has
    /// it).
    pub verbosity: u8,
}

/// `Family::run` of a family whose nodes run batched: the node as a batch of one, so a node
/// run alone (a handler) takes the same path as a batch.
pub fn run_as_batch_of_one(
    family: &dyn Family,
    node: &NodeView<'_>,
    config: Option<&Recompiled<'_>>,
) -> Result<Ran, ResourceError> {
    family
        .run_batch(std::slice::from_ref(node), config)
        .pop()
        .unwrap_or_else(|| Err(ResourceError::permanent("the node did not run")))
}

/// Items grouped by the family they belong to, each group in the order given.
pub fn by_family<T>(
    items: impl IntoIterator<Item = (&'static dyn Family, T)>,
) -> Vec<(&'static dyn Family, Vec<T>)> {
    let mut groups: Vec<(&'static dyn Family, Vec<T>)> = Vec::new();
    for (family, item) in items {
        match groups
            .iter_mut()
            .find(|(f, _)| f.identity() == family.identity())
        {
            Some((_, members)) => members.push(item),
            None => groups.push((family, vec![item])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family is a zero-sized static, and the compiler may give two of them one address:
    /// grouping by address once merged the pip and npm families (and with them their nodes).
    #[test]
    fn families_are_grouped_by_identity_not_by_address() {
        let netfilter: &'static dyn Family = &super::super::netfilter::NETFILTER;
        let ufw: &'static dyn Family = &super::super::ufw_rules::UFW;
        let pip: &'static dyn Family = &super::super::lang_packages::PIP;
        let npm: &'static dyn Family = &super::super::lang_packages::NPM;
        let groups = by_family([(netfilter, 1), (ufw, 2), (pip, 3), (npm, 4), (netfilter, 5)]);
        let members: Vec<Vec<i32>> = groups.into_iter().map(|(_, m)| m).collect();
        assert_eq!(members, vec![vec![1, 5], vec![2], vec![3], vec![4]]);
    }
}
