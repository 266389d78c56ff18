//! The stage invariants of `docs/architecture.md`, checked on the source: no stage imports a
//! later one, and `cli/` holds no workflow (it calls `ops/` and prints).
//!
//! Data-driven: [`LAYERS`] lists the top-level modules of `src/lib.rs` in order, and
//! [`CLI_MAY_USE`] what `cli/` may reach. Every module must be in exactly one layer, so a new
//! module cannot be added without saying where it sits. A module's references to the others
//! are its `crate::<module>` paths (grouped imports `crate::{a, b::c}` included) in every file
//! of `src/<module>.rs` and `src/<module>/`, comments left out; `super::` paths stay inside the
//! module they are written in, so they are not followed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, first to last. A module may use the modules of its own layer and of earlier
/// ones, never of a later one.
const LAYERS: &[&[&str]] = &[
    // The foundation, usable by every layer: diagnostics and printing, the clock, file-system
    // primitives and change notification, the host readers, Git, typed errors, stop signals,
    // external programs, the HTTP(S) client.
    &[
        "diagnostics",
        "printable",
        "clock",
        "fsutil",
        "fs_watch",
        "host",
        "git",
        "error",
        "signals",
        "process",
        "http_client",
        "resident",
    ],
    // Loading: the config dir and its documents.
    &["config"],
    // The typed model with its resource types (the model holds each type's fields, each type
    // its contract).
    &["model", "apply"],
    // The stages and services, in the order data flows through them.
    &["facts"],
    &["secrets"],
    // WebAssembly plugins: loaded from the config's documents before anything renders; their
    // filters and task types serve the template stage, their log filters the log pipelines.
    &["plugins"],
    &["template"],
    // Collectors and the exporter: check knows their values, execute's facts nodes run them.
    &["metrics"],
    // Where run reports and data leave the host.
    &["sinks"],
    // The checks of the model, and the log pipelines: each uses the other's pure rules (a
    // glob, a regex's groups, an output's destination are one function, for check time and
    // run time alike); the pipelines' outputs are sinks.
    &["check", "logs"],
    &["plan"],
    // The schemas of config files and plans, generated from both.
    &["grammar"],
    &["execute"],
    // The workflows (compile, plan, verify-and-execute, apply, serve metrics).
    &["ops"],
    // The long-running agent: a loop over the workflows.
    &["agent"],
    &["cli"],
];

/// What `cli/` may use: the workflows, and what it needs to handle arguments and to print
/// (diagnostics, escaping, the model's and the plan's types, the resource types' descriptions
/// of plan nodes, the schemas, typed errors, and `fsutil` to write what it prints to a file
/// atomically). Anything else is a workflow step
/// that belongs in `ops/`.
const CLI_MAY_USE: &[&str] = &[
    "ops",
    "agent",
    "model",
    "diagnostics",
    "printable",
    "plan",
    "apply",
    "grammar",
    "error",
    "fsutil",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules `src/lib.rs` declares (`mod x;`, `pub mod x;`).
fn declared_modules() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("pub ").unwrap_or(line);
            let name = rest.strip_prefix("mod ")?.strip_suffix(';')?.trim();
            Some(name.to_owned())
        })
        .collect()
}

/// The layer `module` is in, by index into [`LAYERS`].
fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every source file of a top-level module: `src/<module>.rs` and all of `src/<module>/`,
/// sorted.
fn module_files(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = src().join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    collect_rs(&src().join(module), &mut files);
    files.sort();
    files
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read_dir entry").path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// One `crate::<target>` path in a source file.
struct Reference {
    /// `src/…:line`, for the failure message.
    place: String,
    target: String,
}

/// The text of a line without its comment: a line that starts with `//` (a doc or plain
/// comment) is all comment; elsewhere a `//` outside a string literal starts one.
fn code_of(line: &str) -> &str {
    if line.trim_start().starts_with("//") {
        return "";
    }
    let mut in_string = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The modules named right after `crate::` at byte `at` of `code`: one for a path, every
/// top-level entry of a group `{a, b::c, d::{e}}` (but `self`).
fn targets_at(code: &str, at: usize) -> Vec<String> {
    let rest = &code[at..];
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut targets = Vec::new();
    let mut depth = 0usize;
    let mut entry_start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                targets.push(ident(&group[entry_start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                targets.push(ident(&group[entry_start..i]));
                entry_start = i + 1;
            }
            _ => {}
        }
    }
    targets.retain(|t| !t.is_empty() && t != "self");
    targets
}

/// Every reference from `module`'s files to another top-level module of `modules`.
fn references(module: &str, modules: &[String]) -> Vec<Reference> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in module_files(module) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        // Comments out, line breaks kept: a grouped import may span lines, and each
        // reference is reported at the line of its `crate::`.
        let code: String = text.lines().map(|l| format!("{}\n", code_of(l))).collect();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (at, _) in code.match_indices("crate::") {
            let after_word = code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if after_word {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            for target in targets_at(&code, at + "crate::".len()) {
                if target != module && modules.contains(&target) {
                    found.push(Reference {
                        place: format!("{shown}:{line}"),
                        target,
                    });
                }
            }
        }
    }
    found
}

#[test]
fn every_module_of_lib_rs_is_in_exactly_one_layer_and_every_layer_module_exists() {
    let declared = declared_modules();
    assert!(
        declared.len() >= 10,
        "src/lib.rs declares only {declared:?}: is the parsing of `mod x;` lines broken?"
    );
    let mut problems = Vec::new();
    for module in &declared {
        let layers = LAYERS
            .iter()
            .filter(|l| l.contains(&module.as_str()))
            .count();
        match layers {
            1 => {}
            0 => problems.push(format!(
                "module `{module}` (src/lib.rs) is in no layer of the table: say where it sits"
            )),
            n => problems.push(format!("module `{module}` is in {n} layers of the table")),
        }
    }
    let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        if !declared.contains(module) {
            problems.push(format!(
                "the table names `{module}`, which src/lib.rs does not declare"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_stage_imports_a_later_one() {
    let modules = declared_modules();
    let mut violations = Vec::new();
    for module in &modules {
        // A module missing from the table is reported by the test above.
        let Some(layer) = layer_of(module) else {
            continue;
        };
        for reference in references(module, &modules) {
            let Some(target_layer) = layer_of(&reference.target) else {
                continue;
            };
            if target_layer > layer {
                violations.push(format!(
                    "{}: `{module}` uses `crate::{}`, a later layer",
                    reference.place, reference.target
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "{} reference(s) to a later stage:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn cli_holds_no_workflow() {
    let modules = declared_modules();
    let violations: Vec<String> = references("cli", &modules)
        .into_iter()
        .filter(|r| !CLI_MAY_USE.contains(&r.target.as_str()))
        .map(|r| {
            format!(
                "{}: `cli` uses `crate::{}`; call a workflow of `ops` instead",
                r.place, r.target
            )
        })
        .collect();
    assert!(
        violations.is_empty(),
        "{} reference(s) from cli/ to a stage:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn references_are_found_in_paths_and_grouped_imports_but_not_in_comments() {
    assert_eq!(targets_at("config::load(x)", 0), ["config"]);
    assert_eq!(
        targets_at("{check, config::{self, load},\n    template::render};", 0),
        ["check", "config", "template"]
    );
    assert_eq!(targets_at("{self, plan}", 0), ["plan"]);
    assert_eq!(code_of("    /// see [`crate::plan`]"), "");
    assert_eq!(
        code_of("let a = \"//\"; // crate::plan"),
        "let a = \"//\"; "
    );
}
