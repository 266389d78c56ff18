//! `sysctl` in a throwaway root inside a network namespace of its own ([`NetSandbox`]): its
//! `net.*` parameters are real and its own, so live values are set there, never on the test
//! machine; the sysctl.d file lands in the root's overlay. Create, update, remove, no-op,
//! chains of keys in one file, a second apply that changes nothing, dry runs and stale plans.

use std::path::Path;
use std::process::{Child, Command};

use crate::common::{self, World};

/// A throwaway root (an overlay of `/`, as [`Sandbox`] makes) in new mount and network
/// namespaces held by one process for the whole test: its `net.*` parameters are its own,
/// and the overlay is mounted once, so its device number — part of every route a plan
/// records — stays the same between a plan and its execution (an overlay mounted afresh per
/// command gets whichever anonymous device number is free, which changes when other tests
/// mount theirs meanwhile). Commands enter it with `nsenter`. One world per root.
struct NetSandbox {
    temp: tempfile::TempDir,
    holder: Child,
    world: World,
}

impl NetSandbox {
    fn new(config: &str) -> NetSandbox {
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
        assert!(ready, "no root in a network namespace of its own after 10 s");
        world.wrapper = NetSandbox::wrapper_of(pid);
        NetSandbox {
            temp,
            holder,
            world,
        }
    }

    fn wrapper_of(pid: u32) -> Vec<std::ffi::OsString> {
        ["nsenter", "-t", &pid.to_string(), "-m", "-n", "-r", "-w", "--"]
            .into_iter()
            .map(Into::into)
            .collect()
    }

    fn sh_ok(&self, script: &str) -> String {
        let wrapper = NetSandbox::wrapper_of(self.holder.id());
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

    fn live(&self, name: &str) -> String {
        let path = name.replace('.', "/");
        self.sh_ok(&format!("cat /proc/sys/{path}")).trim().to_owned()
    }

    fn set_live(&self, name: &str, value: &str) {
        let path = name.replace('.', "/");
        self.sh_ok(&format!("echo {value} > /proc/sys/{path}"));
    }

    fn file(&self, path: &str) -> Option<String> {
        let upper = self.temp.path().join("upper");
        std::fs::read_to_string(upper.join(path.trim_start_matches('/'))).ok()
    }
}

impl Drop for NetSandbox {
    fn drop(&mut self) {
        // The holder is PID `holder.id()`, started by this test: killing it ends the
        // namespaces (nothing else runs in them once a command returned).
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

const FORWARD: &str = "net.ipv4.ip_forward";
const LO_MARTIANS: &str = "net.ipv4.conf.lo.log_martians";
const FILE: &str = "/etc/sysctl.d/99-driftless.conf";

fn host_value(name: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/")))
        .unwrap_or_default()
}

fn sysctl(id: &str, fields: &str) -> String {
    format!("  - {{id: {id}, type: sysctl, {fields}}}\n")
}

#[test]
fn create_update_remove_and_nothing_twice() {
    let host = (host_value(FORWARD), host_value(LO_MARTIANS));
    let config = format!(
        "apply:\n{}{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1"),
        sysctl("lo", "name: net.ipv4.conf.lo.log_martians, value: \"1\"")
    );
    let net = NetSandbox::new(&config);
    let world = &net.world;
    assert_eq!(net.live(FORWARD), "0");

    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("live value: 0 → 1"), "{}", dry.all());
    assert_eq!(net.live(FORWARD), "0");
    assert_eq!(net.file(FILE), None);

    let (plan_path, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "create", "{node:#}");
    assert_eq!(node["before"]["live"], "0");
    assert_eq!(node["after"]["live"], "1");
    assert_eq!(node["after"]["file"]["content"], "net.ipv4.ip_forward = 1\n");
    let lo = common::node(&plan, "apply.lo");
    assert_eq!(lo["precondition"], "chained", "{lo:#}");
    assert!(
        lo["depends_on"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["reason"] == "same file")),
        "{lo:#}"
    );
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.forward").as_deref(), Some("changed"));
    assert_eq!(net.live(FORWARD), "1");
    assert_eq!(net.live(LO_MARTIANS), "1");
    assert_eq!(
        net.file(FILE).as_deref(),
        Some("net.ipv4.ip_forward = 1\nnet.ipv4.conf.lo.log_martians = 1\n")
    );
    world.assert_converged();

    // Update: the line and the live value.
    world.set_config(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 0")
    ));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "update");
    assert!(
        node["diff"]
            .as_str()
            .is_some_and(|d| d.contains("-net.ipv4.ip_forward = 1\n+net.ipv4.ip_forward = 0")),
        "{node:#}"
    );
    world.apply();
    assert_eq!(net.live(FORWARD), "0");
    world.assert_converged();

    // Only the live value drifted: an update of it alone.
    net.set_live(FORWARD, "1");
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.forward");
    assert_eq!(node["action"], "update");
    assert!(node["diff"].is_null(), "{node:#}");
    world.apply();
    assert_eq!(net.live(FORWARD), "0");

    // Remove the line; the live value stays.
    world.set_config(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, state: absent")
    ));
    world.apply();
    assert_eq!(
        net.file(FILE).as_deref(),
        Some("net.ipv4.conf.lo.log_martians = 1\n")
    );
    assert_eq!(net.live(FORWARD), "0");
    world.assert_converged();

    assert_eq!(
        (host_value(FORWARD), host_value(LO_MARTIANS)),
        host,
        "the test machine's values changed"
    );
}

#[test]
fn a_value_already_there_is_a_no_op_and_reload_false_leaves_the_live_value() {
    let net = NetSandbox::new(&format!(
        "apply:\n{}{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1"),
        sysctl(
            "file-only",
            "name: net.ipv4.conf.lo.log_martians, value: 1, reload: false, sysctl_file: /etc/sysctl.d/50-lo.conf"
        )
    ));
    let world = &net.world;
    net.sh_ok(&format!(
        "mkdir -p /etc/sysctl.d && printf 'net.ipv4.ip_forward = 1\\n' > {FILE}"
    ));
    net.set_live(FORWARD, "1");
    let (plan_path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.forward"), "no-op");
    let file_only = common::node(&plan, "apply.file-only");
    assert_eq!(file_only["action"], "create");
    assert!(file_only["after"]["live"].is_null(), "{file_only:#}");
    let run = world.execute(&plan_path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(net.live(LO_MARTIANS), "0");
    assert_eq!(
        net.file("/etc/sysctl.d/50-lo.conf").as_deref(),
        Some("net.ipv4.conf.lo.log_martians = 1\n")
    );
    world.assert_converged();
}

#[test]
fn a_plan_whose_live_value_changed_is_refused() {
    let net = NetSandbox::new(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1")
    ));
    let world = &net.world;
    let (plan_path, _) = world.plan();
    net.set_live(FORWARD, "1");
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("apply.forward")
            && run.stderr.contains("live value of net.ipv4.ip_forward changed"),
        "{}",
        run.all()
    );
    assert_eq!(net.file(FILE), None, "a refused plan wrote the file");
}

#[test]
fn a_plan_whose_file_changed_is_refused() {
    let net = NetSandbox::new(&format!(
        "apply:\n{}",
        sysctl("forward", "name: net.ipv4.ip_forward, value: 1")
    ));
    let world = &net.world;
    let (plan_path, _) = world.plan();
    net.sh_ok(&format!("mkdir -p /etc/sysctl.d && echo 'x = 1' > {FILE}"));
    let run = world.execute(&plan_path, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("apply.forward"), "{}", run.all());
    assert_eq!(net.live(FORWARD), "0");
}

#[test]
fn a_parameter_the_kernel_lacks_is_a_plan_error() {
    let net = NetSandbox::new(&format!(
        "apply:\n{}",
        sysctl("nope", "name: net.ipv4.no_such_parameter, value: 1")
    ));
    let world = &net.world;
    let run = world.run(&["plan"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("the kernel has no parameter net.ipv4.no_such_parameter"),
        "{}",
        run.all()
    );
}
