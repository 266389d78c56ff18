//! Where driftless keeps things when it is not told: the config and env file of the user, the
//! state directory of the run lock and the run reports.

use std::path::{Path, PathBuf};

/// `~/.config/driftless/<name>` (`$XDG_CONFIG_HOME` when set): `config` is the default config
/// dir, `env` the default env file.
pub fn config_path(name: &str) -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("driftless").join(name)
}

/// Where driftless keeps its state when `--state-dir` (`DRIFTLESS_STATE_DIR`) is not given:
/// `/var/lib/driftless` as root, `$XDG_STATE_HOME/driftless` (default
/// `~/.local/state/driftless`) otherwise. It holds the run lock and, without `settings.audit`,
/// the run reports (`runs/`).
pub fn state_dir() -> PathBuf {
    if crate::host::users::current().0 == 0 {
        return PathBuf::from("/var/lib/driftless");
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("driftless")
}

/// The state directory a run uses: `--state-dir` (or `DRIFTLESS_STATE_DIR`), else the
/// config's `settings.state_dir`, else [`state_dir`].
pub fn resolve_state_dir(
    flag: Option<&Path>,
    settings: &crate::model::settings::Settings,
) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| settings.state_dir.as_ref().map(|d| PathBuf::from(&d.value)))
        .unwrap_or_else(state_dir)
}
