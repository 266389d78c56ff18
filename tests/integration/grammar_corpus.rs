//! The config schema accepts what `check` accepts: every good fixture, every example and every
//! config snippet of the docs validate against `grammar/config.schema.json`, and the bad
//! fixtures whose mistake is one of structure (a missing required field, an unknown field,
//! fields that exclude each other, a wrong type) fail it — the schema is not vacuous.

use std::path::{Path, PathBuf};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Bad fixtures an editor validating with the schema must flag.
const STRUCTURALLY_BAD: &[&str] = &[
    "bad-json-unknown-field",
    "bad-json-unknown-top-level-key",
    "bad-json-wrong-type",
    "bad-json-octal-mode-integer",
    "bad-json-root-not-mapping",
    "bad-toml-unknown-field",
    "bad-toml-unknown-top-level-key",
    "bad-toml-unknown-type",
    "bad-toml-wrong-type",
    "bad-toml-octal-mode-integer",
    "bad-yaml-apply-not-list",
    "bad-yaml-handlers-not-list",
    "bad-yaml-absent-with-content",
    "bad-yaml-mutually-exclusive",
];

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(ROOT).join("grammar/config.schema.json"))
        .expect("grammar/config.schema.json");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema")
}

/// A config file's document as JSON, by its extension.
fn parse(path: &Path, text: &str) -> Result<Value, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(text).map_err(|e| e.to_string()),
        Some("toml") => toml::from_str::<Value>(text).map_err(|e| e.to_string()),
        _ => serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string()),
    }
}

/// The config files of a config dir, as `check` finds them: not the top-level `tasks/`
/// (include files), nor in a fleet repo its inventory, `roles/` and `facts/`.
fn config_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let fleet = dir.join("inventory.yaml").is_file() || dir.join("inventory.yml").is_file();
    let skipped: &[&str] = if fleet {
        &["tasks", "roles", "facts", "inventory.yaml", "inventory.yml"]
    } else {
        &["tasks"]
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read config dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| !skipped.contains(&n))
        })
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if name != "templates" && name != "files" {
                nested_config_files(&path, out);
            }
        } else if ["yaml", "yml", "toml", "json"]
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
        {
            out.push(path);
        }
    }
}

/// The config files below the top directory (nothing is skipped by name there).
fn nested_config_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read config dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if name != "templates" && name != "files" {
                nested_config_files(&path, out);
            }
        } else if ["yaml", "yml", "toml", "json"]
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
        {
            out.push(path);
        }
    }
}

/// Every schema error of every config file under `dir`, as `file: pointer: error` lines.
fn errors_of_dir(validator: &jsonschema::Validator, dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    config_files(dir, &mut files);
    let mut errors = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read config file");
        match parse(&file, &text) {
            Ok(document) => errors.extend(
                validator
                    .iter_errors(&document)
                    .map(|e| format!("{}: {}: {e}", file.display(), e.instance_path())),
            ),
            Err(e) => errors.push(format!("{}: not parsed: {e}", file.display())),
        }
    }
    errors
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("tests/fixtures"))
        .expect("tests/fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_good_fixture_and_example_validates_against_the_config_schema() {
    let validator = validator();
    let mut dirs = fixtures("good-");
    assert!(dirs.len() >= 15, "the good fixtures went missing");
    for example in std::fs::read_dir(Path::new(ROOT).join("examples")).expect("examples") {
        dirs.push(example.expect("example").path());
    }
    let errors: Vec<String> = dirs
        .iter()
        .flat_map(|dir| errors_of_dir(&validator, dir))
        .collect();
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}

#[test]
fn structurally_bad_fixtures_fail_the_config_schema() {
    let validator = validator();
    for name in STRUCTURALLY_BAD {
        let dir = Path::new(ROOT).join("tests/fixtures").join(name);
        assert!(dir.is_dir(), "no fixture {name}");
        assert!(
            !errors_of_dir(&validator, &dir).is_empty(),
            "{name} passes the schema, but `check` refuses it"
        );
    }
}

/// The fenced config snippets of a Markdown file: ```yaml, ```toml and ```json blocks whose
/// document is a mapping of config sections (fragments — one task, a settings excerpt — are
/// not files and are left out), with the line each starts at.
fn snippets(markdown: &str) -> Vec<(usize, &'static str, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, &'static str, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```") => {
                let ext = match fence.trim_start_matches('`').trim() {
                    "yaml" | "yml" => "yaml",
                    "toml" => "toml",
                    "json" => "json",
                    _ => "",
                };
                current = Some((n + 1, ext, String::new()));
            }
            (Some(_), "```") => {
                if let Some(block) = current.take().filter(|(_, ext, _)| !ext.is_empty()) {
                    out.push(block);
                }
            }
            (Some((_, _, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

const SECTIONS: &[&str] = &["vars", "apply", "handlers", "facts", "logs", "settings"];

/// In a snippet that declares `settings.plugins`, the tasks of types no built-in has are a
/// plugin's: the schema cannot know them (their plugin's own schema checks them), so they
/// are left out.
fn without_plugin_tasks(document: &mut serde_json::Value) {
    let declares_plugins = document
        .pointer("/settings/plugins")
        .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()));
    if !declares_plugins {
        return;
    }
    for section in ["apply", "handlers"] {
        if let Some(tasks) = document.get_mut(section).and_then(|t| t.as_array_mut()) {
            tasks.retain(|task| {
                task.get("type")
                    .and_then(|t| t.as_str())
                    .is_none_or(|t| driftless::model::ApplySpec::TYPE_NAMES.contains(&t))
            });
        }
    }
}

#[test]
fn every_config_snippet_of_the_docs_validates_against_the_config_schema() {
    let validator = validator();
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    let mut dirs = vec![Path::new(ROOT).join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("docs")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    let mut checked = 0;
    let mut errors = Vec::new();
    for page in &pages {
        let markdown = std::fs::read_to_string(page).expect("read page");
        for (line, ext, text) in snippets(&markdown) {
            let Ok(mut document) = parse(Path::new(&format!("snippet.{ext}")), &text) else {
                continue;
            };
            without_plugin_tasks(&mut document);
            let is_config_file = document
                .as_object()
                .is_some_and(|o| !o.is_empty() && o.keys().all(|k| SECTIONS.contains(&k.as_str())));
            if !is_config_file {
                continue;
            }
            checked += 1;
            let place = format!(
                "{}:{line}",
                page.strip_prefix(ROOT).unwrap_or(page).display()
            );
            errors.extend(
                validator
                    .iter_errors(&document)
                    .map(|e| format!("{place}: {}: {e}", e.instance_path())),
            );
        }
    }
    assert!(
        checked >= 20,
        "only {checked} config snippets found in the docs"
    );
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}
