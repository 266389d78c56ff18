//! OpenRC (Alpine, Gentoo): `rc-service <name> status` (exit 0: started; read-only, so
//! planning may run it), `start`, `stop`, `restart`, `reload`; `rc-update add|del <name>
//! default` for the `default` runlevel, whose members are the links in
//! `/etc/runlevels/default`.

use std::path::Path;
use std::time::Duration;

use super::{InitSystem, Observed, Step, UnitState, script_name};
use crate::error::ResourceError;
use crate::process::{self, Invocation};

/// The runlevel `enabled` means.
const RUNLEVEL: &str = "default";

const DEADLINE: Duration = Duration::from_secs(300);

/// Whether OpenRC is the init system here.
pub fn installed() -> bool {
    Path::new("/sbin/openrc-run").exists() || Path::new("/sbin/openrc").exists()
}

pub fn observe(unit: &str) -> Observed {
    let name = script_name(unit);
    let installed = Path::new(super::sysvinit::SCRIPTS).join(name).is_file();
    let started = installed
        && process::run(&Invocation::new(["rc-service", name, "status"]).timeout(DEADLINE))
            .is_ok_and(|done| done.success());
    let in_runlevel = Path::new("/etc/runlevels")
        .join(RUNLEVEL)
        .join(name)
        .symlink_metadata()
        .is_ok();
    Observed {
        state: UnitState {
            unit: unit.to_owned(),
            manager: InitSystem::Openrc,
            installed,
            active: started,
            enabled: in_runlevel,
            masked: false,
            needs_daemon_reload: false,
        },
        can_enable: true,
        detail: format!(
            "rc-service {name} status: {}",
            if started { "started" } else { "stopped" }
        ),
        file: None,
    }
}

pub fn step(unit: &str, step: Step) -> Result<(), ResourceError> {
    let name = script_name(unit);
    let argv: Vec<&str> = match step {
        Step::Start | Step::Stop | Step::Restart | Step::Reload => {
            vec!["rc-service", name, step.verb()]
        }
        Step::Enable => vec!["rc-update", "add", name, RUNLEVEL],
        Step::Disable => vec!["rc-update", "del", name, RUNLEVEL],
        Step::DaemonReload | Step::Mask | Step::Unmask => {
            return Err(ResourceError::permanent(format!(
                "OpenRC has no `{}`: it is systemd's",
                step.verb()
            )));
        }
    };
    process::output(&Invocation::new(argv).timeout(DEADLINE)).map(drop)
}
