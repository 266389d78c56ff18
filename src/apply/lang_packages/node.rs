//! npm: the query is `npm ls --json --depth=0` (the top-level packages of a project, or of
//! npm's global root, each with its version). What a task installs is decided at plan time: a
//! tarball's own `package.json`, the version the task pins, the registry's `latest` (`npm
//! view NAME version`), or — for `ci` — every top-level package `package-lock.json` lists (and
//! nothing else: `npm ci` remakes `node_modules`). The transaction installs exactly those
//! versions (`name@version`, or the tarball) and removes with `npm uninstall`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Ecosystem, Installed, Transaction, Want, digest};
use crate::apply::npm::{NpmState, NpmTask};
use crate::model::ApplyTask;
use crate::process::{self, Invocation};

/// The environment of global packages.
pub const GLOBAL: &str = "global";

/// The largest `package.json` read from a tarball or lockfile read from a project.
const JSON_LIMIT: u64 = 64 << 20;

/// How npm runs in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpmHow {
    /// The project directory, or `global`.
    pub environment: String,
    pub registry: Option<String>,
    /// `--omit=dev`.
    pub production: bool,
    /// The project is installed from its lockfile (`npm ci`).
    pub ci: bool,
}

impl NpmHow {
    fn global(&self) -> bool {
        self.environment == GLOBAL
    }

    /// npm with a subcommand, its environment and the options every call gets.
    fn npm(&self, subcommand: &str) -> Vec<String> {
        let mut argv: Vec<String> = ["npm", subcommand].map(str::to_owned).into();
        if self.global() {
            argv.push("--global".into());
        } else {
            argv.extend(["--prefix".to_owned(), self.environment.clone()]);
        }
        if let Some(registry) = &self.registry {
            argv.extend(["--registry".to_owned(), registry.clone()]);
        }
        argv
    }

    /// npm with the options of a change: no audit or funding requests, dev dependencies left
    /// out in production.
    fn changing(&self, subcommand: &str) -> Vec<String> {
        let mut argv = self.npm(subcommand);
        argv.extend(["--no-audit", "--no-fund"].map(str::to_owned));
        if self.production {
            argv.push("--omit=dev".into());
        }
        argv
    }

    fn lockfile(&self) -> std::path::PathBuf {
        Path::new(&self.environment).join("package-lock.json")
    }
}

pub struct Npm;

impl Ecosystem for Npm {
    type Task = NpmTask;
    type How = NpmHow;

    const TOOL: &'static str = "npm";

    fn task(task: &ApplyTask) -> Option<&NpmTask> {
        match &task.spec {
            crate::apply::ApplySpec::Npm(task) => Some(task),
            _ => None,
        }
    }

    fn how(task: &NpmTask) -> NpmHow {
        NpmHow {
            environment: task.environment(),
            registry: task.registry.as_ref().map(|r| r.value.clone()),
            production: task.production,
            ci: task.ci,
        }
    }

    fn environment(how: &NpmHow) -> String {
        how.environment.clone()
    }

    fn installed(how: &NpmHow) -> Result<Option<Installed>, String> {
        if !how.global() && !Path::new(&how.environment).is_dir() {
            return Ok(None);
        }
        let mut argv = how.npm("ls");
        argv.extend(["--json", "--depth=0"].map(str::to_owned));
        let finished = process::run(&Invocation::new(argv)).map_err(|e| e.message)?;
        // `npm ls` exits 1 over a missing or extraneous package and still prints the tree.
        parse_ls(&finished.stdout_text())
            .map_err(|why| format!("npm ls failed (exit {}): {why}", finished.rc))
            .map(Some)
    }

    fn want(
        task: &NpmTask,
        how: &NpmHow,
        installed: Option<&Installed>,
    ) -> Result<BTreeMap<String, Want>, String> {
        let want = |version: Option<String>, source: Option<String>| Want { version, source };
        let Some(name) = &task.name else {
            let locked = read_lockfile(how)?;
            let mut wanted: BTreeMap<String, Want> = installed
                .into_iter()
                .flatten()
                .map(|(name, _)| (name.clone(), want(None, None)))
                .collect();
            wanted.extend(
                locked
                    .into_iter()
                    .map(|(name, version)| (name, want(Some(version), None))),
            );
            return Ok(wanted);
        };
        let name = &name.value;
        if is_tarball(name) {
            let (package, version) = tarball_package(Path::new(name))?;
            let version = (task.state() != NpmState::Absent).then_some(version);
            return Ok(BTreeMap::from([(
                package,
                want(version, Some(name.clone())),
            )]));
        }
        let current = installed.and_then(|i| i.get(name)).cloned();
        let version = match (task.state(), &task.version, current) {
            (NpmState::Absent, _, _) => None,
            (NpmState::Present, Some(version), _) => Some(version.value.clone()),
            (NpmState::Present, None, Some(current)) => Some(current),
            (NpmState::Present, None, None) | (NpmState::Latest, _, _) => Some(latest(how, name)?),
        };
        Ok(BTreeMap::from([(name.clone(), want(version, None))]))
    }

    fn inputs(how: &NpmHow) -> Result<Option<String>, String> {
        if !how.ci {
            return Ok(None);
        }
        let bytes = read_limited(&how.lockfile())?;
        Ok(Some(digest(&bytes)))
    }

    fn transaction(how: &NpmHow, change: &Transaction<'_>) -> Vec<Invocation> {
        if how.ci {
            return vec![Invocation::new(how.changing("ci"))];
        }
        let mut out = Vec::new();
        // `npm install --prefix` makes a project directory that does not exist.
        if !change.remove.is_empty() {
            let mut argv = how.changing("uninstall");
            argv.push("--".into());
            argv.extend(change.remove.iter().map(|n| (*n).to_owned()));
            out.push(Invocation::new(argv));
        }
        if !change.install.is_empty() {
            let mut argv = how.changing("install");
            argv.push("--".into());
            argv.extend(change.install.iter().map(|(name, version, source)| {
                source.map_or_else(|| format!("{name}@{version}"), str::to_owned)
            }));
            out.push(Invocation::new(argv));
        }
        out
    }

    fn creation(how: &NpmHow) -> String {
        format!(
            "create the project directory {} (npm makes it)",
            how.environment
        )
    }
}

/// The registry's `latest` version of `name`.
fn latest(how: &NpmHow, name: &str) -> Result<String, String> {
    let mut argv: Vec<String> = ["npm", "view", "--json"].map(str::to_owned).into();
    if let Some(registry) = &how.registry {
        argv.extend(["--registry".to_owned(), registry.clone()]);
    }
    argv.extend(["--".to_owned(), format!("{name}@latest"), "version".into()]);
    let stdout = process::output(&Invocation::new(argv)).map_err(|e| e.message)?;
    match serde_json::from_str::<Value>(&stdout) {
        Ok(Value::String(version)) if valid_version(&version).is_ok() => Ok(version),
        _ => Err(format!(
            "npm view {name} printed no version: {}",
            crate::printable::escape(stdout.trim())
        )),
    }
}

/// Whether a task's `name` is a tarball's path rather than a package name.
pub fn is_tarball(name: &str) -> bool {
    name.starts_with('/') || name.ends_with(".tgz") || name.ends_with(".tar.gz")
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(JSON_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

/// The name and version in a package tarball's top-level `package.json`.
pub fn tarball_package(path: &Path) -> Result<(String, String), String> {
    #[derive(Deserialize)]
    struct Manifest {
        name: String,
        version: String,
    }
    let unreadable = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let is_manifest = entry.path().is_ok_and(|p| {
            let parts: Vec<_> = p.components().collect();
            parts.len() == 2 && p.ends_with("package.json")
        });
        if !is_manifest {
            continue;
        }
        let mut text = Vec::new();
        entry
            .take(JSON_LIMIT)
            .read_to_end(&mut text)
            .map_err(unreadable)?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| format!("the package.json in {} is unreadable: {e}", path.display()))?;
        valid_name(&manifest.name)
            .and_then(|()| valid_version(&manifest.version))
            .map_err(|why| format!("the package.json in {}: {why}", path.display()))?;
        return Ok((manifest.name, manifest.version));
    }
    Err(format!("{} holds no package.json", path.display()))
}

/// Parses `npm ls --json --depth=0`: each top-level package with its version (a package
/// `package.json` names but that is not installed has none, and is left out).
pub fn parse_ls(text: &str) -> Result<Installed, String> {
    let tree: Value = serde_json::from_str(text).map_err(|_| {
        format!(
            "it printed no JSON: {}",
            crate::printable::escape(text.trim())
        )
    })?;
    // ELSPROBLEMS is `ls` reporting a missing, extraneous or invalid package: the tree it
    // printed is still what is installed.
    if let Some(error) = tree
        .get("error")
        .filter(|e| e.get("code").and_then(Value::as_str) != Some("ELSPROBLEMS"))
    {
        return Err(error
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or("an error")
            .to_owned());
    }
    let Some(dependencies) = tree.get("dependencies") else {
        return Ok(Installed::new());
    };
    let dependencies = dependencies
        .as_object()
        .ok_or("its `dependencies` is not an object")?;
    Ok(dependencies
        .iter()
        .filter_map(|(name, package)| {
            let version = package.get("version")?.as_str()?;
            Some((name.clone(), version.to_owned()))
        })
        .collect())
}

/// The top-level packages a `package-lock.json` (version 2 or 3) lists, with their versions:
/// its `packages` entries `node_modules/NAME` (development ones left out in production).
fn read_lockfile(how: &NpmHow) -> Result<BTreeMap<String, String>, String> {
    let path = how.lockfile();
    let bytes = read_limited(&path)?;
    parse_lockfile(&bytes, how.production).map_err(|why| format!("{}: {why}", path.display()))
}

pub fn parse_lockfile(bytes: &[u8], production: bool) -> Result<BTreeMap<String, String>, String> {
    #[derive(Deserialize)]
    struct Lock {
        packages: Option<BTreeMap<String, Locked>>,
    }
    #[derive(Deserialize)]
    struct Locked {
        version: Option<String>,
        #[serde(default)]
        dev: bool,
    }
    let lock: Lock =
        serde_json::from_slice(bytes).map_err(|e| format!("unreadable lockfile: {e}"))?;
    let packages = lock.packages.ok_or(
        "the lockfile has no `packages` (lockfileVersion 1, npm 6): run `npm install` with npm 7 or later once",
    )?;
    Ok(packages
        .into_iter()
        .filter(|(_, locked)| !(production && locked.dev))
        .filter_map(|(key, locked)| {
            let name = key.strip_prefix("node_modules/")?;
            (!name.contains("/node_modules/")).then_some((name.to_owned(), locked.version?))
        })
        .collect())
}

/// npm's rule for a package name: lower-case letters, digits and `- . _ ~`, optionally under a
/// `@scope/`, at most 214 characters, not starting with `.` or `_`.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.len() > 214 {
        return Err("it is longer than 214 characters".to_owned());
    }
    let bare = match name.strip_prefix('@') {
        Some(scoped) => {
            let Some((scope, bare)) = scoped.split_once('/') else {
                return Err("a scoped name is `@scope/name`".to_owned());
            };
            valid_part(scope)?;
            bare
        }
        None => name,
    };
    valid_part(bare)
}

fn valid_part(part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err("a part of it is empty".to_owned());
    }
    if part.starts_with(['.', '_', '-']) {
        return Err("it starts with `.`, `_` or `-`".to_owned());
    }
    match part.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | '~'))
    }) {
        Some(bad) => Err(format!(
            "`{}` may not be in it",
            crate::printable::escape(&bad.to_string())
        )),
        None => Ok(()),
    }
}

/// An exact semantic version: `1.2.3`, with an optional `-prerelease` and `+build`.
pub fn valid_version(version: &str) -> Result<(), String> {
    let (core, _) = version.split_once('+').unwrap_or((version, ""));
    let (core, pre) = core.split_once('-').unwrap_or((core, ""));
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let tail_ok = |t: &str| {
        t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    };
    if numeric && tail_ok(pre) && tail_ok(version.split_once('+').map_or("", |(_, b)| b)) {
        Ok(())
    } else {
        Err("an exact version is three numbers, `1.2.3` (a range or a tag is not)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_options_or_shell_syntax_are_refused() {
        for bad in [
            "x; rm -rf /",
            "-g",
            "",
            "@scope",
            "@/x",
            "A b",
            "$(id)",
            ".hidden",
            "Express",
        ] {
            assert!(valid_name(bad).is_err(), "{bad}");
        }
        for good in ["express", "@types/node", "lodash.merge", "left-pad"] {
            assert!(valid_name(good).is_ok(), "{good}");
        }
        for good in ["1.2.3", "10.0.0-rc.1", "1.0.0+build.5"] {
            assert!(valid_version(good).is_ok(), "{good}");
        }
        for bad in ["^1.2.3", "1.2", "latest", "1.2.3 || 2", ">=1.0.0"] {
            assert!(valid_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ls_gives_installed_top_level_packages_only() {
        let text = r#"{"name": "app", "dependencies": {
            "a": {"version": "1.0.0", "resolved": "file:/x.tgz"},
            "b": {"required": "^2.0.0", "missing": true}}}"#;
        let parsed = parse_ls(text).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed["a"], "1.0.0");
        assert!(parse_ls("{}").unwrap().is_empty());
        assert!(parse_ls(r#"{"error": {"summary": "ENOENT"}}"#).is_err());
        let missing = r#"{"error": {"code": "ELSPROBLEMS", "summary": "missing: b@^2"},
            "dependencies": {"a": {"version": "1.0.0"}}}"#;
        assert_eq!(parse_ls(missing).unwrap().len(), 1);
    }

    #[test]
    fn the_lockfile_gives_top_level_packages_and_production_leaves_out_dev_ones() {
        let lock = br#"{"lockfileVersion": 3, "packages": {
            "": {"name": "app"},
            "node_modules/a": {"version": "1.0.0"},
            "node_modules/a/node_modules/c": {"version": "3.0.0"},
            "node_modules/@s/b": {"version": "2.0.0", "dev": true}}}"#;
        let all = parse_lockfile(lock, false).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["@s/b"], "2.0.0");
        assert_eq!(parse_lockfile(lock, true).unwrap().len(), 1);
        assert!(parse_lockfile(br#"{"lockfileVersion": 1}"#, false).is_err());
    }
}
