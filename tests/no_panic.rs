//! No input makes the front end panic: mutated configs (from the fixture corpus and the
//! examples) and random config trees, in all three formats, go through load → template →
//! check and come out as a model or as diagnostics.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use driftless::diagnostics::render_human;
use driftless::facts::HostFacts;
use driftless::pipeline::{Inputs, compile};
use proptest::prelude::*;

fn facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(HostFacts::gather)
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

/// Runs the front end on one file of the given extension; must not panic, and every
/// diagnostic must render.
fn compile_one(ext: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(format!("config.{ext}")), bytes).expect("write config");
    std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
    std::fs::write(dir.path().join("templates/motd.j2"), "{{ greeting }}\n").expect("template");
    let inputs = Inputs {
        config_dir: dir.path().to_path_buf(),
        env_file: PathBuf::from("/nonexistent/driftless-env"),
        extra_vars: Vec::new(),
    };
    let compiled = compile(&inputs, facts());
    let _ = render_human(&compiled.diagnostics, &compiled.sources, false);
    let _ = driftless::diagnostics::render_json(&compiled.diagnostics, &compiled.sources);
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to the three syntaxes, plus any byte.
    let byte = prop_oneof![
        prop::sample::select(b":-[]{}\"'#\n \t=,.{%}|>&*!\\0".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len().max(1);
    match *edit {
        Edit::Delete(i) if !bytes.is_empty() => {
            bytes.remove(i % bytes.len());
        }
        Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Edit::Replace(i, b) if !bytes.is_empty() => bytes[i % len] = b,
        Edit::Duplicate(i, n) if !bytes.is_empty() => {
            let start = i % bytes.len();
            let end = (start + n).min(bytes.len());
            let chunk = bytes[start..end].to_vec();
            bytes.splice(start..start, chunk);
        }
        _ => {}
    }
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let (ext, original) = seed.get(seeds());
        let mut bytes = original.clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        compile_one(ext, &bytes);
    }

    #[test]
    fn random_trees_never_panic(tree in tree(), format in 0u8..3) {
        let (ext, text) = match format {
            0 => ("json", serde_json::to_string_pretty(&tree).unwrap_or_default()),
            1 => ("toml", toml::to_string(&tree).unwrap_or_default()),
            _ => ("yaml", serde_json::to_string(&tree).unwrap_or_default()),
        };
        compile_one(ext, text.as_bytes());
    }
}
