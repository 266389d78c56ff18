//! The service family: `service` tasks, planned and run through the init system — systemd
//! (`services/systemd.rs`, `systemctl`), sysvinit (`services/sysvinit.rs`, `/etc/init.d` scripts and
//! `update-rc.d`) or OpenRC (`services/openrc.rs`, `rc-service` and `rc-update`).
//!
//! A node's `before` is the [`UnitState`] observed (installed, active, enabled, masked, and
//! whether systemd wants a `daemon-reload` for it); its `after` is the [`UnitChange`]: the
//! parts of the state the task sets (a part it leaves alone is `null`), the `daemon-reload`,
//! and a `restart`/`reload` kick. All the units of a run are observed in one query.

mod openrc;
mod systemd;
mod sysvinit;

use std::collections::HashSet;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    Thing,
};
use super::fs_state::sha256_hex;
use super::service::{ServiceState, ServiceTask};
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::model::ApplyTask;
use crate::model::Spanned;
use crate::model::meta::TaskIndex;

/// The init system a task names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// systemd when it runs (`/run/systemd/system` is there, as systemd itself checks), else
    /// OpenRC when installed, else sysvinit.
    #[default]
    Auto,
    Systemd,
    Sysvinit,
    Openrc,
}

/// The init system a node goes through, as plan.json records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitSystem {
    Systemd,
    Sysvinit,
    Openrc,
}

impl InitSystem {
    /// The init system of this host, for `manager: auto`.
    fn detect() -> Result<InitSystem, String> {
        if Path::new("/run/systemd/system").is_dir() {
            Ok(InitSystem::Systemd)
        } else if openrc::installed() {
            Ok(InitSystem::Openrc)
        } else if Path::new(sysvinit::SCRIPTS).is_dir() {
            Ok(InitSystem::Sysvinit)
        } else {
            Err(
                "no init system found: systemd is not running (no /run/systemd/system), and \
                 there is neither OpenRC nor /etc/init.d"
                    .to_owned(),
            )
        }
    }

    fn of(manager: Manager) -> Result<InitSystem, String> {
        match manager {
            Manager::Auto => InitSystem::detect(),
            Manager::Systemd => Ok(InitSystem::Systemd),
            Manager::Sysvinit => Ok(InitSystem::Sysvinit),
            Manager::Openrc => Ok(InitSystem::Openrc),
        }
    }

    fn name(self) -> &'static str {
        match self {
            InitSystem::Systemd => "systemd",
            InitSystem::Sysvinit => "sysvinit",
            InitSystem::Openrc => "openrc",
        }
    }

    /// Observes units, in the order given (systemd: one `systemctl show` for all).
    fn observe(self, units: &[&str]) -> Result<Vec<Observed>, String> {
        match self {
            InitSystem::Systemd => systemd::observe(units),
            InitSystem::Sysvinit => Ok(units.iter().map(|u| sysvinit::observe(u)).collect()),
            InitSystem::Openrc => Ok(units.iter().map(|u| openrc::observe(u)).collect()),
        }
    }

    fn observe_one(self, unit: &str) -> Result<Observed, String> {
        self.observe(&[unit])?
            .pop()
            .ok_or_else(|| format!("{unit}: the init system said nothing about it"))
    }

    fn step(self, unit: &str, step: Step) -> Result<(), ResourceError> {
        match self {
            InitSystem::Systemd => systemd::step(unit, step),
            InitSystem::Sysvinit => sysvinit::step(unit, step),
            InitSystem::Openrc => openrc::step(unit, step),
        }
    }
}

/// A service as observed: the node's `before`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnitState {
    pub unit: String,
    pub manager: InitSystem,
    /// The init system knows the unit: a unit file or init script is there.
    pub installed: bool,
    /// Running (or starting, or reloading).
    pub active: bool,
    /// Started at boot.
    pub enabled: bool,
    pub masked: bool,
    /// systemd: the unit's files changed on disk since systemd read them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_daemon_reload: bool,
}

/// What observing found, with what the plan needs beyond the recorded state.
#[derive(Debug, Clone)]
pub struct Observed {
    pub state: UnitState,
    /// The unit can be enabled (systemd: it has an `[Install]` section — not `static`).
    pub can_enable: bool,
    /// How the init system put it, for messages (systemd's `ActiveState/SubState`).
    pub detail: String,
    /// The unit's file (systemd's `FragmentPath`), when the init system says.
    pub file: Option<String>,
}

/// What a service node does: the node's `after`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnitChange {
    pub unit: String,
    pub manager: InitSystem,
    /// Running after the node: `null` when the task leaves it as it is.
    pub active: Option<bool>,
    /// Started at boot after the node: `null` when the task leaves it as it is.
    pub enabled: Option<bool>,
    /// Masked after the node: `null` when the task leaves it as it is.
    pub masked: Option<bool>,
    /// `systemctl daemon-reload` first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub daemon_reload: bool,
    /// A restart or reload after the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kick: Option<Kick>,
    /// The kick runs every time (`restarted`/`reloaded` in a task no one notifies).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub every_time: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kick {
    Restart,
    Reload,
}

/// One command of the init system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    DaemonReload,
    Unmask,
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
    Reload,
    Mask,
}

impl Step {
    /// As `systemctl`, the init scripts and `rc-service` name it.
    pub fn verb(self) -> &'static str {
        match self {
            Step::DaemonReload => "daemon-reload",
            Step::Unmask => "unmask",
            Step::Enable => "enable",
            Step::Disable => "disable",
            Step::Start => "start",
            Step::Stop => "stop",
            Step::Restart => "restart",
            Step::Reload => "reload",
            Step::Mask => "mask",
        }
    }
}

/// The unit types systemd knows, by suffix.
const UNIT_SUFFIXES: &[&str] = &[
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// The longest unit name systemd accepts.
const UNIT_NAME_MAX: usize = 255;

/// The unit as systemd names it: a name without a unit-type suffix is a `.service` (as
/// `systemctl` reads `nginx`).
pub fn unit_name(name: &str) -> String {
    if unit_suffix(name).is_some() {
        name.to_owned()
    } else {
        format!("{name}.service")
    }
}

fn unit_suffix(name: &str) -> Option<&str> {
    let (_, suffix) = name.rsplit_once('.')?;
    UNIT_SUFFIXES.contains(&suffix).then_some(suffix)
}

/// The unit without its suffix and instance: the init script's name and the default package.
pub fn script_name(unit: &str) -> &str {
    let stem = match unit_suffix(unit) {
        Some(suffix) => &unit[..unit.len() - suffix.len() - 1],
        None => unit,
    };
    stem.split_once('@').map_or(stem, |(prefix, _)| prefix)
}

/// The paths of the unit's files another task may write: systemd's unit file in each of its
/// directories and the administrator's drop-in directory, and the init script.
pub fn unit_files(unit: &str) -> Vec<String> {
    let mut paths = vec![
        format!("/etc/systemd/system/{unit}"),
        format!("/etc/systemd/system/{unit}.d"),
        format!("/lib/systemd/system/{unit}"),
        format!("/usr/lib/systemd/system/{unit}"),
    ];
    if unit.ends_with(".service") {
        paths.push(format!("{}/{}", sysvinit::SCRIPTS, script_name(unit)));
    }
    paths
}

/// Why a unit name is not one systemd accepts (its rules: `unit_name_is_valid`).
fn invalid_unit(unit: &str) -> Option<String> {
    if unit.len() > UNIT_NAME_MAX {
        return Some(format!("is longer than {UNIT_NAME_MAX} characters"));
    }
    if let Some(bad) = unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":_.\\@-".contains(*c)))
    {
        return Some(format!(
            "has `{}`: unit names are made of ASCII letters, digits and `:_.\\@-`",
            bad.escape_default()
        ));
    }
    let Some(suffix) = unit_suffix(unit) else {
        return Some("has no unit type suffix (`.service`, `.socket`, `.timer` …)".to_owned());
    };
    let prefix = &unit[..unit.len() - suffix.len() - 1];
    if prefix.is_empty() {
        return Some("has nothing before its suffix".to_owned());
    }
    if prefix.matches('@').count() > 1 {
        return Some("has more than one `@`".to_owned());
    }
    if prefix.starts_with('@') {
        return Some("has nothing before its `@`".to_owned());
    }
    None
}

/// The rules of a service task's fields, beyond their types.
pub fn check(task: &ServiceTask, found: &mut Vec<Diagnostic>) {
    let shown = if task.name.sensitive {
        crate::apply::SENSITIVE.to_owned()
    } else {
        task.name.value.clone()
    };
    let unit = task.unit();
    if task.name.value.is_empty() {
        found.push(
            Diagnostic::error("`name` is empty")
                .at(task.name.span)
                .help("name the unit, e.g. `nginx` or `nginx.service`"),
        );
        return;
    }
    if let Some(why) = invalid_unit(&unit) {
        found.push(
            Diagnostic::error(format!("`{shown}` is not a valid unit name: it {why}"))
                .at(task.name.span)
                .help("name the unit as systemctl does, e.g. `nginx`, `nginx.service` or `getty@tty1.service`"),
        );
        return;
    }
    let state = task.state.as_ref().map(|s| s.value);
    if let Some(state) = &task.state
        && unit.contains("@.")
    {
        found.push(
            Diagnostic::error(format!(
                "`{shown}` is a template: it cannot be {}",
                state_word(state.value)
            ))
            .at(state.span)
            .help("name an instance, e.g. `getty@tty1.service`"),
        );
    }
    if let Some(masked) = &task.masked
        && masked.value
    {
        if let Some(state) = task
            .state
            .as_ref()
            .filter(|s| s.value != ServiceState::Stopped)
        {
            found.push(
                Diagnostic::error(format!(
                    "a masked service cannot be {}",
                    state_word(state.value)
                ))
                .at(masked.span)
                .help("remove `masked: true`, or use `state: stopped`"),
            );
        }
        if let Some(enabled) = task.enabled.as_ref().filter(|e| e.value) {
            found.push(
                Diagnostic::error("a masked service cannot be enabled")
                    .at(enabled.span)
                    .help("remove `enabled: true`, or `masked: true`"),
            );
        }
    }
    if state.is_none() && task.enabled.is_none() && task.masked.is_none() && !task.daemon_reload {
        found.push(
            Diagnostic::error("the service task has nothing to do")
                .at(task.name.span)
                .help("set `state`, `enabled`, `masked` or `daemon_reload`"),
        );
    }
    if let Some(package) = &task.package {
        package_name(package, found);
    }
    let manager = task.manager.as_ref().map(|m| (m.value, m.span));
    if let Some((Manager::Sysvinit | Manager::Openrc, span)) = manager {
        let name = if matches!(manager, Some((Manager::Sysvinit, _))) {
            "sysvinit"
        } else {
            "openrc"
        };
        let mut refuse = |what: String, span| {
            found.push(
                Diagnostic::error(format!("{what}: `manager: {name}` has none"))
                    .at(span)
                    .help("use `manager: systemd` (or `auto` where systemd runs), or drop it"),
            );
        };
        if let Some(masked) = &task.masked {
            refuse("`masked` is systemd's".to_owned(), masked.span);
        }
        if task.daemon_reload {
            refuse("`daemon_reload` is systemd's".to_owned(), span);
        }
        if !unit.ends_with(".service") {
            refuse(format!("`{shown}` is not a service"), task.name.span);
        }
    }
}

/// A package name as package managers spell them: no space, no shell character.
fn package_name(package: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    let valid = package
        .value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && package
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:@".contains(c));
    if !valid {
        let shown = if package.sensitive {
            crate::apply::SENSITIVE
        } else {
            package.value.as_str()
        };
        found.push(
            Diagnostic::error(format!("`{shown}` is not a valid package name"))
                .at(package.span)
                .help("package names start with a letter or digit and hold letters, digits and `+-._:@`"),
        );
    }
}

fn state_word(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Started => "started",
        ServiceState::Stopped => "stopped",
        ServiceState::Restarted => "restarted",
        ServiceState::Reloaded => "reloaded",
    }
}

pub struct Services;

pub static SERVICES: Services = Services;

fn task_of(task: &ApplyTask) -> Result<&ServiceTask, String> {
    match &task.spec {
        crate::apply::ApplySpec::Service(service) => Ok(service),
        _ => Err("not a service task".to_owned()),
    }
}

/// The indexes of the tasks some task notifies: handlers.
fn handlers(all: &[ApplyTask]) -> HashSet<usize> {
    let index = TaskIndex::new(all.iter().map(|t| &t.meta));
    all.iter()
        .flat_map(|t| &t.meta.notify)
        .flat_map(|reference| index.resolve(&reference.value).iter().copied())
        .collect()
}

/// The wanted change of a task, from what is there; an error says why it cannot be made.
fn want(
    task: &ServiceTask,
    observed: &Observed,
    handler: bool,
    managed: &HashSet<Thing>,
) -> Result<UnitChange, String> {
    let before = &observed.state;
    let unit = &before.unit;
    let state = task.state.as_ref().map(|s| s.value);
    let active = match state {
        Some(ServiceState::Started | ServiceState::Restarted | ServiceState::Reloaded) => {
            Some(true)
        }
        Some(ServiceState::Stopped) => Some(false),
        None => None,
    };
    let kick = match state {
        Some(ServiceState::Restarted) => Some(Kick::Restart),
        // A stopped service is started, not reloaded.
        Some(ServiceState::Reloaded) if before.active => Some(Kick::Reload),
        _ => None,
    };
    let enabled = task.enabled.as_ref().map(|e| e.value);
    let masked = task.masked.as_ref().map(|m| m.value);
    let wants_it = active == Some(true) || enabled == Some(true);
    if !before.installed && wants_it {
        let installed_here = managed.contains(&Thing::Package(task_package(task)))
            || unit_files(unit)
                .iter()
                .any(|path| managed.contains(&Thing::path(path)));
        if !installed_here {
            return Err(format!(
                "{unit} is not installed ({} has no unit file or script for it), and no task \
                 of this config installs it: add a `package` task for `{}` or a `file` task \
                 for /etc/systemd/system/{unit}",
                before.manager.name(),
                task_package(task)
            ));
        }
    }
    if before.masked && masked != Some(false) && wants_it {
        return Err(format!(
            "{unit} is masked: it cannot be {}; add `masked: false`",
            if active == Some(true) {
                "started"
            } else {
                "enabled"
            }
        ));
    }
    if before.installed && enabled == Some(true) && !before.enabled && !observed.can_enable {
        return Err(format!(
            "{unit} cannot be enabled: it is {} (no [Install] section); it starts when \
             another unit wants it",
            observed.detail
        ));
    }
    if masked == Some(true)
        && !before.masked
        && let Some(file) = observed
            .file
            .as_deref()
            .filter(|f| f.starts_with("/etc/systemd/system/"))
    {
        return Err(format!(
            "{unit} cannot be masked: its unit file is {file}, which `systemctl mask` would \
             have to replace; remove it (or manage it with `state: absent`) to mask the unit"
        ));
    }
    let mut change = UnitChange {
        unit: unit.clone(),
        manager: before.manager,
        active,
        enabled,
        masked,
        daemon_reload: false,
        every_time: kick.is_some() && !handler,
        kick,
    };
    // A pending reload is made when asked, and before any other change (systemd would
    // otherwise act on the unit as it last read it).
    change.daemon_reload =
        before.needs_daemon_reload && (task.daemon_reload || !steps(before, &change).is_empty());
    Ok(change)
}

fn task_package(task: &ServiceTask) -> String {
    match &task.package {
        Some(package) => package.value.clone(),
        None => script_name(&task.unit()).to_owned(),
    }
}

/// The commands that take the service from `now` to `change`, in order: unmask before
/// starting or enabling, stop before masking; read as a sentence ("start and enable").
fn steps(now: &UnitState, change: &UnitChange) -> Vec<Step> {
    let mut steps = Vec::new();
    if change.daemon_reload {
        steps.push(Step::DaemonReload);
    }
    if change.masked == Some(false) && now.masked {
        steps.push(Step::Unmask);
    }
    match (change.kick, change.active) {
        (Some(Kick::Restart), _) => steps.push(Step::Restart),
        (Some(Kick::Reload), _) if now.active => steps.push(Step::Reload),
        (_, Some(true)) if !now.active => steps.push(Step::Start),
        (_, Some(false)) if now.active => steps.push(Step::Stop),
        _ => {}
    }
    match change.enabled {
        Some(true) if !now.enabled => steps.push(Step::Enable),
        Some(false) if now.enabled => steps.push(Step::Disable),
        _ => {}
    }
    if change.masked == Some(true) && !now.masked {
        steps.push(Step::Mask);
    }
    steps
}

fn action(before: &UnitState, after: &UnitChange) -> Action {
    let steps = steps(before, after);
    if after.kick.is_some() {
        Action::Run
    } else if steps.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    }
}

fn fingerprint(before: &UnitState) -> String {
    sha256_hex(serde_json::to_string(before).unwrap_or_default().as_bytes())
}

fn decode<T: serde::de::DeserializeOwned>(recorded: &Recorded, which: &str) -> Result<T, String> {
    recorded.decode(which, "a service's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(UnitState, UnitChange), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

/// What the node does, in words: "start and enable nginx.service".
fn sentence(before: &UnitState, after: &UnitChange) -> String {
    let steps = steps(before, after);
    let unit = &after.unit;
    let verbs: Vec<&str> = steps
        .iter()
        .filter(|s| **s != Step::DaemonReload)
        .map(|s| s.verb())
        .collect();
    let mut text = match verbs.as_slice() {
        [] => String::new(),
        [one] => format!("{one} {unit}"),
        [init @ .., last] => format!("{} and {last} {unit}", init.join(", ")),
    };
    if after.daemon_reload {
        text = if text.is_empty() {
            format!("reload systemd's unit files for {unit} (daemon-reload)")
        } else {
            format!("daemon-reload, then {text}")
        };
    }
    if after.every_time {
        text.push_str(" (runs every time: `restarted` without notify)");
        if after.kick == Some(Kick::Reload) {
            text = text.replace("`restarted`", "`reloaded`");
        }
    }
    if text.is_empty() {
        format!("{unit}: as wanted")
    } else {
        text
    }
}

fn yes(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// One line per part of the state the node changes: "active: no → yes".
fn details(before: &UnitState, after: &UnitChange) -> Vec<Detail> {
    let mut lines = Vec::new();
    if !before.installed {
        lines.push(Detail::plain(format!(
            "not installed yet: a task before it installs it ({} reads its files again first)",
            after.manager.name()
        )));
    }
    let parts = [
        ("active", before.active, after.active),
        ("enabled", before.enabled, after.enabled),
        ("masked", before.masked, after.masked),
    ];
    for (name, was, will) in parts {
        if let Some(will) = will
            && will != was
        {
            lines.push(Detail::plain(format!(
                "{name}: {} → {}",
                yes(was),
                yes(will)
            )));
        }
    }
    lines
}

impl Family for Services {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let handlers = handlers(all);
        // The tasks by init system, each observed in one query.
        let mut by_system: Vec<(InitSystem, Vec<(usize, &ServiceTask)>)> = Vec::new();
        let mut out = Vec::new();
        for &i in tasks {
            let resolved = task_of(&all[i]).and_then(|task| {
                let manager = task.manager.as_ref().map_or(Manager::Auto, |m| m.value);
                Ok((InitSystem::of(manager)?, task))
            });
            match resolved {
                Ok((system, task)) => match by_system.iter_mut().find(|(s, _)| *s == system) {
                    Some((_, members)) => members.push((i, task)),
                    None => by_system.push((system, vec![(i, task)])),
                },
                Err(why) => out.push((i, Err(why))),
            }
        }
        for (system, members) in by_system {
            let units: Vec<String> = members.iter().map(|(_, t)| t.unit()).collect();
            let names: Vec<&str> = units.iter().map(String::as_str).collect();
            match system.observe(&names) {
                Ok(observed) => {
                    for ((i, task), observed) in members.iter().zip(observed) {
                        let planned = want(task, &observed, handlers.contains(i), cx.managed)
                            .map(|after| states(&observed.state, &after));
                        out.push((*i, planned));
                    }
                }
                Err(why) => out.extend(members.iter().map(|(i, _)| (*i, Err(why.clone())))),
            }
        }
        out
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        if before.unit != after.unit || before.manager != after.manager {
            return Err("`before` and `after` are not of one unit".to_owned());
        }
        if after.kick.is_none() && after.every_time {
            return Err("`every_time` without a kick".to_owned());
        }
        if node.action != action(&before, &after) {
            return Err(format!(
                "its action `{}` does not follow from its states",
                node.action.as_str()
            ));
        }
        if node.fingerprint != fingerprint(&before) {
            return Err("its fingerprint is not that of its `before`".to_owned());
        }
        if node.is_sensitive() || *node.before_sensitive != Value::Bool(false) {
            return Err("a service node has no sensitive value".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        match decode_node(node) {
            Ok((before, after)) => Description {
                what: sentence(&before, &after),
                details: details(&before, &after),
                diff_lines: Vec::new(),
            },
            Err(why) => Description::unreadable(why),
        }
    }

    /// None: service nodes never chain (a restart shares its unit with the task managing it
    /// without starting from the state that task leaves), and never write a secret.
    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let before: UnitState = match decode(node.before, "before") {
            Ok(before) => before,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        match before.manager.observe_one(&before.unit) {
            Ok(now) if now.state == before => None,
            Ok(now) => Some(format!(
                "{}: {} changed since the plan: {}",
                node.address,
                before.unit,
                changes_between(&before, &now.state)
            )),
            Err(why) => Some(format!("{}: {why}", node.address)),
        }
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        let (before, after) = decode_node(node)?;
        let system = after.manager;
        let unit = after.unit.as_str();
        let now = system.observe_one(unit)?.state;
        // Earlier nodes may have installed the unit (so its files and enablement differ),
        // and the task managing the service may have started or stopped it before a
        // restart; otherwise whether it runs is this node's alone.
        if before.installed && after.kick.is_none() && now.active != before.active {
            return Err(ResourceError::permanent(format!(
                "{unit} changed since the plan: {}; make a new plan",
                changes_between(&before, &now)
            )));
        }
        let mut change = after.clone();
        // Unit files written by earlier nodes of this run are read before acting on them.
        change.daemon_reload = system == InitSystem::Systemd
            && (after.daemon_reload || now.needs_daemon_reload || !now.installed);
        for step in steps(&now, &change) {
            system.step(unit, step)?;
        }
        let done = system.observe_one(unit)?;
        let missed: Vec<String> = [
            ("active", after.active, done.state.active),
            ("enabled", after.enabled, done.state.enabled),
            ("masked", after.masked, done.state.masked),
        ]
        .into_iter()
        .filter_map(|(name, want, got)| {
            want.filter(|w| *w != got)
                .map(|w| format!("{name} is {} (wanted {})", yes(got), yes(w)))
        })
        .collect();
        if missed.is_empty() {
            Ok(Ran::CHANGED)
        } else {
            Err(ResourceError::permanent(format!(
                "{unit}: {} after {}",
                missed.join(", "),
                if done.detail.is_empty() {
                    String::new()
                } else {
                    format!("the commands; the init system says {}", done.detail)
                }
            )))
        }
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}

/// The node's states as plan.json records them.
fn states(before: &UnitState, after: &UnitChange) -> NodeStates {
    NodeStates {
        action: action(before, after),
        before: Recorded::Json(serde_json::to_value(before).unwrap_or(Value::Null)),
        after: Recorded::Json(serde_json::to_value(after).unwrap_or(Value::Null)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        fingerprint: fingerprint(before),
        route: String::new(),
        diff: None,
        chained: false,
    }
}

/// What differs between two observations, in words.
fn changes_between(was: &UnitState, now: &UnitState) -> String {
    let parts = [
        ("installed", was.installed, now.installed),
        ("active", was.active, now.active),
        ("enabled", was.enabled, now.enabled),
        ("masked", was.masked, now.masked),
        (
            "needs daemon-reload",
            was.needs_daemon_reload,
            now.needs_daemon_reload,
        ),
    ];
    parts
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} was {}, is {}", yes(a), yes(b)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active: bool, enabled: bool, masked: bool) -> UnitState {
        UnitState {
            unit: "nginx.service".to_owned(),
            manager: InitSystem::Systemd,
            installed: true,
            active,
            enabled,
            masked,
            needs_daemon_reload: false,
        }
    }

    fn change(active: Option<bool>, enabled: Option<bool>) -> UnitChange {
        UnitChange {
            unit: "nginx.service".to_owned(),
            manager: InitSystem::Systemd,
            active,
            enabled,
            masked: None,
            daemon_reload: false,
            kick: None,
            every_time: false,
        }
    }

    #[test]
    fn unit_names_follow_systemctl() {
        assert_eq!(unit_name("nginx"), "nginx.service");
        assert_eq!(unit_name("php7.4-fpm"), "php7.4-fpm.service");
        assert_eq!(unit_name("docker.socket"), "docker.socket");
        assert_eq!(script_name("getty@tty1.service"), "getty");
        assert_eq!(script_name("php7.4-fpm.service"), "php7.4-fpm");
        assert!(invalid_unit("nginx;rm -rf.service").is_some());
        assert!(invalid_unit("a@b@c.service").is_some());
        assert!(invalid_unit(".service").is_some());
        assert!(invalid_unit("-.mount").is_none());
        assert!(invalid_unit("nginx").is_some());
        assert!(invalid_unit("").is_some());
        assert!(invalid_unit("getty@tty1.service").is_none());
        assert!(invalid_unit(&format!("{}.service", "a".repeat(250))).is_some());
    }

    #[test]
    fn the_plan_says_what_will_happen() {
        let stopped = state(false, false, false);
        let started = change(Some(true), Some(true));
        assert_eq!(
            sentence(&stopped, &started),
            "start and enable nginx.service"
        );
        assert_eq!(action(&stopped, &started), Action::Update);
        let running = state(true, true, false);
        assert_eq!(action(&running, &started), Action::NoOp);
        assert_eq!(
            sentence(&running, &change(Some(false), None)),
            "stop nginx.service"
        );
        let mut restart = change(Some(true), None);
        restart.kick = Some(Kick::Restart);
        restart.every_time = true;
        assert_eq!(
            sentence(&running, &restart),
            "restart nginx.service (runs every time: `restarted` without notify)"
        );
        assert_eq!(action(&running, &restart), Action::Run);
        let mut mask = change(Some(false), None);
        mask.masked = Some(true);
        assert_eq!(sentence(&running, &mask), "stop and mask nginx.service");
    }

    #[test]
    fn steps_unmask_first_and_mask_last() {
        let masked = state(false, false, true);
        let mut unmask = change(Some(true), Some(true));
        unmask.masked = Some(false);
        assert_eq!(
            steps(&masked, &unmask),
            [Step::Unmask, Step::Start, Step::Enable]
        );
    }
}
