//! When the host booted (`btime` of `/proc/stat`) and how long it has been up (`/proc/uptime`).

use std::io;

use super::procfs;
use super::stat;

/// Seconds since the Unix epoch at boot; `None` when `/proc/stat` does not say.
pub fn boot_time() -> io::Result<Option<u64>> {
    let mut text = String::new();
    stat::read_into(&mut text)?;
    Ok(stat::parse_stat(&text).btime)
}

/// Seconds since boot, the first field of `/proc/uptime`.
pub fn uptime_seconds() -> Option<f64> {
    procfs::read("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_has_booted_and_is_up() {
        let boot = boot_time().ok().flatten().unwrap_or(0);
        assert!(boot > 1_000_000_000, "{boot}");
        assert!(uptime_seconds().is_some_and(|u| u > 0.0));
    }
}
