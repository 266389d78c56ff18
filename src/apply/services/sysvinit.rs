//! sysvinit (where systemd does not run): the unit's init script `/etc/init.d/<name>` — its
//! `status` (exit 0: running, as the LSB says; read-only, so planning may run it), `start`,
//! `stop`, `restart`, `reload` — and Debian's `update-rc.d` for the boot links in
//! `/etc/rc?.d`.

use std::path::Path;
use std::time::Duration;

use super::{InitSystem, Observed, Step, UnitState, script_name};
use crate::error::ResourceError;
use crate::process::{self, Invocation};

/// Where init scripts are.
pub const SCRIPTS: &str = "/etc/init.d";

/// The runlevels a service enabled by `update-rc.d defaults` starts in.
const RUNLEVELS: [char; 4] = ['2', '3', '4', '5'];

const DEADLINE: Duration = Duration::from_secs(300);

fn script(unit: &str) -> String {
    format!("{SCRIPTS}/{}", script_name(unit))
}

/// The boot links of the script in `/etc/rc<level>.d`: `S<nn><name>` starts it, `K<nn><name>`
/// stops it.
fn links(name: &str, start: bool) -> Vec<String> {
    let prefix = if start { 'S' } else { 'K' };
    RUNLEVELS
        .iter()
        .flat_map(|level| {
            std::fs::read_dir(format!("/etc/rc{level}.d"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|file| is_link_for(file, prefix, name))
        })
        .collect()
}

/// `S02nginx` is a start link for `nginx`: the letter, two digits, the name.
fn is_link_for(file: &str, prefix: char, name: &str) -> bool {
    let mut chars = file.chars();
    chars.next() == Some(prefix)
        && chars.by_ref().take(2).filter(char::is_ascii_digit).count() == 2
        && chars.as_str() == name
}

pub fn observe(unit: &str) -> Observed {
    let path = script(unit);
    let installed = Path::new(&path).is_file();
    let running = installed
        && process::run(&Invocation::new([path.as_str(), "status"]).timeout(DEADLINE))
            .is_ok_and(|done| done.success());
    Observed {
        state: UnitState {
            unit: unit.to_owned(),
            manager: InitSystem::Sysvinit,
            installed,
            active: running,
            enabled: installed && !links(script_name(unit), true).is_empty(),
            masked: false,
            needs_daemon_reload: false,
        },
        can_enable: true,
        detail: format!(
            "{path} status: {}",
            if running { "running" } else { "not running" }
        ),
        file: installed.then_some(path),
    }
}

pub fn step(unit: &str, step: Step) -> Result<(), ResourceError> {
    let name = script_name(unit);
    let path = script(unit);
    let argv: Vec<&str> = match step {
        Step::Start | Step::Stop | Step::Restart | Step::Reload => vec![&path, step.verb()],
        // A script never enabled has no links yet: `defaults` makes them from its header.
        Step::Enable if links(name, false).is_empty() => vec!["update-rc.d", name, "defaults"],
        Step::Enable | Step::Disable => vec!["update-rc.d", name, step.verb()],
        Step::DaemonReload | Step::Mask | Step::Unmask => {
            return Err(ResourceError::permanent(format!(
                "sysvinit has no `{}`: it is systemd's",
                step.verb()
            )));
        }
    };
    process::output(&Invocation::new(argv).timeout(DEADLINE)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_links_are_named_by_letter_order_and_script() {
        assert!(is_link_for("S01nginx", 'S', "nginx"));
        assert!(is_link_for("K01nginx", 'K', "nginx"));
        assert!(!is_link_for("S01nginx-debug", 'S', "nginx"));
        assert!(!is_link_for("Sxxnginx", 'S', "nginx"));
        assert!(!is_link_for("S01nginx", 'K', "nginx"));
    }
}
