//! An agent in temp dirs: a local bare Git repository as its source (pushed to from a work
//! clone), its own config dir, its state dir, an audit directory, and the real binary running
//! `driftless agent` with a 1 s interval.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::driftless_command;
use crate::facts_support::{find, free_port, http, samples};

pub struct AgentWorld {
    _temp: tempfile::TempDir,
    pub base: PathBuf,
    /// The bare repository the agent follows.
    pub remote: PathBuf,
    /// A clone that commits are pushed from.
    pub work: PathBuf,
    /// The agent's own config dir.
    pub own: PathBuf,
    pub state: PathBuf,
    pub audit: PathBuf,
    /// What the configs manage.
    pub root: PathBuf,
    pub port: u16,
    /// Environment for every git command of the world and for the agent (`GNUPGHOME`).
    pub env: Vec<(String, String)>,
}

/// A running agent, stopped (SIGKILL) when dropped.
pub struct Agent {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for the agent to exit; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with_env(dir, args, &[])
}

/// [`git`] with more environment variables.
pub fn git_with_env(dir: &Path, args: &[&str], env: &[(String, String)]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .env_remove("GIT_DIR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Polls `condition` every 50 ms for up to `limit`.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

impl AgentWorld {
    pub fn new() -> AgentWorld {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp.path().canonicalize().expect("canonical");
        let world = AgentWorld {
            remote: base.join("remote.git"),
            work: base.join("work"),
            own: base.join("own"),
            state: base.join("state"),
            audit: base.join("audit"),
            root: base.join("root"),
            port: free_port(),
            env: Vec::new(),
            base,
            _temp: temp,
        };
        for dir in [&world.own, &world.root, &world.work] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        git(
            &world.base,
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        git(&world.work, &["init", "-q", "-b", "main"]);
        world
    }

    /// Commits `files` (path → content) in the work clone on `branch` and pushes it; the
    /// commit.
    pub fn push(&self, branch: &str, files: &[(&str, &str)]) -> String {
        self.push_committing(branch, files, &[])
    }

    /// [`AgentWorld::push`] with more arguments to `git commit` (`-S` signs it).
    pub fn push_committing(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        commit_args: &[&str],
    ) -> String {
        let exists = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args([
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        let on_it = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(["symbolic-ref", "--short", "HEAD"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == branch);
        if !on_it {
            let flag = if exists { "" } else { "-b" };
            let args: Vec<&str> = ["checkout", "-q", flag, branch]
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect();
            self.git(&args);
        }
        for (path, content) in files {
            let path = self.work.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        self.git(&["add", "-A"]);
        let mut commit = vec!["commit", "-q", "-m", "change"];
        commit.extend_from_slice(commit_args);
        self.git(&commit);
        let remote = self.remote.display().to_string();
        self.git(&["push", "-q", "-f", &remote, &format!("HEAD:{branch}")]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Git in the work clone, with the world's environment.
    fn git(&self, args: &[&str]) -> String {
        git_with_env(&self.work, args, &self.env)
    }

    /// A repository config: a file task managing `root/motd` with `content`, run reports
    /// into the audit dir.
    pub fn motd_config(&self, content: &str) -> String {
        format!(
            "settings:\n  audit: [{{ type: directory, path: {} }}]\napply:\n  - id: motd\n    type: file\n    path: {}\n    content: {content:?}\n",
            self.audit.display(),
            self.root.join("motd").display()
        )
    }

    /// Writes the agent's own config: `agent` is the YAML of `settings.agent` (one line,
    /// flow style), `extra` more top-level YAML.
    pub fn own_config(&self, agent: &str, extra: &str) {
        let yaml = format!(
            "settings:\n  agent: {agent}\n  metrics: {{ listen: \"127.0.0.1:{}\" }}\n  audit: [{{ type: directory, path: {} }}]\n{extra}",
            self.port,
            self.audit.display()
        );
        // Whole or not at all (a hidden temp file is no config): an agent watching the dir
        // never reads half a file.
        let staged = self.own.join(".agent.yaml.new");
        std::fs::write(&staged, yaml).expect("write own config");
        std::fs::rename(&staged, self.own.join("agent.yaml")).expect("rename own config");
    }

    /// `settings.agent` following the bare repository every second.
    pub fn git_agent(&self, more: &str) -> String {
        format!(
            "{{ interval: 1s, source: {{ git: {{ url: {}, interval: 1s{more} }} }} }}",
            self.remote.display()
        )
    }

    pub fn start(&self) -> Agent {
        let log = self.base.join(format!("agent-{}.log", free_port()));
        let child = driftless_command(&self.base)
            .args(["-v", "-c"])
            .arg(&self.own)
            .arg("agent")
            .arg("--state-dir")
            .arg(&self.state)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start the agent");
        Agent { child, log }
    }

    pub fn motd(&self) -> String {
        std::fs::read_to_string(self.root.join("motd")).unwrap_or_default()
    }

    /// The value of a sample of `/metrics`, when the server answers and has it.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let response = std::panic::catch_unwind(|| http(self.port, "GET", "/metrics", &[])).ok()?;
        find(&samples(&response.text()), name, labels).map(|s| s.value)
    }

    /// The documents in the audit dir whose `kind` is `kind` (run reports have none).
    pub fn audit_documents(&self, kind: &str) -> Vec<serde_json::Value> {
        self.audit_documents_where(|v| v["kind"] == kind)
    }

    /// The run reports in the audit dir.
    pub fn reports(&self) -> Vec<serde_json::Value> {
        self.audit_documents_where(|v| v.get("run_id").is_some())
    }

    fn audit_documents_where(
        &self,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let Ok(entries) = std::fs::read_dir(&self.audit) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .filter(|v| keep(v))
            .collect()
    }
}
