//! systemd, through `systemctl`: all the units of a run observed with one `systemctl show`,
//! each change one `systemctl` command (which waits for its job to finish).

use std::time::Duration;

use super::{InitSystem, Observed, Step, UnitState};
use crate::error::ResourceError;
use crate::process::{self, Invocation};

/// The properties read of each unit, in the order `systemctl show` is asked for them.
const PROPERTIES: &str =
    "Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,FragmentPath";

/// How long one `systemctl` command may take (a start waits for the unit to be up).
const DEADLINE: Duration = Duration::from_secs(300);

/// Observes `units` with one `systemctl show`, in the order given.
pub fn observe(units: &[&str]) -> Result<Vec<Observed>, String> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut argv = vec!["systemctl", "show", "--property", PROPERTIES, "--"];
    argv.extend(units);
    let text = process::output(&Invocation::new(argv).timeout(DEADLINE)).map_err(|e| e.message)?;
    parse_show(&text, units)
}

/// `systemctl show` prints one block of `Key=value` lines per unit, in the order asked,
/// blocks separated by a blank line.
fn parse_show(text: &str, units: &[&str]) -> Result<Vec<Observed>, String> {
    let blocks: Vec<&str> = text
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .collect();
    if blocks.len() != units.len() {
        return Err(format!(
            "systemctl show answered {} blocks for {} units",
            blocks.len(),
            units.len()
        ));
    }
    Ok(blocks
        .iter()
        .zip(units)
        .map(|(block, unit)| observed(unit, block))
        .collect())
}

fn observed(unit: &str, block: &str) -> Observed {
    let property = |key: &str| {
        block
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
    };
    let load = property("LoadState");
    let active = property("ActiveState");
    let file = property("UnitFileState");
    let masked = load == "masked" || file.starts_with("masked");
    Observed {
        state: UnitState {
            unit: unit.to_owned(),
            manager: InitSystem::Systemd,
            installed: load != "not-found",
            active: matches!(active, "active" | "activating" | "reloading" | "refreshing"),
            enabled: matches!(file, "enabled" | "enabled-runtime"),
            masked,
            needs_daemon_reload: property("NeedDaemonReload") == "yes",
        },
        can_enable: !matches!(file, "static" | "transient" | "bad" | "generated" | ""),
        detail: format!(
            "{active}/{} (unit file {})",
            property("SubState"),
            if file.is_empty() { "none" } else { file }
        ),
        file: Some(property("FragmentPath"))
            .filter(|path| !path.is_empty())
            .map(str::to_owned),
    }
}

/// One `systemctl` command on the unit.
pub fn step(unit: &str, step: Step) -> Result<(), ResourceError> {
    let argv = match step {
        Step::DaemonReload => vec!["systemctl", "daemon-reload"],
        other => vec!["systemctl", other.verb(), "--", unit],
    };
    process::output(&Invocation::new(argv).timeout(DEADLINE)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What systemd 252 (Debian 12) printed for a running enabled unit, a unit that does not
    /// exist, a masked one and a static one.
    const RECORDED: &str = "Id=ssh.service\nLoadState=loaded\nActiveState=active\n\
        SubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n\n\
        Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n\
        UnitFileState=\nNeedDaemonReload=no\n\n\
        Id=cron.service\nLoadState=masked\nActiveState=inactive\nSubState=dead\n\
        UnitFileState=masked\nNeedDaemonReload=no\n\n\
        Id=systemd-journald.service\nLoadState=loaded\nActiveState=active\n\
        SubState=running\nUnitFileState=static\nNeedDaemonReload=yes\n";

    #[test]
    fn one_show_answers_for_every_unit_in_order() {
        let units = [
            "ssh.service",
            "nope.service",
            "cron.service",
            "systemd-journald.service",
        ];
        let seen = parse_show(RECORDED, &units).unwrap();
        let states: Vec<_> = seen
            .iter()
            .map(|o| {
                let s = &o.state;
                (
                    s.installed,
                    s.active,
                    s.enabled,
                    s.masked,
                    s.needs_daemon_reload,
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                (true, true, true, false, false),
                (false, false, false, false, false),
                (true, false, false, true, false),
                (true, true, false, false, true),
            ]
        );
        assert!(seen[0].can_enable);
        assert!(!seen[3].can_enable);
        assert_eq!(seen[3].detail, "active/running (unit file static)");
        assert!(parse_show(RECORDED, &units[..2]).is_err());
    }
}
