//! Fuzz targets for every parser that reads outside input, on stable Rust: structure-aware
//! proptest strategies (inputs built from the formats' own vocabulary, and realistic seeds
//! mutated at the byte and the character level, multi-byte characters included).
//!
//! One file per target. Each target runs in three ways:
//!
//! - its regression corpus first: every file of `tests/fuzz-regressions/<target>/` (inputs
//!   that once failed), replayed on every run;
//! - a short run in the test command: `DRIFTLESS_FUZZ_CASES` cases (default 64);
//! - a long run from `scripts/fuzz`: `DRIFTLESS_FUZZ_SECONDS` of fresh random cases, batch
//!   after batch, until the time is up.
//!
//! A failing case is shrunk by proptest, written to the target's regression directory (so
//! that it becomes a fixture once committed), and fails the test with the path.

mod diagnostics;
mod http_request;
mod loaders;
mod log_lines;
mod plan_reader;
mod templates;
mod textfile;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use sha2::{Digest, Sha256};

/// Cases of one batch; a long run repeats batches.
const BATCH: u32 = 256;

/// A fuzz input that can be saved as a regression file and read back.
pub trait Corpus: Sized {
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl Corpus for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl Corpus for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

fn regressions(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target)
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// Runs `target`: its regression corpus, then random cases from `strategy` through `check`.
pub fn fuzz<S>(target: &str, strategy: S, check: impl Fn(&S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Corpus + Debug,
{
    let dir = regressions(target);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("read regression input");
            let input = S::Value::from_bytes(&bytes)
                .unwrap_or_else(|| panic!("{} is not an input of {target}", path.display()));
            if let Err(e) = check(&input) {
                panic!("regression {} fails again: {e}", path.display());
            }
        }
    }
    let deadline =
        env_number("DRIFTLESS_FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s));
    let short_cases = env_number("DRIFTLESS_FUZZ_CASES").map_or(64, |n| n as u32);
    let mut cases = 0u64;
    loop {
        let batch = if deadline.is_some() {
            BATCH
        } else {
            short_cases
        };
        let mut runner = TestRunner::new(Config {
            cases: batch,
            failure_persistence: None,
            ..Config::default()
        });
        match runner.run(&strategy, |input| check(&input)) {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => {
                let bytes = input.to_bytes();
                let name: String = Sha256::digest(&bytes)
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                std::fs::create_dir_all(&dir).expect("mkdir regressions");
                let path = dir.join(name);
                std::fs::write(&path, &bytes).expect("write regression input");
                panic!(
                    "{target}: {why}\ninput saved as {} (commit it as a regression fixture): {input:?}",
                    path.display()
                );
            }
            Err(TestError::Abort(why)) => panic!("{target}: aborted: {why}"),
        }
        cases += u64::from(batch);
        match deadline {
            Some(deadline) if Instant::now() < deadline => continue,
            _ => break,
        }
    }
    eprintln!("fuzz {target}: {cases} cases clean");
}

/// Checks `render_json`'s output: JSON, and every line/column (start and end) of a diagnostic
/// in the file `file` within its line of `text`, counted in characters.
pub fn check_columns(json: &str, file: &str, text: &str) -> Result<(), TestCaseError> {
    let json: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| TestCaseError::fail(format!("render_json is not JSON: {e}")))?;
    let lines: Vec<&str> = text.split('\n').collect();
    for item in json["diagnostics"].as_array().into_iter().flatten() {
        if item["file"] != file {
            continue;
        }
        for (line_key, column_key) in [("line", "column"), ("end_line", "end_column")] {
            let (Some(line), Some(column)) = (item[line_key].as_u64(), item[column_key].as_u64())
            else {
                continue;
            };
            let width = lines
                .get(line as usize - 1)
                .map_or(0, |l| l.chars().count());
            proptest::prop_assert!(
                column as usize <= width + 1,
                "{column_key} {column} is past the end of line {line} ({width} characters): {item}"
            );
        }
    }
    Ok(())
}

/// Edits of a text at the byte or the character level, with the characters that break
/// parsers and caret placement: multi-byte ones, combining marks, control characters.
pub mod mutate {
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    pub enum Edit {
        Delete(usize),
        InsertByte(usize, u8),
        ReplaceByte(usize, u8),
        InsertText(usize, &'static str),
        Duplicate(usize, usize),
    }

    /// Pieces of text that matter to the syntaxes, and characters wider than one byte.
    const PIECES: &[&str] = &[
        ":",
        "-",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "'",
        "#",
        "\n",
        " ",
        "\t",
        "=",
        ",",
        ".",
        "|",
        ">",
        "&a",
        "*a",
        "!",
        "\\",
        "{{",
        "}}",
        "{%",
        "%}",
        "ß",
        "é",
        "中",
        "🦀",
        "\u{301}",
        "\u{200b}",
        "\r",
        "\u{0}",
        "\u{1b}[31m",
        "\u{7f}",
        "\u{2028}",
        "[[[[[[",
        "{a: {b: ",
    ];

    pub fn edit() -> impl Strategy<Value = Edit> {
        let byte = prop_oneof![
            prop::sample::select(b":-[]{}\"'#\n \t=,.{%}|>&*!\\0".to_vec()),
            any::<u8>(),
        ];
        prop_oneof![
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::InsertByte(i, b)),
            (any::<usize>(), byte).prop_map(|(i, b)| Edit::ReplaceByte(i, b)),
            (any::<usize>(), prop::sample::select(PIECES))
                .prop_map(|(i, t)| Edit::InsertText(i, t)),
            (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        ]
    }

    pub fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
        let len = bytes.len();
        match *edit {
            Edit::Delete(i) if len > 0 => {
                bytes.remove(i % len);
            }
            Edit::InsertByte(i, b) => bytes.insert(i % (len + 1), b),
            Edit::ReplaceByte(i, b) if len > 0 => bytes[i % len] = b,
            Edit::InsertText(i, text) => {
                let at = i % (len + 1);
                bytes.splice(at..at, text.bytes());
            }
            Edit::Duplicate(i, n) if len > 0 => {
                let start = i % len;
                let end = (start + n).min(len);
                let chunk = bytes[start..end].to_vec();
                bytes.splice(start..start, chunk);
            }
            _ => {}
        }
    }

    /// `seed` with `edits` applied.
    pub fn mutated(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
        let mut bytes = seed.to_vec();
        for e in edits {
            apply(&mut bytes, e);
        }
        bytes
    }
}
