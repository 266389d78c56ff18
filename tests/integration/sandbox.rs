//! Throwaway roots for the tests that change the system (packages, users, services): an
//! overlay of `/` in a new mount and PID namespace, entered with `chroot`. What a run inside
//! changes lands in the overlay's upper directory, in a temp dir; the test machine is never
//! changed. Each command inside mounts the overlay afresh over the same upper directory, so a
//! plan made by one command is executed by the next against the state the first left.
//!
//! The directories a test passes through (its world's temp dir: config, audit, state) are
//! bind-mounted into the root at the same path, so what driftless writes there is seen by the
//! test, and the rest of the host is read-only to the root in effect.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Sandbox {
    temp: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let temp = tempfile::tempdir().expect("sandbox temp dir");
        for dir in ["upper", "work", "merged"] {
            std::fs::create_dir(temp.path().join(dir)).expect("sandbox dirs");
        }
        Sandbox { temp }
    }

    /// What the root changed: the overlay's upper directory (a file created or changed in the
    /// root at `/etc/x` is here at `etc/x`).
    pub fn upper(&self) -> PathBuf {
        self.temp.path().join("upper")
    }

    /// The command line that runs a program inside the root (the program and its arguments
    /// appended), with `through` bind-mounted at the same paths.
    pub fn wrapper(&self, through: &[&Path]) -> Vec<OsString> {
        let base = self.temp.path();
        let merged = base.join("merged");
        let mut script = format!(
            "set -e\nmount -t overlay overlay -o lowerdir=/,upperdir={upper},workdir={work} {m}\n\
             mount -t proc proc {m}/proc\nmount --rbind /dev {m}/dev\n\
             mount -t tmpfs tmpfs {m}/run\n",
            upper = base.join("upper").display(),
            work = base.join("work").display(),
            m = merged.display(),
        );
        for dir in through {
            script.push_str(&format!(
                "mkdir -p {m}{d}\nmount --bind {d} {m}{d}\n",
                m = merged.display(),
                d = dir.display()
            ));
        }
        script.push_str(&format!("exec chroot {} \"$@\"\n", merged.display()));
        [
            "unshare", "-m", "-p", "-f", "--", "sh", "-c", &script, "sandbox",
        ]
        .into_iter()
        .map(OsString::from)
        .collect()
    }

    /// Runs a shell script inside the root.
    pub fn sh(&self, script: &str) -> Output {
        let wrapper = self.wrapper(&[]);
        Command::new(&wrapper[0])
            .args(&wrapper[1..])
            .args(["/bin/sh", "-c", script])
            .output()
            .expect("run unshare")
    }

    /// Runs a shell script inside the root, checked to succeed; its standard output.
    pub fn sh_ok(&self, script: &str) -> String {
        let output = self.sh(script);
        assert!(
            output.status.success(),
            "in the sandbox: {script}\n--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

#[test]
fn the_sandbox_changes_nothing_outside_its_upper_directory() {
    let sandbox = Sandbox::new();
    let name = format!("sbx{}", std::process::id());
    sandbox.sh_ok(&format!(
        "groupadd {name} && echo made > /etc/driftless-sandbox-probe"
    ));
    assert!(sandbox.upper().join("etc/driftless-sandbox-probe").exists());
    assert!(!Path::new("/etc/driftless-sandbox-probe").exists());
    let host_groups = std::fs::read_to_string("/etc/group").expect("/etc/group");
    assert!(!host_groups.contains(&name));
    // The next command sees what the first left.
    assert_eq!(sandbox.sh_ok("cat /etc/driftless-sandbox-probe"), "made\n");
    assert!(sandbox.sh_ok("getent group").contains(&name));
}

#[test]
fn a_world_in_the_sandbox_applies_to_the_root_and_reports_to_the_test() {
    let sandbox = Sandbox::new();
    let world = crate::common::World::in_sandbox(
        "apply:\n  - type: file\n    path: /etc/driftless-sandbox-world\n    content: \"in the root\\n\"\n",
        &sandbox,
    );
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.file:/etc/driftless-sandbox-world")
            .as_deref(),
        Some("changed"),
        "{}",
        run.all()
    );
    assert!(!Path::new("/etc/driftless-sandbox-world").exists());
    assert_eq!(
        sandbox.sh_ok("cat /etc/driftless-sandbox-world"),
        "in the root\n"
    );
    assert_eq!(world.reports().len(), 1);
    world.assert_converged();
}
