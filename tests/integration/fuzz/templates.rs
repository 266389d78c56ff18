//! Target `templates`: random templates built from Jinja's syntax, the context's names and
//! costly constructs, in a task field, a loop over items with a secret part, and a template
//! file that may include itself. Never a panic, never a hang (the fuel budget stops runaway
//! work), and no diagnostic ever quotes the secret the templates can read.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use driftless::config::ConfigDir;
use driftless::diagnostics::{render_human, render_json};
use driftless::facts::HostFacts;
use driftless::ops::{Inputs, compile};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::fuzz;

const SECRET: &str = "fuzz-Secret-4d1e";

/// No correct template takes this long; one that does escaped the fuel budget.
const MAX_COMPILE: Duration = Duration::from_secs(30);

fn facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(HostFacts::gather)
}

const TOKENS: &[&str] = &[
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "for i in range(",
    ")",
    "endfor",
    "if ",
    "else",
    "endif",
    "set x = ",
    "x",
    "macro m(a)",
    "endmacro",
    "m(",
    "include 'templates/t.j2'",
    "import 'templates/t.j2' as t",
    "secrets.FUZZ_SECRET",
    "secrets.MISSING",
    "item",
    "item.pw",
    "item.name",
    "item['pw']",
    "facts.hostname",
    "facts.os",
    "undefined_name",
    "loop.index",
    " | upper",
    " | replace('-', '_')",
    " | length",
    " | join(',')",
    " | list",
    " | items",
    " | dictsort",
    " | int",
    " ~ ",
    " + ",
    " * ",
    " == ",
    "99999999",
    "'x'",
    "[1, 2]",
    "{'a': 1}",
    "(",
    ",",
    ".",
    "ß",
    "🦀",
    "\u{301}",
    "\n",
    "\u{1b}[2J",
    "\"",
    "'",
    "\\",
];

fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat())
}

fn assert_clean(what: &str, text: &str) -> Result<(), TestCaseError> {
    for form in [
        SECRET.to_owned(),
        SECRET.to_uppercase(),
        SECRET.replace('-', "_"),
    ] {
        prop_assert!(
            !text.contains(&form),
            "the secret appears in {what}:\n{text}"
        );
    }
    Ok(())
}

fn compile_template(template: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("templates")).expect("mkdir");
    // JSON strings are YAML strings: the template goes in verbatim.
    let quoted = serde_json::to_string(template).expect("quote");
    let yaml = format!(
        "vars:\n  greeting: hi\napply:\n  - type: file\n    path: \"/tmp/driftless-fuzz/{{{{ item.name }}}}\"\n    loop: [{{ name: a, pw: \"{{{{ secrets.FUZZ_SECRET }}}}\" }}]\n    content: {quoted}\n  - type: template\n    src: templates/t.j2\n    dest: /tmp/driftless-fuzz/t\n  - type: lineinfile\n    path: /tmp/driftless-fuzz/l\n    line: {quoted}\n    regexp: {quoted}\n"
    );
    std::fs::write(config.join("main.yaml"), yaml).expect("write config");
    std::fs::write(config.join("templates/t.j2"), template).expect("write template");
    let env_file = dir.path().join("env");
    std::fs::write(&env_file, format!("FUZZ_SECRET={SECRET}\n")).expect("write env");
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let inputs = Inputs {
        config_dir: ConfigDir::new(config),
        env_file: PathBuf::from(&env_file),
        extra_vars: Vec::new(),
        secret_files: Vec::new(),
        tags: Default::default(),
    };
    let started = Instant::now();
    let compiled = compile(&inputs, facts());
    prop_assert!(
        started.elapsed() < MAX_COMPILE,
        "compiling took {:?}",
        started.elapsed()
    );
    assert_clean(
        "a diagnostic",
        &render_human(&compiled.diagnostics, &compiled.sources, false),
    )?;
    assert_clean(
        "a JSON diagnostic",
        &render_json(&compiled.diagnostics, &compiled.sources),
    )
}

#[test]
fn templates() {
    fuzz("templates", template(), |input: &String| {
        compile_template(input)
    });
}
