//! Data-driven `check` tests: every directory under `tests/fixtures/` is a config dir; the
//! output of `driftless check` on it (exit code, stdout, stderr) is an insta snapshot in
//! `snapshots/`. Adding a case is adding a directory.
//!
//! A case may hold a hidden `.case-env` file of `NAME=value` lines: environment variables for
//! the run (secrets, for instance). The env file is always one that does not exist, so only
//! `.case-env` supplies secrets. A hidden `.case-args` file holds more arguments for `check`,
//! whitespace-separated (a fleet case: `--host web1 --facts-dir ../../data/fleet-facts`).

use crate::common;
use std::path::Path;

fn case_env(dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join(".case-env")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn case_args(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(".case-args"))
        .map(|text| text.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn run_check(dir: &Path) -> String {
    let home = tempfile::tempdir().expect("temp dir");
    let output = common::driftless_command(home.path())
        .args(["-c", ".", "--env-file"])
        .arg(home.path().join("no-such-env"))
        .arg("check")
        .args(case_args(dir))
        .current_dir(dir)
        .envs(case_env(dir))
        .output()
        .expect("run driftless");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn fixtures() {
    // The issue asks for a broad corpus of at least 40 cases.
    common::snapshot_each_case("fixtures", "check", 40, run_check);
}
