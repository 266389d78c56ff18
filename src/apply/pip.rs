//! `pip`: Python packages in a virtualenv (made when absent) or a Python's environment, after
//! Ansible's `ansible.builtin.pip`. Planned and run by the language-package family
//! ([`super::lang_packages`], pip's part in [`super::lang_packages::python`]): one `pip list`
//! per environment at plan time, one pip transaction per environment at execute time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::commands::words::split;
use super::contract::{CheckContext, Claim, Family, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::lang_packages;
use super::lang_packages::python::{self, DEFAULT_VIRTUALENV_COMMAND};
use super::package::PackageNames;
use crate::diagnostics::Diagnostic;
use crate::model::{RenderedContent, Spanned};

/// Python packages installed (at a version, or the newest pip finds) or removed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipTask {
    /// A requirement (`requests`, `flask[async]>=3,<4`), or a list of them. Environment
    /// markers (`; python_version…`) and URLs are refused: the plan must say what pip installs.
    pub name: Option<Spanned<PackageNames>>,
    /// The exact version of the one package `name` names (`name==version`).
    pub version: Option<Spanned<String>>,
    /// A requirements file (absolute, or relative to `chdir`) installed along with `name`.
    pub requirements: Option<Spanned<String>>,
    /// Absolute path of a virtualenv to install into, made with `virtualenv_command` when it
    /// does not exist.
    pub virtualenv: Option<Spanned<String>>,
    /// The command that makes the virtualenv, its path appended (default `python3 -m venv`).
    pub virtualenv_command: Option<Spanned<String>>,
    /// The Python the virtualenv is made with: it runs `-m venv` in place of `python3`, or is
    /// given to another `virtualenv_command` as `-p`.
    pub virtualenv_python: Option<Spanned<String>>,
    /// The pip program to run outside a virtualenv (default `python3 -m pip`).
    pub executable: Option<Spanned<String>>,
    /// More arguments for `pip install`, split as a shell splits words (quotes group; never run
    /// by one),
    /// e.g. `--no-index --find-links /srv/wheels`.
    pub extra_args: Option<Spanned<String>>,
    /// `present` (default): installed, at a version the requirement allows; `latest`:
    /// upgraded to the newest pip finds; `absent`: uninstalled. (`forcereinstall` is refused:
    /// it changes something on every run.)
    pub state: Option<Spanned<PipState>>,
    /// The directory pip runs in (where a relative `requirements` is read).
    pub chdir: Option<Spanned<String>>,
    /// The umask pip runs with, in octal (`"0022"`): the modes of the files it writes.
    pub umask: Option<Spanned<String>>,
}

/// What the packages should be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PipState {
    #[default]
    Present,
    Latest,
    Absent,
    /// Refused at check time: a reinstall on every run is never unchanged.
    Forcereinstall,
}

/// One requirement of a task: its normalized name and the text pip is given.
#[derive(Debug, Clone, PartialEq)]
pub struct PipRequirement {
    pub name: String,
    pub written: String,
    /// A name alone: any installed version meets it.
    pub bare: bool,
}

impl PipTask {
    pub fn state(&self) -> PipState {
        self.state.as_ref().map_or(PipState::Present, |s| s.value)
    }

    fn names(&self) -> Vec<Spanned<String>> {
        match &self.name {
            None => Vec::new(),
            Some(names) => match &names.value {
                PackageNames::One(name) => vec![Spanned {
                    value: name.clone(),
                    span: names.span,
                    sensitive: names.sensitive,
                }],
                PackageNames::Many(many) => many.clone(),
            },
        }
    }

    /// The requirements `name` and `version` make (those that parse).
    pub fn requirement_texts(&self) -> Vec<PipRequirement> {
        self.names()
            .into_iter()
            .filter_map(|name| {
                let parsed = python::parse_requirement(&name.value).ok()?;
                let bare = !parsed.has_extras && !parsed.has_specifiers;
                Some(match &self.version {
                    Some(version) => PipRequirement {
                        written: format!("{}=={}", name.value.trim(), version.value),
                        name: parsed.name,
                        bare: false,
                    },
                    None => PipRequirement {
                        written: name.value.trim().to_owned(),
                        name: parsed.name,
                        bare,
                    },
                })
            })
            .collect()
    }

    /// The command making the virtualenv, its path last.
    pub fn virtualenv_argv(&self) -> Vec<String> {
        let command = self
            .virtualenv_command
            .as_ref()
            .map_or(DEFAULT_VIRTUALENV_COMMAND, |c| c.value.as_str());
        let mut argv = split(command).unwrap_or_default();
        if let Some(python) = &self.virtualenv_python {
            if argv.iter().any(|w| w == "venv") {
                if let Some(first) = argv.first_mut() {
                    first.clone_from(&python.value);
                }
            } else {
                argv.extend(["-p".to_owned(), python.value.clone()]);
            }
        }
        if let Some(venv) = &self.virtualenv {
            argv.push(venv.value.clone());
        }
        argv
    }

    pub fn extra_args(&self) -> Vec<String> {
        self.extra_args
            .as_ref()
            .and_then(|a| split(&a.value).ok())
            .unwrap_or_default()
    }

    pub fn umask(&self) -> Option<u32> {
        self.umask
            .as_ref()
            .and_then(|u| u32::from_str_radix(&u.value, 8).ok())
    }

    fn environment(&self) -> String {
        match (&self.virtualenv, &self.executable) {
            (Some(venv), _) => venv.value.clone(),
            (None, Some(executable)) => executable.value.clone(),
            (None, None) => "python3 -m pip".to_owned(),
        }
    }

    fn span(&self) -> Option<crate::diagnostics::Span> {
        self.name
            .as_ref()
            .map(|n| n.span)
            .or(self.requirements.as_ref().map(|r| r.span))
    }
}

impl Resource for PipTask {
    fn claims(&self) -> Vec<Claim> {
        let environment = self.environment();
        let names = self.names();
        let mut claimed = std::collections::HashSet::new();
        // A name that does not parse, or one named twice, is the check's to report.
        let mut claims: Vec<Claim> = names
            .iter()
            .filter_map(|written| {
                let name = python::parse_requirement(&written.value).ok()?.name;
                claimed.insert(name.clone()).then(|| Claim {
                    thing: Thing::PythonPackage(format!("{name} in {environment}")),
                    written: written.value.clone(),
                    hold: Hold::Owns,
                    span: written.span,
                    sensitive: written.sensitive,
                })
            })
            .collect();
        if let Some(span) = self.span() {
            claims.push(Claim {
                thing: Thing::Lock(format!("pip {environment}")),
                written: environment,
                hold: Hold::Exclusive,
                span,
                sensitive: false,
            });
        }
        claims
    }

    fn requires(&self) -> Vec<Requirement> {
        let mut out = Vec::new();
        if let Some(venv) = &self.virtualenv {
            out.push(Requirement {
                thing: Thing::path(&venv.value),
                reason: Reason::ParentDirectory,
                nearest_ancestor: true,
            });
        }
        if let Some(file) = self
            .requirements
            .as_ref()
            .filter(|f| f.value.starts_with('/'))
        {
            out.push(Requirement::exact(
                Thing::path(&file.value),
                Reason::PackageSource,
            ));
        }
        out
    }

    fn default_id(&self) -> String {
        let mut names: Vec<String> = self
            .requirement_texts()
            .into_iter()
            .map(|r| r.name)
            .collect();
        if let Some(file) = &self.requirements {
            names.push(file.value.clone());
        }
        format!("pip:{}", names.join(","))
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        let names = self.names();
        let mut seen = std::collections::HashSet::new();
        for name in &names {
            match python::parse_requirement(&name.value) {
                Err(why) => found.push(
                    Diagnostic::error(format!(
                        "`{}` is not a pip requirement: {why}",
                        crate::printable::escape(&name.value)
                    ))
                    .at(name.span)
                    .help(
                        "write a package name with optional extras and version specifiers, \
                         e.g. `requests`, `flask[async]>=3,<4`; it is given to pip as one \
                         argument, never through a shell",
                    ),
                ),
                Ok(parsed) => {
                    if !seen.insert(parsed.name.clone()) {
                        found.push(
                            Diagnostic::error(format!("package `{}` is named twice", parsed.name))
                                .at(name.span)
                                .help("name each package once"),
                        );
                    }
                    if self.state() == PipState::Absent && parsed.has_specifiers {
                        found.push(
                            Diagnostic::error(
                                "`state: absent` removes a package whatever its version",
                            )
                            .at(name.span)
                            .help("name the package without version specifiers"),
                        );
                    }
                }
            }
        }
        if names.is_empty() && self.requirements.is_none() {
            found.push(
                Diagnostic::error("a pip task names no package")
                    .at(cx.task)
                    .help("give `name` (one requirement or a list) or `requirements` (a file)"),
            );
        }
        if let Some(state) = &self.state {
            match state.value {
                PipState::Forcereinstall => found.push(
                    Diagnostic::error("`state: forcereinstall` is not supported")
                        .at(state.span)
                        .help(
                            "it reinstalls on every run, so a second apply would never be \
                             unchanged; pin the version (`version:` or `name==1.2`) or use \
                             `state: latest`",
                        ),
                ),
                PipState::Absent if self.requirements.is_some() => found.push(
                    Diagnostic::error("`state: absent` with `requirements` is not supported")
                        .at(state.span)
                        .help("name the packages to remove in `name`"),
                ),
                _ => {}
            }
        }
        if let Some(version) = &self.version {
            if names.len() != 1 {
                found.push(
                    Diagnostic::error(
                        "`version` pins one package, but `name` names none or several",
                    )
                    .at(version.span)
                    .help("give each pinned package its own task, or write `name==1.2`"),
                );
            } else if names
                .iter()
                .any(|n| python::parse_requirement(&n.value).is_ok_and(|r| r.has_specifiers))
            {
                found.push(
                    Diagnostic::error(
                        "`version` and a version specifier in `name` both pin the package",
                    )
                    .at(version.span)
                    .help("keep one of them"),
                );
            }
            if self.state() != PipState::Present {
                found.push(
                    Diagnostic::error(format!(
                        "`version` has no meaning with `state: {}`",
                        if self.state() == PipState::Latest {
                            "latest"
                        } else {
                            "absent"
                        }
                    ))
                    .at(version.span)
                    .help("a pinned version is installed with `state: present`"),
                );
            }
            if let Err(why) = python::valid_version(&version.value) {
                found.push(
                    Diagnostic::error(format!(
                        "`{}` is not a version: {why}",
                        crate::printable::escape(&version.value)
                    ))
                    .at(version.span)
                    .help("write the version as pip shows it, e.g. 2.31.0"),
                );
            }
        }
        if let Some(venv) = &self.virtualenv {
            absolute(venv, "virtualenv", found);
            if let Some(executable) = &self.executable {
                found.push(
                    Diagnostic::error("`executable` and `virtualenv` exclude each other")
                        .at(executable.span)
                        .help("pip runs as the virtualenv's own; drop `executable`"),
                );
            }
        } else {
            for field in [&self.virtualenv_command, &self.virtualenv_python]
                .into_iter()
                .flatten()
            {
                found.push(
                    Diagnostic::error("this field makes a virtualenv, but `virtualenv` names none")
                        .at(field.span)
                        .help("add `virtualenv: /path/of/the/venv` or drop this field"),
                );
            }
        }
        for (field, value) in [
            ("virtualenv_command", &self.virtualenv_command),
            ("extra_args", &self.extra_args),
        ] {
            let Some(value) = value else { continue };
            match split(&value.value) {
                Err(why) => found.push(
                    Diagnostic::error(format!("`{field}` cannot be split into words: {why}"))
                        .at(value.span)
                        .help(
                            "it is split as a shell splits words (quotes group), never run by one",
                        ),
                ),
                Ok(words) if words.is_empty() => found.push(
                    Diagnostic::error(format!("`{field}` is empty"))
                        .at(value.span)
                        .help("drop the field, or give it words"),
                ),
                Ok(_) => {}
            }
        }
        if let Some(chdir) = &self.chdir {
            absolute(chdir, "chdir", found);
        }
        if let Some(file) = &self.requirements
            && !file.value.starts_with('/')
            && self.chdir.is_none()
        {
            found.push(
                Diagnostic::error("a relative `requirements` file needs `chdir`")
                    .at(file.span)
                    .help("write its absolute path, or say in `chdir` where pip runs"),
            );
        }
        if let Some(umask) = &self.umask
            && (!(1..=4).contains(&umask.value.len())
                || !umask.value.chars().all(|c| ('0'..='7').contains(&c)))
        {
            found.push(
                Diagnostic::error(format!(
                    "`umask` `{}` is not an octal mask",
                    crate::printable::escape(&umask.value)
                ))
                .at(umask.span)
                .help("write it in octal, quoted: `umask: \"0022\"`"),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &lang_packages::PIP
    }
}
