//! pip: the query is `pip list --format=json` (every distribution of the environment with its
//! version); what a task would install is what pip itself resolves, asked at plan time with
//! `pip install --dry-run --report -` (the exact distributions and versions, dependencies
//! included — asked only when something may be missing or older); the transaction installs
//! exactly those versions (`name==version`) and uninstalls with `pip uninstall -y`. Names are
//! compared normalized (PEP 503: lower case, runs of `-_.` as one `-`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Ecosystem, Installed, Transaction, Want, digest};
use crate::apply::pip::{PipState, PipTask};
use crate::model::ApplyTask;
use crate::process::{self, Invocation};

/// The default `virtualenv_command`.
pub const DEFAULT_VIRTUALENV_COMMAND: &str = "python3 -m venv";

/// How pip runs in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipHow {
    /// The virtualenv's path, or the pip program of a Python outside one.
    pub environment: String,
    /// The program and arguments that run pip there.
    pub pip: Vec<String>,
    /// The command that makes the virtualenv (its path last), for one.
    pub create: Option<Vec<String>>,
    /// What the install is given besides the packages (`extra_args`).
    pub extra_args: Vec<String>,
    /// The requirements file, as pip opens it (relative to `chdir`): read again by `execute`.
    pub requirements: Option<String>,
    pub chdir: Option<String>,
    pub umask: Option<u32>,
}

impl PipHow {
    fn invocation(&self, argv: impl IntoIterator<Item = String>) -> Invocation {
        let mut invocation = Invocation::new(argv);
        invocation.chdir = self.chdir.as_ref().map(Into::into);
        invocation.umask = self.umask;
        invocation
    }

    /// pip with a subcommand and the options every call gets.
    fn pip(&self, subcommand: &str) -> Vec<String> {
        let mut argv = self.pip.clone();
        argv.extend(
            [subcommand, "--disable-pip-version-check", "--no-input"]
                .into_iter()
                .map(str::to_owned),
        );
        argv
    }

    /// The pip that resolves what to install when the virtualenv does not exist yet: the
    /// Python that will make it, as if nothing were installed.
    fn resolver(&self, exists: bool) -> (Vec<String>, bool) {
        match &self.create {
            Some(create) if !exists => {
                // `python -m venv …` names its Python first; another command takes `-p PYTHON`.
                let python = if create.iter().any(|w| w == "venv") {
                    create.first().cloned()
                } else {
                    let given = create.iter().skip_while(|w| *w != "-p").nth(1);
                    given.cloned()
                };
                let python = python.unwrap_or_else(|| "python3".to_owned());
                (vec![python, "-m".into(), "pip".into()], true)
            }
            _ => (self.pip.clone(), false),
        }
    }
}

pub struct Pip;

impl Ecosystem for Pip {
    type Task = PipTask;
    type How = PipHow;

    const TOOL: &'static str = "pip";

    fn task(task: &ApplyTask) -> Option<&PipTask> {
        match &task.spec {
            crate::apply::ApplySpec::Pip(task) => Some(task),
            _ => None,
        }
    }

    fn how(task: &PipTask) -> PipHow {
        let field = |f: &Option<crate::model::Spanned<String>>| f.as_ref().map(|f| f.value.clone());
        let (environment, pip, create) = match (&task.virtualenv, &task.executable) {
            (Some(venv), _) => {
                let python = Path::new(&venv.value).join("bin/python");
                (
                    venv.value.clone(),
                    vec![python.display().to_string(), "-m".into(), "pip".into()],
                    Some(task.virtualenv_argv()),
                )
            }
            (None, Some(executable)) => (
                executable.value.clone(),
                vec![executable.value.clone()],
                None,
            ),
            (None, None) => (
                "python3 -m pip".to_owned(),
                vec!["python3".into(), "-m".into(), "pip".into()],
                None,
            ),
        };
        PipHow {
            environment,
            pip,
            create,
            extra_args: task.extra_args(),
            requirements: task.requirements.as_ref().map(|file| {
                match &task.chdir {
                    Some(dir) => Path::new(&dir.value).join(&file.value),
                    None => Path::new(&file.value).to_path_buf(),
                }
                .display()
                .to_string()
            }),
            chdir: field(&task.chdir),
            umask: task.umask(),
        }
    }

    fn environment(how: &PipHow) -> String {
        how.environment.clone()
    }

    fn installed(how: &PipHow) -> Result<Option<Installed>, String> {
        if how.create.is_some() && !Path::new(&how.environment).join("bin/python").exists() {
            return Ok(None);
        }
        let mut argv = how.pip("list");
        argv.extend(["--format=json".to_owned()]);
        let stdout = process::output(&how.invocation(argv)).map_err(|e| e.message)?;
        parse_list(&stdout).map(Some)
    }

    fn want(
        task: &PipTask,
        how: &PipHow,
        installed: Option<&Installed>,
    ) -> Result<BTreeMap<String, Want>, String> {
        let requirements = task.requirement_texts();
        let keep = |name: &str| Want {
            version: installed.and_then(|i| i.get(name)).cloned(),
            source: None,
        };
        if task.state() == PipState::Absent {
            return Ok(requirements
                .iter()
                .map(|requirement| {
                    (
                        requirement.name.clone(),
                        Want {
                            version: None,
                            source: None,
                        },
                    )
                })
                .collect());
        }
        let satisfied = task.state() == PipState::Present
            && task.requirements.is_none()
            && requirements
                .iter()
                .all(|r| r.bare && installed.is_some_and(|i| i.contains_key(&r.name)));
        let mut wanted: BTreeMap<String, Want> = requirements
            .iter()
            .map(|r| (r.name.clone(), keep(&r.name)))
            .collect();
        if satisfied {
            return Ok(wanted);
        }
        let (resolver, fresh) = how.resolver(installed.is_some());
        let mut argv = resolver;
        argv.extend(
            [
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--dry-run",
                "--quiet",
                "--report",
                "-",
            ]
            .map(str::to_owned),
        );
        if task.state() == PipState::Latest {
            argv.push("--upgrade".into());
        }
        if fresh {
            argv.push("--ignore-installed".into());
        }
        argv.extend(how.extra_args.iter().cloned());
        if let Some(file) = &how.requirements {
            argv.extend(["-r".to_owned(), file.clone()]);
        }
        argv.extend(requirements.into_iter().map(|r| r.written));
        let stdout = process::output(&how.invocation(argv)).map_err(|e| e.message)?;
        for (name, version) in parse_report(&stdout)? {
            wanted.insert(
                name,
                Want {
                    version: Some(version),
                    source: None,
                },
            );
        }
        if let Some((name, _)) = wanted.iter().find(|(_, w)| w.version.is_none()) {
            return Err(format!("pip would not install {name}"));
        }
        Ok(wanted)
    }

    fn inputs(how: &PipHow) -> Result<Option<String>, String> {
        how.requirements
            .as_ref()
            .map(|file| {
                std::fs::read(file)
                    .map(|bytes| digest(&bytes))
                    .map_err(|e| format!("cannot read {file}: {e}"))
            })
            .transpose()
    }

    fn transaction(how: &PipHow, change: &Transaction<'_>) -> Vec<Invocation> {
        let mut out = Vec::new();
        if let (true, Some(create)) = (change.create, &how.create) {
            out.push(how.invocation(create.clone()));
        }
        if !change.remove.is_empty() {
            let mut argv = how.pip("uninstall");
            argv.push("--yes".into());
            argv.extend(change.remove.iter().map(|n| (*n).to_owned()));
            out.push(how.invocation(argv));
        }
        if !change.install.is_empty() {
            let mut argv = how.pip("install");
            argv.extend(how.extra_args.iter().cloned());
            argv.extend(
                change
                    .install
                    .iter()
                    .map(|(name, version, _)| format!("{name}=={version}")),
            );
            out.push(how.invocation(argv));
        }
        out
    }

    fn creation(how: &PipHow) -> String {
        format!(
            "create the virtualenv {} with `{}` first",
            how.environment,
            how.create.as_deref().unwrap_or_default().join(" ")
        )
    }
}

/// A distribution name as PEP 503 compares it: lower case, each run of `-`, `_`, `.` one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Parses `pip list --format=json`: `[{"name": …, "version": …}, …]`.
pub fn parse_list(text: &str) -> Result<Installed, String> {
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        version: String,
    }
    let entries: Vec<Entry> = serde_json::from_str(text)
        .map_err(|e| format!("pip list printed something other than its JSON list: {e}"))?;
    Ok(entries
        .into_iter()
        .map(|e| (normalize(&e.name), e.version))
        .collect())
}

/// Parses the report of `pip install --dry-run --report -`: the distributions it would
/// install, each with its version.
pub fn parse_report(text: &str) -> Result<Vec<(String, String)>, String> {
    #[derive(Deserialize)]
    struct Report {
        install: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        metadata: Metadata,
    }
    #[derive(Deserialize)]
    struct Metadata {
        name: String,
        version: String,
    }
    let report: Report = serde_json::from_str(text)
        .map_err(|e| format!("pip's installation report is unreadable: {e}"))?;
    Ok(report
        .install
        .into_iter()
        .map(|i| (normalize(&i.metadata.name), i.metadata.version))
        .collect())
}

/// One requirement as a task may write it: a name, extras, version specifiers (PEP 508,
/// without environment markers or URLs).
#[derive(Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Normalized.
    pub name: String,
    pub has_extras: bool,
    pub has_specifiers: bool,
}

const OPERATORS: [&str; 8] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// A name or an extra: letters and digits, with `. _ -` inside.
fn valid_identifier(word: &str) -> bool {
    !word.is_empty()
        && word.chars().all(is_name_char)
        && word.starts_with(|c: char| c.is_ascii_alphanumeric())
        && word.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A version of a specifier: PEP 440's characters (`*` for `==1.*`).
pub fn valid_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("a version is empty".to_owned());
    }
    match version
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '+' | '!' | '_' | '-')))
    {
        Some(bad) => Err(format!(
            "`{}` may not be in a version",
            crate::printable::escape(&bad.to_string())
        )),
        None if version.starts_with(|c: char| c.is_ascii_alphanumeric()) => Ok(()),
        None => Err("a version starts with a letter or digit".to_owned()),
    }
}

/// Parses a requirement, or says what is wrong with it.
pub fn parse_requirement(text: &str) -> Result<Requirement, String> {
    if let Some(bad) = text.chars().find(|c| matches!(c, ';' | '@')) {
        return Err(format!(
            "`{bad}` starts {}, which driftless does not take: the plan could not say what \
             pip installs",
            if bad == ';' {
                "an environment marker"
            } else {
                "a URL"
            }
        ));
    }
    let text = text.trim();
    let name_end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
    let name = &text[..name_end];
    if !valid_identifier(name) {
        return Err(if name.is_empty() {
            "it does not start with a package name".to_owned()
        } else {
            format!("`{name}` is not a package name (letters and digits, with `. _ -` inside)")
        });
    }
    let mut rest = text[name_end..].trim_start();
    let mut has_extras = false;
    if let Some(inner) = rest.strip_prefix('[') {
        let Some((extras, after)) = inner.split_once(']') else {
            return Err("`[` opens extras that `]` does not close".to_owned());
        };
        for extra in extras.split(',').map(str::trim) {
            if !valid_identifier(extra) {
                return Err(format!(
                    "`{}` is not an extra's name",
                    crate::printable::escape(extra)
                ));
            }
        }
        has_extras = true;
        rest = after.trim_start();
    }
    let has_specifiers = !rest.is_empty();
    if has_specifiers {
        for clause in rest.split(',').map(str::trim) {
            let Some(operator) = OPERATORS.iter().find(|op| clause.starts_with(**op)) else {
                return Err(format!(
                    "`{}` is not a version specifier (`==1.2`, `>=2,<3`, `~=1.4`)",
                    crate::printable::escape(clause)
                ));
            };
            valid_version(clause[operator.len()..].trim())?;
        }
    }
    Ok(Requirement {
        name: normalize(name),
        has_extras,
        has_specifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_with_markers_urls_or_shell_syntax_are_refused() {
        for bad in [
            "x; rm -rf /",
            "x @ https://example.com/x.whl",
            "-r other.txt",
            "x y",
            "x>=",
            "x[a",
            "x=1",
            "x==1 2",
            "$(id)",
            "",
        ] {
            assert!(parse_requirement(bad).is_err(), "{bad}");
        }
        let parsed = parse_requirement("Flask_Login[extra1, b] >= 2.0, <3").unwrap();
        assert_eq!(parsed.name, "flask-login");
        assert!(parsed.has_extras && parsed.has_specifiers);
        assert_eq!(
            parse_requirement("requests").unwrap(),
            Requirement {
                name: "requests".into(),
                has_extras: false,
                has_specifiers: false
            }
        );
        assert!(parse_requirement("django==4.2.*").is_ok());
        assert!(parse_requirement("pkg~=1.4.2").is_ok());
    }

    #[test]
    fn a_virtualenv_not_yet_made_is_resolved_by_the_python_that_makes_it() {
        let how = |create: &[&str]| PipHow {
            environment: "/v".into(),
            pip: vec!["/v/bin/python".into(), "-m".into(), "pip".into()],
            create: Some(create.iter().map(|w| (*w).to_owned()).collect()),
            extra_args: Vec::new(),
            requirements: None,
            chdir: None,
            umask: None,
        };
        let resolver = |create: &[&str]| how(create).resolver(false);
        assert_eq!(
            resolver(&["python3.12", "-m", "venv", "/v"]).0[0],
            "python3.12"
        );
        assert_eq!(resolver(&["virtualenv", "-p", "pypy3", "/v"]).0[0], "pypy3");
        assert_eq!(resolver(&["virtualenv", "/v"]).0[0], "python3");
        assert!(
            resolver(&["virtualenv", "/v"]).1,
            "as if nothing were installed"
        );
        let made = how(&["python3", "-m", "venv", "/v"]).resolver(true);
        assert_eq!((made.0[0].as_str(), made.1), ("/v/bin/python", false));
    }

    #[test]
    fn names_are_compared_normalized() {
        assert_eq!(normalize("Zope.Interface__x"), "zope-interface-x");
        let list = parse_list(r#"[{"name": "PyYAML", "version": "6.0.1"}]"#).unwrap();
        assert_eq!(list["pyyaml"], "6.0.1");
    }

    #[test]
    fn the_report_names_what_pip_would_install() {
        let report = r#"{"version": "1", "install": [
            {"requested": true, "metadata": {"name": "Dl_Test.B", "version": "1.0"}},
            {"requested": false, "metadata": {"name": "dltest-a", "version": "2.0"}}]}"#;
        assert_eq!(
            parse_report(report).unwrap(),
            vec![
                ("dl-test-b".to_owned(), "1.0".to_owned()),
                ("dltest-a".to_owned(), "2.0".to_owned())
            ]
        );
        assert!(parse_report("Would install x").is_err());
    }
}
