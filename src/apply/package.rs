//! `package`: packages installed at a version, at the newest version the manager offers, or
//! absent — through the host's package manager (apt/dpkg, dnf, yum, apk, pacman, zypper),
//! detected or named. The family ([`super::packages`]) observes all the packages of a plan in
//! one query and installs all the ready ones of a run in one transaction.

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Family, Hold, Requirement, Resource, Thing};
use super::packages::{self, ManagerChoice, PACKAGE_MANAGER_LOCK};
use crate::diagnostics::Diagnostic;
use crate::model::values::Duration;
use crate::model::{RenderedContent, Spanned};

/// Packages and the version each should be at: installed (`present`), upgraded to what the
/// manager offers (`latest`), pinned (`version`), or removed (`absent`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageTask {
    /// One package name, or a list of them.
    pub name: Spanned<PackageNames>,
    /// `present` (default): installed, at any version; `latest`: at the version the manager
    /// would install; `absent`: not installed.
    #[serde(default)]
    pub state: PackageState,
    /// The exact version to install (one name only, `state: present` only), e.g.
    /// `1.22.1-9+deb12u1`.
    pub version: Option<Spanned<String>>,
    /// The package manager: `auto` (default) detects it on the host.
    #[serde(default)]
    pub manager: Option<Spanned<ManagerChoice>>,
    /// Refresh the manager's package index before the transaction, when it is older than
    /// `cache_valid_time` (always, without one).
    #[serde(default)]
    pub update_cache: bool,
    /// How old the package index may be before `update_cache` refreshes it, e.g. "1h". Implies
    /// `update_cache`.
    pub cache_valid_time: Option<Spanned<Duration>>,
}

/// What the package should be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    #[default]
    Present,
    Latest,
    Absent,
}

impl PackageState {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageState::Present => "present",
            PackageState::Latest => "latest",
            PackageState::Absent => "absent",
        }
    }
}

/// One package name, or a list of them, as written.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PackageNames {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl JsonSchema for PackageNames {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PackageNames".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A package name, or a list of them.",
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" }, "minItems": 1 }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for PackageNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;

        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = PackageNames;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a package name or a list of package names")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<PackageNames, E> {
                Ok(PackageNames::One(name.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PackageNames, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<Spanned<String>>()? {
                    names.push(name);
                }
                Ok(PackageNames::Many(names))
            }
        }

        deserializer.deserialize_any(NamesVisitor)
    }
}

impl PackageTask {
    /// The names, each with the place it is written (a single name: the field's).
    pub fn names(&self) -> Vec<Spanned<String>> {
        match &self.name.value {
            PackageNames::One(name) => vec![Spanned {
                value: name.clone(),
                span: self.name.span,
                sensitive: self.name.sensitive,
            }],
            PackageNames::Many(names) => names.clone(),
        }
    }

    /// The manager as written (`auto` when not).
    pub fn manager_choice(&self) -> ManagerChoice {
        self.manager
            .as_ref()
            .map_or(ManagerChoice::Auto, |m| m.value)
    }

    /// Whether the package index is to be refreshed when older than this (`None`: refreshed
    /// whenever `update_cache` is set); `Some(None)` never.
    pub fn refresh_after(&self) -> Option<Option<std::time::Duration>> {
        match (&self.cache_valid_time, self.update_cache) {
            (Some(valid), _) => Some(Some(valid.value.0)),
            (None, true) => Some(None),
            (None, false) => None,
        }
    }
}

impl Resource for PackageTask {
    fn claims(&self) -> Vec<Claim> {
        let mut claims: Vec<Claim> = self
            .names()
            .into_iter()
            .map(|name| Claim {
                thing: Thing::Package(name.value.clone()),
                written: name.value.clone(),
                hold: Hold::Owns,
                span: name.span,
                sensitive: name.sensitive,
            })
            .collect();
        claims.push(Claim {
            thing: Thing::Lock(PACKAGE_MANAGER_LOCK.to_owned()),
            written: PACKAGE_MANAGER_LOCK.to_owned(),
            hold: Hold::Exclusive,
            span: self.name.span,
            sensitive: false,
        });
        claims
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        let names: Vec<String> = self.names().into_iter().map(|n| n.value).collect();
        format!("package:{}", names.join(","))
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        let names = self.names();
        if names.is_empty() {
            found.push(
                Diagnostic::error("`name` lists no package")
                    .at(self.name.span)
                    .help("name at least one package"),
            );
        }
        let manager = self.manager_choice();
        let mut seen = std::collections::HashSet::new();
        for name in &names {
            if let Err(why) = packages::valid_name(&name.value, manager) {
                found.push(
                    Diagnostic::error(format!(
                        "`{}` is not a valid package name: {why}",
                        crate::printable::escape(&name.value)
                    ))
                    .at(name.span)
                    .help(
                        "package names are letters, digits and `+ . _ -`, starting with a \
                         letter or digit; they are passed to the package manager as one \
                         argument, never through a shell",
                    ),
                );
            } else if !seen.insert(name.value.as_str()) {
                found.push(
                    Diagnostic::error(format!("package `{}` is named twice", name.value))
                        .at(name.span)
                        .help("name each package once"),
                );
            }
        }
        if let Some(version) = &self.version {
            if self.state != PackageState::Present {
                found.push(
                    Diagnostic::error(format!(
                        "`version` has no meaning with `state: {}`",
                        self.state.as_str()
                    ))
                    .at(version.span)
                    .help("a pinned version is installed with `state: present`"),
                );
            }
            if names.len() > 1 {
                found.push(
                    Diagnostic::error("`version` pins one package, but `name` lists several")
                        .at(version.span)
                        .help("give each pinned package its own task"),
                );
            }
            if let Err(why) = packages::valid_version(&version.value) {
                found.push(
                    Diagnostic::error(format!(
                        "`{}` is not a valid package version: {why}",
                        crate::printable::escape(&version.value)
                    ))
                    .at(version.span)
                    .help(
                        "write the version as the package manager shows it, e.g. 1.22.1-9+deb12u1",
                    ),
                );
            }
        }
        if let (Some(valid), PackageState::Absent) = (&self.cache_valid_time, self.state) {
            found.push(
                Diagnostic::error("`cache_valid_time` has no meaning with `state: absent`")
                    .at(valid.span)
                    .help("removing a package needs no fresh package index"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &packages::PACKAGES
    }
}
