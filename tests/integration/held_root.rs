//! A throwaway root held for a whole test: an overlay of `/` (as [`crate::sandbox::Sandbox`]
//! makes) in new mount and network namespaces that one process holds, entered by each command
//! with `nsenter`. The overlay is mounted once, so its device number — part of every route a
//! plan records — is the same when the plan is executed; the network namespace makes the
//! root's `net.*` kernel parameters its own.

use std::process::{Child, Command};

use crate::common::World;

/// A throwaway root (an overlay of `/`, as [`crate::sandbox::Sandbox`] makes) in new mount and network
/// namespaces held by one process for the whole test: its `net.*` parameters are its own,
/// and the overlay is mounted once, so its device number — part of every route a plan
/// records — stays the same between a plan and its execution (an overlay mounted afresh per
/// command gets whichever anonymous device number is free, which changes when other tests
/// mount theirs meanwhile). Commands enter it with `nsenter`. One world per root.
pub struct HeldRoot {
    temp: tempfile::TempDir,
    holder: Child,
    pub world: World,
}

impl HeldRoot {
    pub fn new(config: &str) -> HeldRoot {
        let temp = tempfile::tempdir().expect("sandbox temp dir");
        let base = temp.path().canonicalize().expect("canonical temp dir");
        for dir in ["upper", "work", "merged"] {
            std::fs::create_dir(base.join(dir)).expect("sandbox dirs");
        }
        let mut world = World::new(config);
        let shared = world
            .path("")
            .parent()
            .expect("the world's temp dir")
            .to_owned();
        let script = format!(
            "set -e\nM={m}\n\
             mount -t overlay overlay -o lowerdir=/,upperdir={u},workdir={w} $M\n\
             mount -t proc proc $M/proc\nmount --rbind /dev $M/dev\n\
             mount -t tmpfs tmpfs $M/run\nmount -t tmpfs tmpfs $M/tmp\n\
             mkdir -p $M{s}\nmount --bind {s} $M{s}\n\
             exec chroot $M sleep 3600\n",
            m = base.join("merged").display(),
            u = base.join("upper").display(),
            w = base.join("work").display(),
            s = shared.display(),
        );
        let holder = Command::new("unshare")
            .args(["-m", "-n", "--propagation", "private", "--", "sh", "-c"])
            .arg(&script)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("spawn unshare -m -n");
        let pid = holder.id();
        let ours = std::fs::read_link("/proc/self/ns/net").expect("our net namespace");
        let mut ready = false;
        for _ in 0..1000 {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"));
            if comm.is_ok_and(|c| c.trim() == "sleep")
                && std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns != ours)
            {
                ready = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Never run a test against the test machine's own parameters.
        assert!(
            ready,
            "no root in a network namespace of its own after 10 s"
        );
        world.wrapper = HeldRoot::wrapper_of(pid);
        HeldRoot {
            temp,
            holder,
            world,
        }
    }

    fn wrapper_of(pid: u32) -> Vec<std::ffi::OsString> {
        [
            "nsenter",
            "-t",
            &pid.to_string(),
            "-m",
            "-n",
            "-r",
            "-w",
            "--",
        ]
        .into_iter()
        .map(Into::into)
        .collect()
    }

    pub fn sh_ok(&self, script: &str) -> String {
        let wrapper = HeldRoot::wrapper_of(self.holder.id());
        let output = Command::new(&wrapper[0])
            .args(&wrapper[1..])
            .args(["/bin/sh", "-c", script])
            .output()
            .expect("run nsenter");
        assert!(
            output.status.success(),
            "in the sandbox: {script}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn live(&self, name: &str) -> String {
        let path = name.replace('.', "/");
        self.sh_ok(&format!("cat /proc/sys/{path}"))
            .trim()
            .to_owned()
    }

    pub fn set_live(&self, name: &str, value: &str) {
        let path = name.replace('.', "/");
        self.sh_ok(&format!("echo {value} > /proc/sys/{path}"));
    }

    pub fn file(&self, path: &str) -> Option<String> {
        let upper = self.temp.path().join("upper");
        std::fs::read_to_string(upper.join(path.trim_start_matches('/'))).ok()
    }
}

impl Drop for HeldRoot {
    fn drop(&mut self) {
        // The holder is PID `holder.id()`, started by this test: killing it ends the
        // namespaces (nothing else runs in them once a command returned).
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
