//! `service`: a unit of the init system — running or not, started at boot or not, masked or
//! not — and `restarted`/`reloaded` kicks. Planned and run by the service family
//! ([`super::services`]), through systemd's `systemctl`, or sysvinit's or OpenRC's scripts
//! where systemd is not running.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::services::{self, Manager};
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// A service: whether it runs, starts at boot, is masked; or a restart or reload.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTask {
    /// The unit: `nginx` means `nginx.service`; other unit types (`.socket`, `.timer`, …)
    /// are named with their suffix.
    pub name: Spanned<String>,
    /// `started` or `stopped`; `restarted` or `reloaded` run every time, or only when
    /// notified for a handler. Not given: the service runs or not as it is.
    pub state: Option<Spanned<ServiceState>>,
    /// Started at boot (`systemctl enable`) or not. Not given: left as it is.
    pub enabled: Option<Spanned<bool>>,
    /// Masked (`systemctl mask`: cannot be started at all) or not. Not given: left as it is.
    pub masked: Option<Spanned<bool>>,
    /// Reload systemd's unit files (`systemctl daemon-reload`) when systemd says the unit's
    /// changed on disk. Done anyway before a service node acts on such a unit.
    #[serde(default)]
    pub daemon_reload: bool,
    /// The init system: `auto` (default: systemd when it runs, else OpenRC, else sysvinit).
    pub manager: Option<Spanned<Manager>>,
    /// The package installing the service, when not named like it (`nginx.service` comes
    /// from the package `nginx` by default): the task installing it runs first.
    pub package: Option<Spanned<String>>,
}

/// What a service task wants of the service's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

impl ServiceTask {
    /// The unit as systemd names it: `nginx.service` for `nginx`.
    pub fn unit(&self) -> String {
        services::unit_name(&self.name.value)
    }

    /// Whether the task only restarts or reloads the service (a handler, typically), leaving
    /// whether it runs, starts at boot or is masked to another task.
    pub fn only_kicks(&self) -> bool {
        matches!(
            self.state.as_ref().map(|s| s.value),
            Some(ServiceState::Restarted | ServiceState::Reloaded)
        ) && self.enabled.is_none()
            && self.masked.is_none()
    }

    /// The package installing the service.
    fn package(&self) -> String {
        match &self.package {
            Some(package) => package.value.clone(),
            None => services::script_name(&self.unit()).to_owned(),
        }
    }
}

impl Resource for ServiceTask {
    fn claims(&self) -> Vec<Claim> {
        // A restart shares the service with the task managing it (`started` and a
        // `restarted` handler for one unit, as Ansible users write them).
        if self.only_kicks() {
            return Vec::new();
        }
        let unit = self.unit();
        vec![Claim {
            thing: Thing::Service(unit.clone()),
            hold: Hold::Owns,
            span: self.name.span,
            written: unit,
            sensitive: self.name.sensitive,
        }]
    }

    fn requires(&self) -> Vec<Requirement> {
        let unit = self.unit();
        let mut required = vec![Requirement::exact(
            Thing::Package(self.package()),
            Reason::Package,
        )];
        if self.only_kicks() {
            required.push(Requirement::exact(
                Thing::Service(unit.clone()),
                Reason::ServiceState,
            ));
        }
        required.extend(
            services::unit_files(&unit)
                .into_iter()
                .map(|path| Requirement::exact(Thing::path(&path), Reason::UnitFile)),
        );
        required
    }

    fn default_id(&self) -> String {
        format!("service:{}", self.unit())
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        services::check(self, found);
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &services::SERVICES
    }
}
