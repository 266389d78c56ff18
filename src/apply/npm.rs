//! `npm`: Node.js packages in a project directory or npm's global root, after
//! `community.general.npm`. Planned and run by the language-package family
//! ([`super::lang_packages`], npm's part in [`super::lang_packages::node`]): one `npm ls` per
//! environment at plan time, one npm transaction per environment at execute time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Family, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::lang_packages::{self, node};
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// A Node.js package installed (at a version, or the registry's newest) or removed — or a
/// project installed from its lockfile (`ci`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NpmTask {
    /// A package name (`express`, `@scope/pkg`), or the absolute path of a package tarball
    /// (`.tgz`, as `npm pack` makes), whose own name and version are read from it.
    pub name: Option<Spanned<String>>,
    /// The exact version to install (`4.18.2`; ranges are refused: the plan names the
    /// version).
    pub version: Option<Spanned<String>>,
    /// Absolute path of the project directory whose `node_modules` the package goes into.
    pub path: Option<Spanned<String>>,
    /// Install into npm's global root (`npm --global`) instead of a project.
    #[serde(default)]
    pub global: bool,
    /// `present` (default), `latest` (the registry's `latest` version) or `absent`.
    pub state: Option<Spanned<NpmState>>,
    /// The registry's URL (`--registry`).
    pub registry: Option<Spanned<String>>,
    /// Leave out development dependencies (`--omit=dev`).
    #[serde(default)]
    pub production: bool,
    /// Without `name`: install exactly what the project's `package-lock.json` lists
    /// (`npm ci`), removing what it does not.
    #[serde(default)]
    pub ci: bool,
    /// Accepted for playbooks written for npm 6; npm 7 and later have no such setting (install
    /// scripts run as the owner of the project directory), so it changes nothing.
    #[serde(default)]
    pub unsafe_perm: bool,
}

/// What the package should be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NpmState {
    #[default]
    Present,
    Latest,
    Absent,
}

impl NpmTask {
    pub fn state(&self) -> NpmState {
        self.state.as_ref().map_or(NpmState::Present, |s| s.value)
    }

    /// The environment: the project directory, or `global`.
    pub fn environment(&self) -> String {
        match &self.path {
            Some(path) if !self.global => path.value.clone(),
            _ => node::GLOBAL.to_owned(),
        }
    }

    /// What the task claims to manage in its environment: the package's name (a tarball's
    /// path), or the project's lockfile.
    fn managed(&self) -> (String, Option<&Spanned<String>>) {
        match &self.name {
            Some(name) => (name.value.clone(), Some(name)),
            None => ("package-lock.json".to_owned(), self.path.as_ref()),
        }
    }
}

impl Resource for NpmTask {
    fn claims(&self) -> Vec<Claim> {
        let environment = self.environment();
        let (managed, field) = self.managed();
        let Some(field) = field else {
            return Vec::new();
        };
        vec![
            Claim {
                thing: Thing::NpmPackage(format!("{managed} in {environment}")),
                written: managed,
                hold: Hold::Owns,
                span: field.span,
                sensitive: field.sensitive,
            },
            Claim {
                thing: Thing::Lock(format!("npm {environment}")),
                written: environment,
                hold: Hold::Exclusive,
                span: field.span,
                sensitive: false,
            },
        ]
    }

    fn requires(&self) -> Vec<Requirement> {
        let mut out = Vec::new();
        if let Some(path) = self.path.as_ref().filter(|_| !self.global) {
            out.push(Requirement {
                thing: Thing::path(&path.value),
                reason: Reason::PackageSource,
                nearest_ancestor: true,
            });
        }
        if let Some(name) = self.name.as_ref().filter(|n| node::is_tarball(&n.value)) {
            out.push(Requirement::exact(
                Thing::path(&name.value),
                Reason::PackageSource,
            ));
        }
        out
    }

    fn default_id(&self) -> String {
        format!("npm:{}", self.managed().0)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        match (&self.path, self.global) {
            (Some(path), false) => absolute(path, "path", found),
            (Some(path), true) => found.push(
                Diagnostic::error("`path` and `global: true` exclude each other")
                    .at(path.span)
                    .help("a global package goes into npm's global root; drop `path`"),
            ),
            (None, false) => found.push(
                Diagnostic::error(
                    "an npm task needs `path` (a project directory) or `global: true`",
                )
                .at(cx.task)
                .help("e.g. `path: /srv/app`"),
            ),
            (None, true) => {}
        }
        match &self.name {
            Some(name) if node::is_tarball(&name.value) => {
                absolute(name, "name", found);
                if let Some(version) = &self.version {
                    found.push(
                        Diagnostic::error("a tarball holds one version: `version` has no meaning")
                            .at(version.span)
                            .help("drop `version`; the plan reads the tarball's own"),
                    );
                }
            }
            Some(name) => {
                if let Err(why) = node::valid_name(&name.value) {
                    found.push(
                        Diagnostic::error(format!(
                            "`{}` is not an npm package name: {why}",
                            crate::printable::escape(&name.value)
                        ))
                        .at(name.span)
                        .help(
                            "write a package name (`express`, `@scope/pkg`) or the absolute \
                             path of a `.tgz`; it is given to npm as one argument, never \
                             through a shell",
                        ),
                    );
                }
            }
            None if self.ci => {
                if self.global {
                    found.push(
                        Diagnostic::error("`ci` installs a project: it needs `path`")
                            .at(cx.task)
                            .help("drop `global`, give the project's `path`"),
                    );
                }
                if let Some(state) = self.state.as_ref().filter(|s| s.value != NpmState::Present) {
                    found.push(
                        Diagnostic::error(
                            "`ci` installs what the lockfile lists: `state` has no meaning",
                        )
                        .at(state.span)
                        .help("drop `state`"),
                    );
                }
            }
            None => found.push(
                Diagnostic::error("an npm task without `name` needs `ci: true`")
                    .at(cx.task)
                    .help(
                        "name the package, or install the project from its lockfile with \
                         `ci: true` (a plain `npm install` resolves versions the plan could \
                         not name)",
                    ),
            ),
        }
        if let (Some(name), true) = (&self.name, self.ci) {
            found.push(
                Diagnostic::error("`ci` installs a whole project: it takes no `name`")
                    .at(name.span)
                    .help("give `name` in a task of its own, without `ci`"),
            );
        }
        if let Some(version) = &self.version {
            if let Err(why) = node::valid_version(&version.value) {
                found.push(
                    Diagnostic::error(format!(
                        "`{}` is not an exact version: {why}",
                        crate::printable::escape(&version.value)
                    ))
                    .at(version.span)
                    .help("write the version as npm shows it, e.g. 4.18.2 (no ranges)"),
                );
            }
            if self.state() != NpmState::Present {
                found.push(
                    Diagnostic::error("`version` is installed with `state: present` only")
                        .at(version.span)
                        .help("drop `version`, or `state`"),
                );
            }
        }
        if let Some(registry) = &self.registry
            && !(registry.value.starts_with("https://") || registry.value.starts_with("http://"))
        {
            found.push(
                Diagnostic::error("`registry` is not an http(s) URL")
                    .at(registry.span)
                    .help("e.g. `registry: https://registry.npmjs.org/`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &lang_packages::NPM
    }
}
