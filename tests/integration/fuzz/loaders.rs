//! Target `loaders`: config files in the three formats — realistic ones (the fixture corpus
//! and the examples) mutated at the byte and character level, and random trees in the config
//! language's vocabulary — go through load → template → check. Never a panic; every
//! diagnostic renders, and its columns are counted in characters of its line.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use driftless::config::ConfigDir;
use driftless::diagnostics::{render_human, render_json};
use driftless::facts::HostFacts;
use driftless::ops::{Inputs, compile};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::mutate::{Edit, edit, mutated};
use super::{Corpus, check_columns, fuzz};

fn facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(HostFacts::gather)
}

/// One config file: its extension (the format) and its bytes.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    ext: String,
    bytes: Vec<u8>,
}

impl Corpus for ConfigFile {
    /// The extension on the first line, then the file.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\n", self.ext).into_bytes();
        out.extend_from_slice(&self.bytes);
        out
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        Some(ConfigFile {
            ext: String::from_utf8(bytes[..newline].to_vec()).ok()?,
            bytes: bytes[newline + 1..].to_vec(),
        })
    }
}

/// Every config file of the fixtures and examples: realistic starting points for mutation.
fn seeds() -> &'static Vec<(String, Vec<u8>)> {
    static SEEDS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["tests/fixtures", "examples"] {
            collect(&root.join(dir), &mut out);
        }
        out.sort();
        out
    })
}

fn collect(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if let Some(ext) = path.extension().and_then(|e| e.to_str())
            && ["yaml", "yml", "toml", "json"].contains(&ext)
            && let Ok(bytes) = std::fs::read(&path)
        {
            out.push((ext.to_owned(), bytes));
        }
    }
}

/// Runs the front end on one file; every diagnostic must render, with columns in characters.
fn compile_one(file: &ConfigFile) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(format!("config.{}", file.ext)), &file.bytes)
        .expect("write config");
    std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
    std::fs::write(dir.path().join("templates/motd.j2"), "{{ greeting }}\n").expect("template");
    let inputs = Inputs {
        config_dir: ConfigDir::new(dir.path()),
        env_file: PathBuf::from("/nonexistent/driftless-env"),
        extra_vars: Vec::new(),
        secret_files: Vec::new(),
        tags: Default::default(),
    };
    let compiled = compile(&inputs, facts());
    let _ = render_human(&compiled.diagnostics, &compiled.sources, false);
    check_columns(
        &render_json(&compiled.diagnostics, &compiled.sources),
        &format!("config.{}", file.ext),
        &String::from_utf8_lossy(&file.bytes),
    )
}

/// A random config tree in the vocabulary of the config language.
fn tree() -> impl Strategy<Value = serde_json::Value> {
    let words = prop::sample::select(vec![
        "vars",
        "apply",
        "facts",
        "logs",
        "settings",
        "type",
        "file",
        "directory",
        "link",
        "copy",
        "template",
        "lineinfile",
        "blockinfile",
        "path",
        "dest",
        "src",
        "content",
        "mode",
        "owner",
        "state",
        "absent",
        "id",
        "depends_on",
        "notify",
        "when",
        "loop",
        "item",
        "{{ item }}",
        "{{ x }}",
        "{% if %}",
        "0644",
        "/etc/motd",
        "source",
        "outputs",
        "interval",
        "30s",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        words.clone().prop_map(serde_json::Value::from),
        ".*".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(words.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutated_file() -> impl Strategy<Value = ConfigFile> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(edit(), 1..8),
    )
        .prop_map(|(seed, edits): (prop::sample::Index, Vec<Edit>)| {
            let (ext, original) = seed.get(seeds());
            ConfigFile {
                ext: ext.clone(),
                bytes: mutated(original, &edits),
            }
        })
}

fn random_tree_file() -> impl Strategy<Value = ConfigFile> {
    (tree(), 0u8..3).prop_map(|(tree, format)| {
        let (ext, text) = match format {
            0 => (
                "json",
                serde_json::to_string_pretty(&tree).unwrap_or_default(),
            ),
            1 => ("toml", toml::to_string(&tree).unwrap_or_default()),
            _ => ("yaml", serde_json::to_string(&tree).unwrap_or_default()),
        };
        ConfigFile {
            ext: ext.to_owned(),
            bytes: text.into_bytes(),
        }
    })
}

#[test]
fn loaders() {
    fuzz(
        "loaders",
        prop_oneof![3 => mutated_file(), 1 => random_tree_file()],
        compile_one,
    );
}
