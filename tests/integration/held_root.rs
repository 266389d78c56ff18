//! A throwaway root with one world in it, for the types whose state is the root's own: the
//! `net.*` kernel parameters of its network namespace, its crontabs, its users' keys.

use crate::common::World;
use crate::sandbox::Sandbox;

pub struct HeldRoot {
    // Before the sandbox: the world's temp dir is inside it, and goes first.
    pub world: World,
    sandbox: Sandbox,
}

impl HeldRoot {
    pub fn new(config: &str) -> HeldRoot {
        let sandbox = Sandbox::new();
        let world = World::in_sandbox(config, &sandbox);
        HeldRoot { world, sandbox }
    }

    pub fn sh_ok(&self, script: &str) -> String {
        self.sandbox.sh_ok(script)
    }

    /// A kernel parameter's value in the root.
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

    /// A file of the root, if it is there.
    pub fn file(&self, path: &str) -> Option<String> {
        let out = self.sandbox.sh(&format!("cat {path}"));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
