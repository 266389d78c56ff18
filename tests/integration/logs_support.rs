//! Helpers of the log pipeline tests: a config dir with a `logs:` section, the real binary
//! run once or in the foreground, files written with numbered lines, and the check that an
//! output holds every number.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Run, driftless_command};

/// A temp dir with `config/`, `state/`, `in/` (the tailed files) and `out/` (file outputs).
pub struct LogsWorld {
    /// Held so that the directory lives as long as the world.
    _temp: tempfile::TempDir,
    pub base: PathBuf,
    pub config: PathBuf,
    pub state: PathBuf,
    pub input: PathBuf,
    pub out: PathBuf,
    /// Extra environment variables (secrets).
    pub envs: Vec<(String, String)>,
}

impl LogsWorld {
    /// A world whose config is `yaml`, in which `{in}` and `{out}` stand for the input and
    /// output directories.
    pub fn new(yaml: &str) -> LogsWorld {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp.path().canonicalize().expect("canonical temp dir");
        let world = LogsWorld {
            config: base.join("config"),
            state: base.join("state"),
            input: base.join("in"),
            out: base.join("out"),
            base,
            _temp: temp,
            envs: Vec::new(),
        };
        for dir in [&world.config, &world.input, &world.out] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        world.set_config(yaml);
        world
    }

    pub fn set_config(&self, yaml: &str) {
        let text = yaml
            .replace("{in}", &self.input.display().to_string())
            .replace("{out}", &self.out.display().to_string());
        std::fs::write(self.config.join("main.yaml"), text).expect("write config");
    }

    /// `driftless -c CONFIG --env-file MISSING ARGS…` with the world's state dir.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = driftless_command(&self.base);
        command
            .arg("-c")
            .arg(&self.config)
            .arg("--env-file")
            .arg(self.base.join("env"))
            .env("DRIFTLESS_STATE_DIR", &self.state)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run driftless"))
    }

    /// `driftless logs --once`, checked to succeed.
    pub fn once(&self) -> Run {
        let run = self.run(&["logs", "--once"]);
        assert_eq!(run.code, 0, "logs --once failed:\n{}", run.all());
        run
    }

    /// `driftless logs` in the foreground, its output discarded.
    pub fn spawn(&self) -> Child {
        self.command(&["-q", "logs"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start driftless logs")
    }

    pub fn input(&self, name: &str) -> PathBuf {
        self.input.join(name)
    }

    pub fn output(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }
}

/// Sends `signal` to the child (running: not reaped yet).
pub fn send_signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// Sends `signal` to the child and waits for it to end; returns its exit status.
pub fn signal_and_wait(child: &mut Child, signal: libc::c_int) -> std::process::ExitStatus {
    send_signal(child, signal);
    child.wait().expect("wait for driftless")
}

/// The line of number `n`: `seq=0000042 ` and padding, so that every line has one length.
pub fn numbered(n: u64) -> String {
    format!("seq={n:07} lorem ipsum dolor sit amet\n")
}

/// Appends lines `range` to `path`, one write each (as a program logging would).
pub fn append_lines(path: &Path, range: std::ops::Range<u64>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file");
    for n in range {
        file.write_all(numbered(n).as_bytes()).expect("append");
    }
}

/// The numbers of `seq=` lines in `text` (anywhere in a line: JSON or plain text).
pub fn numbers_in(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|line| {
            let at = line.find("seq=")? + 4;
            line.get(at..at + 7)?.parse().ok()
        })
        .collect()
}

/// How each number of `0..total` appears: panics naming the first missing ones; returns the
/// number of duplicates.
pub fn check_every_number(found: &[u64], total: u64) -> u64 {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for &n in found {
        *counts.entry(n).or_default() += 1;
    }
    let missing: Vec<u64> = (0..total).filter(|n| !counts.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {total} lines lost, first {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let unexpected: Vec<&u64> = counts.keys().filter(|&&n| n >= total).collect();
    assert!(
        unexpected.is_empty(),
        "numbers never written: {unexpected:?}"
    );
    counts.values().map(|c| c - 1).sum()
}

/// Waits until `done` holds, or panics after `limit` saying `what`.
pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
