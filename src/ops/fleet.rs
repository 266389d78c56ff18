//! The fleet workflows: compile the config as other hosts see it from their recorded facts
//! (`check --host`, `check --all-hosts`), and say where a var's value comes from
//! (`driftless vars`).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::compile::{Compiled, Inputs, compile_loaded, load};
use crate::config::{self, ConfigDir};
use crate::diagnostics::{Diagnostics, SourceMap, did_you_mean};
use crate::facts::{HostFacts, recorded};
use crate::template::{self, layers::Shown};

/// Which hosts to compile for, and from which facts.
#[derive(Debug, Clone, Default)]
pub struct HostsRequest {
    /// `--host NAME`.
    pub host: Option<String>,
    /// `--all-hosts`.
    pub all: bool,
    /// `--facts FILE`: the facts of `host`.
    pub facts: Option<PathBuf>,
    /// `--facts-dir DIR`: `DIR/<host>.json` for each host.
    pub facts_dir: Option<PathBuf>,
}

/// A host to compile for, with its facts.
pub struct Target {
    pub name: String,
    pub facts: HostFacts,
}

/// The hosts a request names, each with its recorded facts. Without `--host` or
/// `--all-hosts`, `None`: compile for this host, with its live facts.
pub fn targets(
    config_dir: &ConfigDir,
    request: &HostsRequest,
) -> Result<Option<Vec<Target>>, String> {
    if let Some(name) = &request.host {
        let path = match (&request.facts, &request.facts_dir) {
            (Some(file), _) => file.clone(),
            (None, Some(dir)) => dir.join(format!("{name}.json")),
            (None, None) => {
                return Err(format!(
                    "--host {name} needs its recorded facts: --facts FILE (from `driftless facts \
                     --format json` on {name}) or --facts-dir DIR (DIR/{name}.json)"
                ));
            }
        };
        let facts = recorded::read(&path)?;
        return Ok(Some(vec![Target {
            name: name.clone(),
            facts,
        }]));
    }
    if !request.all {
        return Ok(None);
    }
    let dir = request.facts_dir.as_deref().ok_or_else(|| {
        "--all-hosts needs --facts-dir DIR: the recorded facts of every host, DIR/<host>.json"
            .to_owned()
    })?;
    let mut names = recorded_hosts(dir)?;
    let missing: Vec<String> = inventory_hosts(config_dir)
        .into_iter()
        .filter(|name| !names.contains(name))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no recorded facts in {} for {}: record them with `driftless facts --format json > \
             {}/<host>.json` on each",
            dir.display(),
            missing.join(", "),
            dir.display()
        ));
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let facts = recorded::read(&dir.join(format!("{name}.json")))?;
            Ok(Target { name, facts })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// The host names with a facts file in `dir`.
fn recorded_hosts(dir: &Path) -> Result<Vec<String>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".json")?.to_owned();
            (!name.starts_with('.') && !name.is_empty()).then_some(name)
        })
        .collect())
}

/// The hosts the inventory names literally (not by a pattern): each must have facts.
fn inventory_hosts(config_dir: &ConfigDir) -> Vec<String> {
    let Some(file) = config::fleet::inventory_path(config_dir.path()) else {
        return Vec::new();
    };
    let mut sources = SourceMap::default();
    let mut diagnostics = Diagnostics::default();
    // Its mistakes are reported when each host's config is compiled.
    let fleet = config::fleet::load(config_dir, file, &mut sources, &mut diagnostics);
    let literal = |name: &str| !name.contains(['*', '?']);
    let mut names: Vec<String> = fleet
        .inventory
        .hosts
        .iter()
        .map(|h| h.pattern.name.clone())
        .chain(
            fleet
                .inventory
                .groups
                .iter()
                .flat_map(|g| g.hosts.iter().filter_map(|h| h.as_str().map(str::to_owned))),
        )
        .filter(|n| literal(n))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Compiles the config once per target, in parallel; results in the targets' order. The
/// config dir is read and parsed once for all.
pub fn compile_hosts(inputs: &Inputs, targets: &[Target]) -> Vec<(String, Compiled)> {
    let loaded = load(inputs);
    targets
        .par_iter()
        .map(|target| {
            (
                target.name.clone(),
                compile_loaded(&loaded, inputs, &target.facts, Some(&target.name)),
            )
        })
        .collect()
}

/// Where a var's value comes from on a host.
pub struct VarOrigins {
    pub host: String,
    pub name: String,
    /// The winning definition first; empty when no layer sets the var.
    pub definitions: Vec<Shown>,
    /// When no layer sets it: a close name.
    pub suggestion: Option<String>,
    /// Mistakes in the inventory or vars (same-layer conflicts…).
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

/// `driftless vars NAME`: every layer's definition of `name` for `host` (default: the host
/// the facts name).
pub fn var_origins(
    inputs: &Inputs,
    facts: &HostFacts,
    host: Option<&str>,
    name: &str,
) -> VarOrigins {
    let mut sources = SourceMap::default();
    let mut diagnostics = Diagnostics::default();
    let loaded = config::load(
        &inputs.config_dir,
        &inputs.extra_vars,
        &mut sources,
        &mut diagnostics,
    );
    let definitions = template::explain_var(
        &loaded,
        &inputs.config_dir,
        facts,
        host,
        name,
        &sources,
        &mut diagnostics,
    );
    let suggestion = definitions
        .is_empty()
        .then(|| {
            let names = template::var_names(&loaded);
            did_you_mean(name, names.iter().map(String::as_str))
        })
        .flatten();
    VarOrigins {
        host: host.unwrap_or(&facts.hostname).to_owned(),
        name: name.to_owned(),
        definitions,
        suggestion,
        diagnostics,
        sources,
    }
}
