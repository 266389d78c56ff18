//! `settings.agent` with its defaults filled in, and the waits between cycles.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::agent::DEFAULT_INTERVAL;
use crate::model::Settings;
use crate::model::settings::{AgentMode, GitSource};

/// The most a failing agent waits: this many intervals.
const BACKOFF_CAP: u32 = 8;

/// How the agent runs, from its own config dir's settings.
#[derive(Clone)]
pub struct Resolved {
    pub interval: Duration,
    pub splay: Duration,
    pub mode: AgentMode,
    pub git: Option<GitSource>,
    /// How often the Git source is fetched.
    pub fetch_interval: Duration,
    /// `--state-dir` > `settings.state_dir` > the default; absolute.
    pub state_dir: PathBuf,
    /// `settings.metrics.listen`.
    pub listen: Option<String>,
}

impl Resolved {
    pub fn of(settings: &Settings, state_dir_flag: Option<&Path>) -> Resolved {
        let agent = settings.agent.clone().unwrap_or_default();
        let interval = agent
            .interval
            .as_ref()
            .map_or(DEFAULT_INTERVAL, |i| i.value.0);
        let git = agent.source.map(|s| s.git);
        let fetch_interval = git
            .as_ref()
            .and_then(|g| g.interval.as_ref())
            .map_or(interval, |i| i.value.0);
        let state_dir = state_dir_flag
            .map(Path::to_path_buf)
            .or_else(|| settings.state_dir.as_ref().map(|s| PathBuf::from(&s.value)))
            .unwrap_or_else(crate::ops::defaults::state_dir);
        Resolved {
            interval,
            splay: agent.splay.map_or(Duration::ZERO, |s| s.value.0),
            mode: agent.mode.map_or(AgentMode::Apply, |m| m.value),
            git,
            fetch_interval,
            state_dir: std::path::absolute(&state_dir).unwrap_or(state_dir),
            listen: (settings.metrics.as_ref())
                .and_then(|m| m.listen.as_ref())
                .map(|l| l.value.clone()),
        }
    }

    /// How long until the next cycle: the interval, doubled for each failure in a row up to
    /// [`BACKOFF_CAP`] intervals (a host that keeps failing does not hammer its sources),
    /// plus a random part of the splay.
    pub fn wait(&self, failures: u32) -> Duration {
        let factor = match failures {
            0 => 1,
            n => (1u32 << (n - 1).min(31)).min(BACKOFF_CAP),
        };
        self.interval.saturating_mul(factor) + random_part(self.splay)
    }

    /// Whether the Git source settings differ (the source thread is started again).
    pub fn same_source(&self, other: &Resolved) -> bool {
        let key =
            |r: &Resolved| (r.git.as_ref()).map(|g| serde_json::to_string(g).unwrap_or_default());
        key(self) == key(other) && self.fetch_interval == other.fetch_interval
    }
}

/// A random duration below `most` (zero for zero).
fn random_part(most: Duration) -> Duration {
    let millis = most.as_millis() as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    let mut bytes = [0u8; 8];
    if crate::fsutil::random_bytes(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    Duration::from_millis(u64::from_le_bytes(bytes) % millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_up_to_the_cap() {
        let mut r = Resolved::of(&Settings::default(), Some(Path::new("/x")));
        r.interval = Duration::from_secs(10);
        let waits: Vec<u64> = (0..7).map(|f| r.wait(f).as_secs()).collect();
        assert_eq!(waits, [10, 10, 20, 40, 80, 80, 80]);
        r.splay = Duration::from_secs(5);
        for _ in 0..20 {
            let w = r.wait(0);
            assert!(
                w >= Duration::from_secs(10) && w < Duration::from_secs(15),
                "{w:?}"
            );
        }
    }
}
