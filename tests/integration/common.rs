//! Helpers for the end-to-end tests of plan, show, execute and apply: the real binary, on a
//! config dir and a managed root in temp dirs.
//!
//! Every config is written with `settings.audit` pointing into the temp dir, `HOME` is the
//! temp dir and so is the state dir (`DRIFTLESS_STATE_DIR`: the run lock), so no test writes
//! outside it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The driftless binary with a cleared environment — only `PATH`, and `HOME` set to `home` —
/// so that no test reads the user's files or settings.
pub fn driftless_command(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftless"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    command
}

/// One test's world: `root` is what the config manages (passed as `-e root=…`), `config` the
/// config dir, `audit` where run reports go.
pub struct World {
    pub temp: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub audit: PathBuf,
    pub env_file: PathBuf,
    /// Extra environment variables for every run (secrets).
    pub envs: Vec<(String, String)>,
    /// A program and its arguments that every run goes through (a sandbox), the driftless
    /// command line appended; empty: driftless runs directly.
    pub wrapper: Vec<OsString>,
}

impl World {
    /// A world whose config is `apply_yaml` (a YAML `apply:` list, using `{{ root }}`).
    pub fn new(apply_yaml: &str) -> World {
        World::with_temp(apply_yaml, tempfile::tempdir().expect("temp dir"))
    }

    fn with_temp(apply_yaml: &str, temp: tempfile::TempDir) -> World {
        let base = temp.path().canonicalize().expect("canonical temp dir");
        let world = World {
            root: base.join("root"),
            config: base.join("config"),
            audit: base.join("audit"),
            env_file: base.join("env"),
            envs: Vec::new(),
            wrapper: Vec::new(),
            temp,
        };
        std::fs::create_dir_all(&world.root).expect("mkdir root");
        std::fs::create_dir_all(&world.config).expect("mkdir config");
        world.set_config(apply_yaml);
        world
    }

    /// A world whose runs happen inside `sandbox`, a throwaway root: the config manages the
    /// root's real paths (`/etc/…`); the world's temp dir (config, audit, state) is made where
    /// the root and the test both see it.
    pub fn in_sandbox(apply_yaml: &str, sandbox: &crate::sandbox::Sandbox) -> World {
        let temp = tempfile::tempdir_in(sandbox.shared()).expect("temp dir");
        let mut world = World::with_temp(apply_yaml, temp);
        world.wrapper = sandbox.wrapper();
        world
    }

    /// Replaces the config with `apply_yaml`, keeping the audit settings.
    pub fn set_config(&self, apply_yaml: &str) {
        let text = format!(
            "settings:\n  audit:\n    - type: directory\n      path: \"{}\"\n{apply_yaml}",
            self.audit.display()
        );
        write(&self.config.join("main.yaml"), text.as_bytes());
    }

    /// A file of the config dir (templates, files).
    pub fn config_file(&self, relative: &str, content: &str) {
        write(&self.config.join(relative), content.as_bytes());
    }

    /// The state directory of this world's runs (the run lock): tests never share the host's.
    pub fn state_dir(&self) -> PathBuf {
        self.temp.path().join("state")
    }

    /// A path under the managed root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The binary in this world — through the wrapper when there is one — with its home, its
    /// state dir, its extra environment and its env file.
    fn command(&self) -> Command {
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command
                    .args(args)
                    .arg(env!("CARGO_BIN_EXE_driftless"))
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .env("HOME", self.temp.path());
                command
            }
            None => driftless_command(self.temp.path()),
        };
        command
            .arg("--env-file")
            .arg(&self.env_file)
            .env("DRIFTLESS_STATE_DIR", self.state_dir())
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs `driftless -c CONFIG -e root=ROOT ARGS…`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut command = self.command();
        command
            .arg("-c")
            .arg(&self.config)
            .arg("-e")
            .arg(format!("root={}", self.root.display()))
            .args(args);
        Run::of(command.output().expect("run driftless"))
    }

    /// `driftless plan`, checked to succeed; the plan is also written to `plan.json` in the
    /// temp dir, whose path is returned with the parsed plan.
    pub fn plan(&self) -> (PathBuf, Value) {
        let run = self.run(&["plan"]);
        assert_eq!(run.code, 0, "plan failed:\n{}", run.all());
        let path = self.temp.path().join("plan.json");
        write(&path, run.stdout.as_bytes());
        (path, run.json())
    }

    /// `driftless execute PLAN` (without `-c`: the plan names its config).
    pub fn execute(&self, plan: &Path, args: &[&str]) -> Run {
        let mut command = self.command();
        command.arg("execute").arg(plan).args(args);
        Run::of(command.output().expect("run driftless execute"))
    }

    /// `driftless apply`, checked to succeed.
    pub fn apply(&self) -> Run {
        let run = self.run(&["apply"]);
        assert_eq!(run.code, 0, "apply failed:\n{}", run.all());
        run
    }

    /// Asserts that a fresh plan changes nothing: the summary and every node.
    pub fn assert_converged(&self) {
        let (_, plan) = self.plan();
        let summary = &plan["summary"];
        let changes: u64 = ["create", "update", "delete", "run"]
            .iter()
            .map(|k| summary[k].as_u64().expect("summary count"))
            .sum();
        assert_eq!(changes, 0, "plan after apply changes something: {summary}");
        // Facts nodes collect on every run, waits and reads check: they change nothing.
        for node in nodes(&plan).iter().filter(|n| n["kind"] == "apply") {
            assert!(
                node["action"] == "no-op" || node["action"] == "check",
                "node not converged: {node:#}"
            );
        }
    }

    /// The run reports written so far, parsed, oldest first.
    pub fn reports(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(&self.audit) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).expect("read report")).expect("json"))
            .collect()
    }
}

/// The output of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.all()))
    }

    /// The status of one node in the recap lines (`changed    apply.x`).
    pub fn status_of(&self, address: &str) -> Option<String> {
        self.stdout.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let status = words.next()?;
            let node = words.next()?.trim_end_matches(':');
            (node == address).then(|| status.to_owned())
        })
    }
}

pub fn nodes(plan: &Value) -> &Vec<Value> {
    plan["nodes"].as_array().expect("nodes")
}

/// The plan node with this address.
pub fn node<'p>(plan: &'p Value, address: &str) -> &'p Value {
    nodes(plan)
        .iter()
        .find(|n| n["address"] == address)
        .unwrap_or_else(|| panic!("no node {address} in the plan"))
}

pub fn action(plan: &Value, address: &str) -> String {
    node(plan, address)["action"]
        .as_str()
        .expect("action")
        .to_owned()
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Everything observable about a tree, by relative path: kind, mode, owner, content or link
/// target. Two equal snapshots mean nothing changed.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, path: &Path, out: &mut BTreeMap<String, String>) {
    let meta = std::fs::symlink_metadata(path).expect("metadata");
    let relative = path
        .strip_prefix(root)
        .expect("under root")
        .to_string_lossy()
        .into_owned();
    let common = format!(
        "mode={:o} uid={} gid={} ino={} mtime={}.{}",
        meta.mode(),
        meta.uid(),
        meta.gid(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let file_type = meta.file_type();
    let what = if file_type.is_symlink() {
        format!(
            "link -> {}",
            std::fs::read_link(path).expect("readlink").display()
        )
    } else if file_type.is_dir() {
        "dir".to_owned()
    } else {
        let bytes = std::fs::read(path).expect("read");
        format!("file {:?}", String::from_utf8_lossy(&bytes))
    };
    out.insert(relative, format!("{what} {common}"));
    if file_type.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            walk(root, &entry.expect("entry").path(), out);
        }
    }
}

/// A config with every file-family type, for tests that need "a bit of everything". Needs
/// `templates/t.j2` and `files/f.txt` ([`World::all_types`]).
pub const ALL_TYPES: &str = r#"
vars:
  who: world
apply:
  - id: dir
    type: directory
    path: "{{ root }}/d"
    mode: "0750"
  - id: file
    type: file
    path: "{{ root }}/d/file"
    content: "hello {{ who }}\n"
  - id: from-template
    type: template
    src: templates/t.j2
    dest: "{{ root }}/d/templated"
  - id: copied
    type: copy
    src: files/f.txt
    dest: "{{ root }}/d/copied"
    mode: "0600"
  - id: line
    type: lineinfile
    path: "{{ root }}/d/lines"
    line: "key = value"
    regexp: "^key ="
    create: true
  - id: block
    type: blockinfile
    path: "{{ root }}/d/lines"
    block: |
      a
      b
  - id: symlink
    type: link
    path: "{{ root }}/d/current"
    src: "{{ root }}/d/file"
  - id: hardlink
    type: link
    kind: hard
    path: "{{ root }}/d/hard"
    src: "{{ root }}/d/file"
"#;

impl World {
    /// A world with [`ALL_TYPES`] and its config files.
    pub fn all_types() -> World {
        let world = World::new(ALL_TYPES);
        world.config_file("templates/t.j2", "templated for {{ who }}\n");
        world.config_file("files/f.txt", "copied as is {{ not a template }}\n");
        world
    }
}

impl World {
    /// The action a fresh plan gives `address`.
    pub fn planned_action(&self, address: &str) -> String {
        action(&self.plan().1, address)
    }

    /// Plans, checks `address` gets `expected`, applies, and checks the result is converged.
    pub fn step(&self, address: &str, expected: &str) {
        assert_eq!(
            self.planned_action(address),
            expected,
            "planned action of {address}"
        );
        let run = self.apply();
        let status = if expected == "no-op" {
            "unchanged"
        } else {
            "changed"
        };
        assert_eq!(
            run.status_of(address).as_deref(),
            Some(status),
            "{}",
            run.all()
        );
        self.assert_converged();
    }
}

/// Data-driven snapshot tests: every directory under `tests/<dir>` is a case; `run` turns it
/// into text snapshotted as `snapshots/<prefix>__<case>.snap`. At least `min` cases must exist,
/// so a corpus that shrinks by accident is noticed.
pub fn snapshot_each_case(dir: &str, prefix: &str, min: usize, run: impl Fn(&Path) -> String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("tests/{dir}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let count = cases.len();
    settings.bind(|| {
        for case in cases {
            let name = case
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            insta::assert_snapshot!(format!("{prefix}__{name}"), run(&case));
        }
    });
    assert!(
        count >= min,
        "expected at least {min} cases in tests/{dir}, found {count}"
    );
}

/// Hex SHA-256 of `bytes`, as plan.json writes content hashes and digests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals a plan document again the way plan-format.md defines the digest: SHA-256 of the
/// compact document without `digest` and `created_at`.
pub fn reseal(document: &mut Value) {
    let map = document.as_object_mut().expect("a plan is an object");
    map.remove("digest");
    let created_at = map.remove("created_at");
    let digest = sha256_hex(&serde_json::to_vec(&map).expect("serialize"));
    if let Some(created_at) = created_at {
        map.insert("created_at".into(), created_at);
    }
    map.insert("digest".into(), Value::from(digest));
}

/// Computes a node's `fingerprint` again from its `before` and `route`, the way
/// plan-format.md defines it (as anyone editing a plan can): the hex SHA-256 of the compact
/// array `[path, state, sha256, size, target, mode, uid, gid, route]`, a missing value `null`.
pub fn refingerprint(node: &mut Value) {
    let before = &node["before"];
    let observable = Value::Array(vec![
        before["path"].clone(),
        before["state"].clone(),
        before["sha256"].clone(),
        before["size"].clone(),
        before["target"].clone(),
        before["mode"].clone(),
        before["uid"].clone(),
        before["gid"].clone(),
        node["route"].clone(),
    ]);
    node["fingerprint"] = Value::from(sha256_hex(
        &serde_json::to_vec(&observable).expect("serialize"),
    ));
}
