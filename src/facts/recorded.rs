//! Facts recorded on a host (`driftless facts --format json > host.json`) read back, so that
//! `check --host H --facts host.json` compiles the config as that host sees it elsewhere (CI).

use std::path::Path;

use super::HostFacts;

/// A recorded facts file is small; a larger one is not facts.
const MAX_BYTES: u64 = 16 << 20;

/// The facts in `path`, or why they cannot be read (with line and column for bad JSON).
pub fn read(path: &Path) -> Result<HostFacts, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if metadata.len() > MAX_BYTES {
        return Err(format!(
            "{shown} is larger than {} MiB: not a facts file",
            MAX_BYTES >> 20
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{shown}:{}:{}: not the output of `driftless facts --format json`: {e}",
            e.line(),
            e.column()
        )
    })
}
