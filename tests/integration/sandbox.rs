//! Throwaway roots for the tests that change the system (packages, users, services): an
//! overlay of `/` in new mount, PID, cgroup, network, UTS and IPC namespaces, entered with
//! `chroot`, with a long-lived PID 1 — a process that only reaps orphans ([`Sandbox::new`]),
//! or a real systemd sandbox in it ([`Sandbox::boot`]). What a command inside changes lands in
//! the overlay's upper directory, in a temp dir; the test machine is never changed. The
//! overlay stays mounted for the sandbox's life, so a plan made by one command is executed by
//! the next against the same file system (the same device, the same routes) and daemons
//! started by one command are there for the next. Commands run inside with
//! `nsenter -t PID -a -r -w`.
//!
//! A world's temp dir (config, audit, state) is made in [`Sandbox::shared`], a directory seen
//! at the same path inside the root and out, so what driftless writes there is seen by the
//! test.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// A throwaway root: see the module's documentation. systemd gets a cgroup2 file system of
/// its own, rooted (through the cgroup namespace) in a cgroup made for it, so it creates
/// nothing at the roots of the host's hierarchies; `/proc/sys` and `/sys` are read-only, so
/// nothing it starts changes the kernel's settings — but for `/proc/sys/net`, the root's own
/// network namespace's parameters. It boots to a target of its own (sysinit and sockets, not
/// the host's services), with the units that touch the kernel masked.
/// Dropping the sandbox powers systemd off (kills the reaper), kills what is left and removes
/// its cgroups.
pub struct Sandbox {
    temp: tempfile::TempDir,
    /// `unshare`, whose child is PID 1.
    holder: std::process::Child,
    /// PID 1's pid, as the host sees it.
    pid: u32,
    cgroup: PathBuf,
    systemd: bool,
}

/// PID 1 of a root without systemd: reaps the orphans daemons leave, so that a stopped
/// daemon is gone rather than a zombie its init script waits on.
const REAPER: &str = "import os, time\nwhile True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        time.sleep(0.05)\n";

/// The units of the host that change the kernel or the machine, not only the root: masked.
const MASKED_IN_BOOTED: &[&str] = &[
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "systemd-remount-fs.service",
    "systemd-random-seed.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-hwdb-update.service",
    "systemd-firstboot.service",
    // A tmpfs on /tmp, or /tmp emptied at boot (in the overlay: whiteouts over the host's),
    // would hide the host's /tmp, where the driftless under test may be built.
    "tmp.mount",
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-clean.service",
    "systemd-tmpfiles-clean.timer",
];

/// The target the root boots to: the base system, none of the host's own services.
const BOOTED_TARGET: &str = "[Unit]\nDescription=driftless test root\n\
    Requires=sysinit.target sockets.target\nAfter=sysinit.target sockets.target\n";

impl Sandbox {
    /// A root with systemd sandbox in it as PID 1.
    pub fn boot() -> Sandbox {
        Sandbox::start(true)
    }

    /// A root without systemd (`/run/systemd/system` absent): services are init scripts.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Sandbox {
        Sandbox::start(false)
    }

    fn start(systemd: bool) -> Sandbox {
        let temp = tempfile::tempdir().expect("sandbox temp dir");
        let base = temp.path().canonicalize().expect("canonical temp dir");
        for dir in ["upper", "work", "merged", "shared"] {
            std::fs::create_dir(base.join(dir)).expect("sandbox dirs");
        }
        let units = base.join("upper/etc/systemd/system");
        std::fs::create_dir_all(&units).expect("unit dir");
        for unit in MASKED_IN_BOOTED {
            std::os::unix::fs::symlink("/dev/null", units.join(unit)).expect("mask");
        }
        std::fs::write(units.join("driftless-test.target"), BOOTED_TARGET).expect("target");
        std::os::unix::fs::symlink(
            "/etc/systemd/system/driftless-test.target",
            units.join("default.target"),
        )
        .expect("default target");
        let cgroup = Self::host_cgroup2().join(format!(
            "driftless-test-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir(&cgroup).expect("cgroup for the sandbox root");
        let merged = base.join("merged");
        let shared = base.join("shared");
        let inner = format!(
            "set -e\nM={m}\n\
             mount -t overlay overlay -o lowerdir=/,upperdir={u},workdir={w} $M\n\
             mount -t proc proc $M/proc\n\
             mount --bind $M/proc/sys $M/proc/sys\nmount -o remount,bind,ro $M/proc/sys\n\
             mount --bind $M/proc/sys/net $M/proc/sys/net\n\
             mount -o remount,bind,rw $M/proc/sys/net\n\
             mount --rbind /dev $M/dev\n\
             mount -t tmpfs tmpfs $M/run\n\
             mount -t sysfs -o ro sysfs $M/sys\n\
             mount -t cgroup2 cgroup2 $M/sys/fs/cgroup\n\
             mkdir -p $M{s}\nmount --bind {s} $M{s}\n\
             exec chroot $M {init}\n",
            init = if systemd {
                "env container=driftless-test /lib/systemd/systemd --system".to_owned()
            } else {
                format!("python3 -c '{REAPER}'")
            },
            m = merged.display(),
            u = base.join("upper").display(),
            w = base.join("work").display(),
            s = shared.display(),
        );
        // Into the new cgroup first: the cgroup namespace is rooted where unshare runs.
        let outer = "echo $$ > \"$1/cgroup.procs\" && exec unshare -m -p -f -C -n -u -i \
                     --propagation private -- sh -c \"$2\"";
        let holder = Command::new("sh")
            .args(["-c", outer, "boot"])
            .arg(&cgroup)
            .arg(&inner)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let mut sandbox = Sandbox {
            temp,
            pid: 0,
            holder,
            cgroup,
            systemd,
        };
        sandbox.pid = sandbox.wait_for_pid();
        if systemd {
            sandbox.wait_until_running();
        }
        sandbox
    }

    /// The host's cgroup2 hierarchy: `/sys/fs/cgroup/unified` on a hybrid host.
    fn host_cgroup2() -> PathBuf {
        let hybrid = Path::new("/sys/fs/cgroup/unified");
        if hybrid.join("cgroup.procs").exists() {
            hybrid.to_owned()
        } else {
            PathBuf::from("/sys/fs/cgroup")
        }
    }

    fn wait_for_pid(&mut self) -> u32 {
        let holder = self.holder.id();
        let children = format!("/proc/{holder}/task/{holder}/children");
        for _ in 0..200 {
            if let Some(pid) = std::fs::read_to_string(&children)
                .ok()
                .and_then(|text| text.split_whitespace().next()?.parse().ok())
                && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
                    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if self.systemd {
                        name == "systemd"
                    } else {
                        name.starts_with("python3")
                    }
                })
            {
                return pid;
            }
            if let Ok(Some(status)) = self.holder.try_wait() {
                panic!("the sandbox root ended before systemd started: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("PID 1 did not start in the sandbox root");
    }

    fn wait_until_running(&self) {
        let mut last = String::new();
        for _ in 0..300 {
            let out = self.command(&["systemctl", "is-system-running"]).output();
            last = out
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            if last == "running" || last == "degraded" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("systemd in the sandbox root did not finish booting: {last}");
    }

    /// A directory seen at the same path inside the root and out (for worlds' temp dirs).
    pub fn shared(&self) -> PathBuf {
        self.temp.path().join("shared")
    }

    /// What the root changed: the overlay's upper directory.
    pub fn upper(&self) -> PathBuf {
        self.temp.path().join("upper")
    }

    /// The command line that runs a program inside the root (the program appended).
    pub fn wrapper(&self) -> Vec<OsString> {
        ["nsenter", "-t", &self.pid.to_string(), "-a", "-r", "-w"]
            .into_iter()
            .map(OsString::from)
            .collect()
    }

    fn command(&self, argv: &[&str]) -> Command {
        let wrapper = self.wrapper();
        let mut command = Command::new(&wrapper[0]);
        command
            .args(&wrapper[1..])
            .args(argv)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        command
    }

    /// Runs a shell script inside the root.
    pub fn sh(&self, script: &str) -> Output {
        self.command(&["/bin/sh", "-c", script])
            .output()
            .expect("run nsenter")
    }

    /// Runs a shell script inside the root, checked to succeed; its standard output.
    pub fn sh_ok(&self, script: &str) -> String {
        let output = self.sh(script);
        assert!(
            output.status.success(),
            "in the sandbox root: {script}\n--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Sandbox {
    /// Makes `repo` (`.deb`s and their `Packages` index, from `dpkg-scanpackages`) the root's
    /// only apt source, at `/srv/driftless-test-repo`, and reads its index: packages install
    /// from it with no network.
    pub fn serve_apt_repository(&self, repo: &Path) {
        // Through the directory the root shares with the test: the overlay's upper directory
        // is the kernel's while the root lives.
        let shared = tempfile::tempdir_in(self.shared()).expect("shared dir");
        for entry in std::fs::read_dir(repo).expect("read repo") {
            let entry = entry.expect("repo entry");
            std::fs::copy(entry.path(), shared.path().join(entry.file_name())).expect("copy repo");
        }
        self.sh_ok(&format!(
            "set -e
             mkdir -p /srv/driftless-test-repo
             cp {shared}/* /srv/driftless-test-repo/
             rm -f /etc/apt/sources.list.d/*
             : > /etc/apt/sources.list
             echo 'deb [trusted=yes] file:/srv/driftless-test-repo ./' > /etc/apt/sources.list.d/driftless-test.list
             apt-get -q update >/dev/null",
            shared = shared.path().display()
        ));
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.systemd {
            let _ = self.command(&["systemctl", "poweroff"]).output();
        } else {
            // SAFETY: kill(2) on the reaper this sandbox started, PID 1 of its namespace.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.holder.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !matches!(self.holder.try_wait(), Ok(Some(_))) {
            // PID 1 killed: the kernel kills the rest of its PID namespace.
            // SAFETY: kill(2) on the pid of the systemd this sandbox started.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
            let _ = self.holder.kill();
            let _ = self.holder.wait();
        }
        remove_cgroup_tree(&self.cgroup);
    }
}

/// Removes a cgroup and those under it, deepest first, once their processes are gone.
fn remove_cgroup_tree(root: &Path) {
    fn dirs(path: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs(&entry.path(), out);
            }
        }
        out.push(path.to_owned());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut all = Vec::new();
        dirs(root, &mut all);
        let left = all
            .iter()
            .filter(|dir| std::fs::remove_dir(dir).is_err())
            .count();
        if left == 0 || std::time::Instant::now() > deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A number no other sandbox of this process has.
fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn a_sandbox_root_runs_systemd_and_leaves_no_cgroup_behind() {
    let sandbox = Sandbox::boot();
    let cgroup = sandbox.cgroup.clone();
    assert_eq!(sandbox.sh_ok("cat /proc/1/comm"), "systemd\n");
    assert!(
        sandbox
            .sh_ok("systemctl show -p Id driftless-test.target")
            .contains("Id=")
    );
    assert!(!Path::new("/sys/fs/cgroup/unified/init.scope").exists());
    sandbox.sh_ok("echo made > /etc/driftless-sandbox-probe");
    assert!(sandbox.upper().join("etc/driftless-sandbox-probe").exists());
    assert!(!Path::new("/etc/driftless-sandbox-probe").exists());
    drop(sandbox);
    assert!(!cgroup.exists(), "{} left behind", cgroup.display());
}
