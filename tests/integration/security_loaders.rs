//! The config loaders under hostile input: every limit holds (time, memory, stack), every
//! refusal is a diagnostic that names the limit, nothing outside the config dir is read, and no
//! text makes the loaders or the diagnostics renderer panic or misplace a caret.
//!
//! The end-to-end tests run the real binary under kernel limits of 5 s of CPU time and 1 GiB
//! of address space (`ulimit -t`, `ulimit -v`): a loader that expands input without bound is
//! killed instead of eating the machine, and the bounds hold however loaded the machine is.
//! In-process tests bound the process's CPU time the same way.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use driftless::config::{self, ConfigDir};
use driftless::diagnostics::{Diagnostic, Diagnostics, SourceMap, Span, render_human, render_json};
use proptest::prelude::*;

/// CPU time, generous for a debug build; the defects these tests guard took minutes of it,
/// or never finished. The checks that pass take well under a second.
const CPU_SECONDS: u64 = 5;

struct Run {
    code: Option<i32>,
    stderr: String,
}

/// `driftless -c DIR check` with a clean environment, at most [`CPU_SECONDS`] of CPU time and
/// 1 GiB of address space.
fn check(dir: &Path) -> Run {
    let home = tempfile::tempdir().expect("temp dir");
    let limits = format!("ulimit -t {CPU_SECONDS} && ulimit -v 1048576 && exec \"$@\"");
    let output = Command::new("sh")
        .args(["-c", &limits, "sh"])
        .arg(env!("CARGO_BIN_EXE_driftless"))
        .arg("-c")
        .arg(dir)
        .arg("--env-file")
        .arg(home.path().join("no-such-env"))
        .arg("check")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run driftless");
    Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A config dir holding one file.
fn config_with(name: &str, text: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(name), text).expect("write config");
    dir
}

/// Refused with exit 1 and `needle` in the message, within the CPU and memory limits.
fn assert_refused(run: &Run, needle: &str) {
    assert_eq!(
        run.code,
        Some(1),
        "exit code (none: killed, over {CPU_SECONDS} s of CPU or 1 GiB, or crashed); stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(needle),
        "expected `{needle}` in:\n{}",
        run.stderr
    );
}

/// CPU time this process (all its threads) has used.
fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs `f`, asserting it used less than [`CPU_SECONDS`] of CPU.
fn within_cpu_limit<T>(f: impl FnOnce() -> T) -> T {
    let start = cpu_time();
    let out = f();
    let used = cpu_time() - start;
    assert!(
        used < Duration::from_secs(CPU_SECONDS),
        "used {used:?} of CPU (limit {CPU_SECONDS} s)"
    );
    out
}

#[test]
fn yaml_alias_bomb_is_refused_quickly_in_bounded_memory() {
    // "Billion laughs": nine levels of nine aliases, 387 million strings if expanded.
    let mut text = String::from(
        "vars:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let aliases = vec![format!("*{}", pair[0]); 9].join(", ");
        text.push_str(&format!("  {0}: &{0} [{aliases}]\n", pair[1]));
    }
    assert!(text.len() < 500, "a bomb of {} bytes", text.len());
    let dir = config_with("main.yaml", text.as_bytes());
    let run = check(dir.path());
    assert_refused(&run, "alias expansion limit exceeded");
    assert!(run.stderr.contains("--> main.yaml:"), "{}", run.stderr);
}

#[test]
fn yaml_aliases_nested_deep_on_every_line_are_refused_without_stack_overflow() {
    // Each line is shallow; what its alias copies makes it 100 levels deeper than the last.
    let mut text = String::from("vars:\n  l0: &l0 x\n");
    for i in 1..400 {
        let (open, close) = ("[".repeat(100), "]".repeat(100));
        text.push_str(&format!("  l{i}: &l{i} {open}*l{}{close}\n", i - 1));
    }
    let dir = config_with("main.yaml", text.as_bytes());
    assert_refused(&check(dir.path()), "nesting limit exceeded");
}

#[test]
fn deep_nesting_is_refused_in_every_format_without_stack_overflow() {
    let (open, close) = ("[".repeat(100_000), "]".repeat(100_000));
    let cases = [
        ("main.yaml", format!("vars:\n  a: {open}{close}\n")),
        (
            "main.yaml",
            format!("vars:\n  a:\n    {}x\n", "- ".repeat(100_000)),
        ),
        (
            "main.yaml",
            format!(
                "vars:\n  a: {}1{}\n",
                "{a: ".repeat(50_000),
                "}".repeat(50_000)
            ),
        ),
        ("main.toml", format!("[vars]\na = {open}{close}\n")),
        (
            "main.toml",
            format!(
                "[vars]\na = {}1{}\n",
                "{a = ".repeat(50_000),
                "}".repeat(50_000)
            ),
        ),
        (
            "main.toml",
            format!("[vars.{}]\nb = 1\n", vec!["a"; 50_000].join(".")),
        ),
        (
            "main.json",
            format!("{{\"vars\": {{\"a\": {open}{close}}}}}\n"),
        ),
    ];
    for (name, text) in cases {
        let dir = config_with(name, text.as_bytes());
        let run = check(dir.path());
        assert_refused(
            &run,
            "nesting limit exceeded: lists and mappings nest more than 64",
        );
        assert!(
            run.stderr.contains(&format!("--> {name}:")),
            "{}",
            run.stderr
        );
    }

    // At the limit, every stage (templates, loop, check) takes it.
    let list = |levels| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let map = format!("{}1{}", "{a: ".repeat(62), "}".repeat(62));
    let text = format!(
        "vars:\n  list: {}\n  map: {map}\napply:\n  - type: file\n    path: /tmp/x\n    \
         content: \"{{{{ list }}}} {{{{ map }}}} {{{{ item }}}}\"\n    loop: {}\n",
        list(62),
        list(61)
    );
    let dir = config_with("main.yaml", text.as_bytes());
    let run = check(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// Deterministic garbage in the alphabet of TOML, with multi-byte characters.
fn garbage(len: usize) -> String {
    let alphabet: Vec<char> = "ab=[]{}\"'\n #.,1ß日".chars().collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = String::with_capacity(len + 4);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(alphabet[(state % alphabet.len() as u64) as usize]);
    }
    out
}

#[test]
fn malformed_toml_of_4_mb_is_rejected_in_linear_time() {
    let dir = config_with("main.toml", garbage(4_000_000).as_bytes());
    let run = check(dir.path());
    assert_refused(&run, "are reported per file");
    let errors = run.stderr.matches("\nerror: ").count() + 1;
    assert!(errors <= 21, "{errors} errors shown");
}

#[test]
fn config_file_over_the_size_limit_is_not_read() {
    let over = format!("# {}\nvars: {{a: 1}}\n", "x".repeat(5 * 1024 * 1024));
    let dir = config_with("big.yaml", over.as_bytes());
    let run = check(dir.path());
    let message = format!(
        "big.yaml is {} bytes; config files are limited to 4194304 bytes",
        over.len()
    );
    assert_refused(&run, &message);

    // Just under the limit is read.
    let under = format!("# {}\nvars: {{}}\n", "x".repeat(4 * 1024 * 1024 - 20));
    let dir = config_with("big.yaml", under.as_bytes());
    let run = check(dir.path());
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn config_symlink_out_of_the_config_dir_is_refused_without_reading_it() {
    let temp = tempfile::tempdir().expect("temp dir");
    let outside = temp.path().join("shadow");
    std::fs::write(&outside, "root:$6$SHADOWHASHMARKER:19000:0:99999:7:::\n").expect("shadow");
    let config = temp.path().join("config");
    std::fs::create_dir_all(config.join("sub")).expect("config dir");
    std::os::unix::fs::symlink(&outside, config.join("passwd.yaml")).expect("absolute link");
    std::os::unix::fs::symlink("../../shadow", config.join("sub/relative.yaml"))
        .expect("relative link");
    let run = check(&config);
    assert_refused(
        &run,
        "passwd.yaml is a symbolic link that leads out of the config directory",
    );
    assert!(run.stderr.contains("sub/relative.yaml is a symbolic link"));
    assert!(!run.stderr.contains("SHADOWHASHMARKER"), "{}", run.stderr);

    // A link to a file inside the config dir is still read.
    let inside = temp.path().join("inside");
    std::fs::create_dir_all(inside.join("shared")).expect("inside dir");
    std::fs::write(inside.join("shared/vars.yml.txt"), "vars: {greeting: hi}\n").expect("vars");
    std::os::unix::fs::symlink("shared/vars.yml.txt", inside.join("vars.yaml")).expect("link");
    let run = check(&inside);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn config_file_with_a_non_utf8_name_is_reported_not_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = |bytes: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
    std::fs::write(dir.path().join(name(b"bad\xff.yaml")), "vars: {a: 1}\n").expect("write");
    let sub = dir.path().join(name(b"dir\xfe"));
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(sub.join("main.yaml"), "vars: {b: 1}\n").expect("write");
    let run = check(dir.path());
    assert_refused(
        &run,
        "the name of the config file `bad\\xff.yaml` is not UTF-8",
    );
    assert!(
        run.stderr
            .contains("the name of the config file `dir\\xfe/main.yaml` is not UTF-8"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_mapping_of_many_keys_loads_in_linear_time() {
    let mut text = String::from("vars:\n");
    for i in 0..100_000 {
        text.push_str(&format!("  key{i}: {i}\n"));
    }
    let dir = config_with("main.yaml", text.as_bytes());
    let (mut sources, mut diagnostics) = (SourceMap::default(), Diagnostics::default());
    let loaded = within_cpu_limit(|| {
        config::load(
            &ConfigDir::new(dir.path()),
            &[],
            &mut sources,
            &mut diagnostics,
        )
    });
    assert!(diagnostics.is_empty());
    let vars = loaded.documents[0].vars.as_ref().and_then(|v| v.as_map());
    assert_eq!(vars.map(<[_]>::len), Some(100_000));
}

#[test]
fn many_findings_are_collected_in_linear_time() {
    let mut sources = SourceMap::default();
    let file = sources.add("main.yaml".into(), PathBuf::new(), "x\n".repeat(100_000));
    let mut diagnostics = Diagnostics::default();
    within_cpu_limit(|| {
        for i in 0..100_000 {
            let at = Span::new(file, 2 * i, 2 * i + 1);
            diagnostics.push(Diagnostic::warning("var `x` is never used").at(at));
            // A repeat (a loop item repeating an error) is kept once.
            diagnostics.push(Diagnostic::warning("var `x` is never used").at(at));
        }
    });
    assert_eq!(diagnostics.warning_count(), 100_000);
}

// --- No panic on any text; carets on characters -------------------------------------------

/// Valid configs in the three formats, with multi-byte text in keys, values and comments.
const SEEDS: &[(&str, &str)] = &[
    (
        "yaml",
        "# Grüße\nvars:\n  greeting: \"héllo wörld\"\n  city: 東京\n  list: [a, ß, \"😀\"]\n  \
         map: {k: v, ключ: значение}\n  base: &base {mode: \"0644\"}\napply:\n  - type: file\n    \
         path: /etc/motd\n    content: \"{{ greeting }} — {{ city }}\\n\"\n    <<: *base\n",
    ),
    (
        "toml",
        "# Grüße\n[vars]\ngreeting = \"héllo wörld\"\ncity = \"東京\"\nlist = [\"a\", \"ß\", \
         \"😀\"]\nmap = { k = \"v\", \"ключ\" = \"значение\" }\n\n[[apply]]\ntype = \"file\"\npath = \
         \"/etc/motd\"\ncontent = \"\"\"\n{{ greeting }} — {{ city }}\n\"\"\"\nmode = \"0644\"\n",
    ),
    (
        "json",
        "{\n  \"vars\": {\"greeting\": \"héllo wörld\", \"city\": \"東京\", \"list\": [\"a\", \
         \"ß\", \"😀\"],\n    \"map\": {\"k\": \"v\", \"ключ\": \"значение\"}},\n  \"apply\": [\n    \
         {\"type\": \"file\", \"path\": \"/etc/motd\", \"content\": \"{{ greeting }} — {{ city \
         }}\\n\", \"mode\": \"0644\"}\n  ]\n}\n",
    ),
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Characters that matter to the three syntaxes, multi-byte ones of every length, and any.
    let c = prop_oneof![
        prop::sample::select(vec![
            ':', '-', '[', ']', '{', '}', '"', '\'', '#', '\n', ' ', '\t', '=', ',', '.', '&', '*',
            '!', '|', '>', '\\', '\r', 'ß', 'é', '—', '日', '😀', '\u{301}', '\u{200b}',
            '\u{feff}', '\u{85}', '\u{2028}',
        ]),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), c).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

/// Applies an edit at a character position.
fn apply(text: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    match *edit {
        Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Edit::Delete(i) if !chars.is_empty() => {
            chars.remove(i % chars.len());
        }
        Edit::Replace(i, c) if !chars.is_empty() => {
            let len = chars.len();
            chars[i % len] = c;
        }
        _ => {}
    }
    chars.into_iter().collect()
}

/// The `--> file:line:col` places of the human output, in order.
fn arrows(human: &str) -> Vec<(usize, usize)> {
    human
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .filter_map(|place| {
            let mut parts = place.rsplitn(3, ':');
            let col = parts.next()?.parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            Some((line, col))
        })
        .collect()
}

/// 1-based line and column in characters of a byte offset on a character boundary.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Loads one file and renders its diagnostics both ways; every span the loader made is on
/// character boundaries and every printed column is that span's start counted in characters.
fn load_and_render(ext: &str, text: &str) -> Result<(), TestCaseError> {
    let dir = config_with(&format!("config.{ext}"), text.as_bytes());
    let (mut sources, mut diagnostics) = (SourceMap::default(), Diagnostics::default());
    config::load(
        &ConfigDir::new(dir.path()),
        &[],
        &mut sources,
        &mut diagnostics,
    );
    let human = render_human(&diagnostics, &sources, false);
    let json: serde_json::Value =
        serde_json::from_str(&render_json(&diagnostics, &sources)).expect("JSON output");
    let mut expected = Vec::new();
    for d in diagnostics.sorted(&sources) {
        let Some(span) = d.span else { continue };
        let source = sources.text(span.file);
        let (start, end) = (span.start as usize, span.end as usize);
        prop_assert!(
            source.is_char_boundary(start) && source.is_char_boundary(end) && start <= end,
            "span {start}..{end} of `{}` is not on characters in {source:?}",
            d.message
        );
        expected.push(line_col(source, start));
    }
    prop_assert_eq!(arrows(&human), expected.clone(), "human output:\n{}", human);
    let printed: Vec<(usize, usize)> = json["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d.get("line").is_some())
        .map(|d| {
            let n = |k: &str| d[k].as_u64().unwrap_or(0) as usize;
            (n("line"), n("column"))
        })
        .collect();
    prop_assert_eq!(printed, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_never_panic_and_carets_count_characters(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (ext, text) = SEEDS[seed];
        let mutated = edits.iter().fold(text.to_owned(), |t, e| apply(&t, e));
        load_and_render(ext, &mutated)?;
    }

    #[test]
    fn the_renderer_never_panics_on_any_span(
        text in "([a-z :\\-\\[\\]{}\\n\\t\\r]|ß|日|😀|\u{301}){0,60}",
        start in 0u32..80,
        end in 0u32..160,
        label in any::<bool>(),
    ) {
        let mut sources = SourceMap::default();
        let file = sources.add("main.yaml".into(), PathBuf::new(), text.clone());
        // Any span: past the end, inside a character, even reversed.
        let mut diagnostic = Diagnostic::error("at an arbitrary span").at(Span { file, start, end });
        if label {
            diagnostic = diagnostic.label("here");
        }
        let mut diagnostics = Diagnostics::default();
        diagnostics.push(diagnostic);
        let human = render_human(&diagnostics, &sources, false);
        let _ = render_json(&diagnostics, &sources);
        // The caret is on the character holding `start`, counted in characters.
        let at = text.floor_char_boundary(start as usize);
        prop_assert_eq!(arrows(&human), vec![line_col(&text, at)], "{}", human);
    }
}
