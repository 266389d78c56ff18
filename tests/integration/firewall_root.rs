//! A throwaway root for the firewall tests: Debian's iptables (and ufw) installed in it with
//! `dpkg -i` from the `.deb`s `scripts/install-test-deps` downloads, in the root's own
//! network namespace ([`Sandbox`] makes one). Dropping it checks that the host's packet filter
//! rules are what they were when it was made, read with the root's own `iptables` in the
//! host's network namespace (only the mount namespace entered).

use std::path::PathBuf;
use std::process::Command;

use crate::common::World;
use crate::sandbox::Sandbox;

pub struct FirewallRoot {
    // Before the sandbox: the world's temp dir is inside it, and goes first.
    pub world: World,
    sandbox: Sandbox,
    /// The host's rules when the root was made.
    host_rules: String,
}

/// Which tools the root gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tools {
    Iptables,
    IptablesAndUfw,
}

/// The `.deb`s of `scripts/install-test-deps`' `firewall/` directory.
fn debs(tools: Tools) -> Vec<PathBuf> {
    let dir = crate::deps::test_deps(&["firewall"]).join("firewall");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the firewall debs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            tools == Tools::IptablesAndUfw
                || !(name.starts_with("ufw_") || name.starts_with("ucf_"))
        })
        .collect();
    debs.sort();
    let wanted = if tools == Tools::Iptables { 8 } else { 10 };
    assert_eq!(
        debs.len(),
        wanted,
        "firewall debs in {}: {debs:?}",
        dir.display()
    );
    debs
}

impl FirewallRoot {
    pub fn new(tools: Tools, config: &str) -> FirewallRoot {
        let sandbox = Sandbox::new();
        let shared = tempfile::tempdir_in(sandbox.shared()).expect("shared dir");
        for deb in debs(tools) {
            std::fs::copy(&deb, shared.path().join(deb.file_name().expect("name")))
                .expect("copy deb");
        }
        sandbox.sh_ok(&format!(
            "DEBIAN_FRONTEND=noninteractive dpkg -i {}/*.deb >/tmp/dpkg.log 2>&1 || {{ cat /tmp/dpkg.log; exit 1; }}",
            shared.path().display()
        ));
        // Read once the root has its iptables: what the host had before anything ran.
        let host_rules = host_rules_now(&sandbox);
        FirewallRoot {
            world: World::in_sandbox(config, &sandbox),
            host_rules,
            sandbox,
        }
    }

    pub fn sh_ok(&self, script: &str) -> String {
        self.sandbox.sh_ok(script)
    }

    /// `iptables -S` of a table (`ip6tables` with `v6`) in the root.
    pub fn rules(&self, program: &str, table: &str) -> String {
        self.sh_ok(&format!("{program} -t {table} -S"))
    }
}

/// Every table of both IP versions as the host has them, listed by the root's `iptables`
/// with only the root's mount namespace entered: read-only.
fn host_rules_now(sandbox: &Sandbox) -> String {
    let wrapper = sandbox.wrapper();
    let pid = wrapper[2].to_str().expect("pid").to_owned();
    let mut all = String::new();
    for program in ["iptables", "ip6tables"] {
        for table in ["filter", "nat", "mangle", "raw"] {
            let out = Command::new("nsenter")
                .args(["-t", &pid, "-m", "-r", "-w", program, "-t", table, "-S"])
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .output()
                .expect("run nsenter");
            assert!(
                out.status.success(),
                "{program} -t {table} -S on the host: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            all.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    }
    all
}

impl Drop for FirewallRoot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        assert_eq!(
            host_rules_now(&self.sandbox),
            self.host_rules,
            "the host's packet filter rules changed"
        );
    }
}
