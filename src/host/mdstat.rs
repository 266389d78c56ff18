//! Linux software RAID (md) arrays as `/proc/mdstat` shows them, read the way node_exporter's
//! procfs library reads them: the device line, the status line (`[total/active] [UU_]`), and
//! a recovery/resync/check line when one runs.

pub const MDSTAT: &str = "/proc/mdstat";

/// One md array.
#[derive(Debug, Clone, PartialEq)]
pub struct MdDevice<'a> {
    pub name: &'a str,
    /// `active`, `inactive`, or while syncing `recovering`, `resyncing`, `checking`.
    pub state: &'a str,
    pub disks_active: u64,
    pub disks_total: u64,
    pub disks_failed: u64,
    pub disks_spare: u64,
    pub blocks: u64,
    pub blocks_synced: u64,
}

/// Parses `/proc/mdstat`.
pub fn parse(text: &str) -> Result<Vec<MdDevice<'_>>, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut devices = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with('\t')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 3 {
            return Err(format!(
                "not enough fields in md line (expected at least 3): {line}"
            ));
        }
        let name = fields[0];
        if lines.len() <= i + 3 {
            return Err(format!("too few lines for md device {name}"));
        }
        let status = lines[i + 1];
        let blocks: u64 = status
            .split_ascii_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unexpected status line {status:?} of {name}"))?;
        let (disks_total, disks_active) = if line.contains("raid0") || line.contains("linear") {
            // Only member disks carry a `[n]` on the device line.
            let n = line.matches('[').count() as u64;
            (n, n)
        } else if line.contains("inactive") {
            (0, 0)
        } else {
            status_counts(status)
                .ok_or_else(|| format!("unexpected status line {status:?} of {name}"))?
        };
        let mut sync_line = lines[i + 2];
        if sync_line.contains("bitmap") {
            sync_line = lines[i + 3];
        }
        let mut state = fields[2];
        let mut blocks_synced = blocks;
        let recovering = sync_line.contains("recovery");
        let resyncing = sync_line.contains("resync");
        let checking = sync_line.contains("check");
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            };
            blocks_synced = if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                0
            } else {
                synced_blocks(sync_line)
                    .ok_or_else(|| format!("unexpected sync line {sync_line:?} of {name}"))?
            };
        }
        devices.push(MdDevice {
            name,
            state,
            disks_active,
            disks_total,
            disks_failed: line.matches("(F)").count() as u64,
            disks_spare: line.matches("(S)").count() as u64,
            blocks,
            blocks_synced,
        });
    }
    Ok(devices)
}

/// `(total, active)` from a status line's `[total/active] [UU_]`.
fn status_counts(status: &str) -> Option<(u64, u64)> {
    let after_blocks = &status[status.find(" blocks ")?..];
    let mut rest = after_blocks;
    while let Some(open) = rest.find('[') {
        let inner = &rest[open + 1..];
        let close = inner.find(']')?;
        if let Some((total, active)) = inner[..close].split_once('/')
            && let (Ok(total), Ok(active)) = (total.parse(), active.parse())
            && inner[close + 1..].trim_start().starts_with('[')
        {
            return Some((total, active));
        }
        rest = &inner[close + 1..];
    }
    None
}

/// The synced blocks of a recovery line: the `n` of `(n/total)`.
fn synced_blocks(line: &str) -> Option<u64> {
    let open = line.find('(')?;
    let inner = &line[open + 1..];
    let (synced, rest) = inner.split_once('/')?;
    rest.find(')')?;
    synced.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_their_sync_state() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/mdstat"
        ))
        .unwrap_or_default();
        let devices = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = devices.iter().map(|d| d.name).collect();
        assert_eq!(names, ["md3", "md127", "md0", "md4", "md6"]);
        assert_eq!(
            devices[0],
            MdDevice {
                name: "md3",
                state: "active",
                disks_active: 8,
                disks_total: 8,
                disks_failed: 0,
                disks_spare: 2,
                blocks: 5853468288,
                blocks_synced: 5853468288,
            }
        );
        assert_eq!(devices[1].state, "active");
        assert_eq!((devices[1].disks_total, devices[1].disks_active), (2, 2));
        assert_eq!(devices[2].state, "recovering");
        assert_eq!(devices[2].blocks_synced, 12800);
        assert_eq!(devices[3].disks_failed, 1);
        assert_eq!(devices[3].state, "inactive");
        assert_eq!(devices[4].state, "resyncing");
        assert_eq!(devices[4].blocks_synced, 0);
        assert!(parse("md9 : active\n").is_err());
    }
}
