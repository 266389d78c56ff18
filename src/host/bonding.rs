//! Bonded network interfaces: each master of `/sys/class/net/bonding_masters`, its slaves and
//! how many of them have MII link up, as node_exporter's `bonding` collector reads them.

use std::io;
use std::path::Path;

use super::procfs;

pub const NET_CLASS: &str = "/sys/class/net";

/// One bonding master: (name, configured slaves, slaves with MII status `up`).
pub type Bond = (String, u32, u32);

/// The bonds under `root` (normally [`NET_CLASS`]); `NotFound` when the bonding driver is not
/// loaded.
pub fn bonds(root: &Path) -> io::Result<Vec<Bond>> {
    let masters = procfs::read(root.join("bonding_masters"))?;
    let mut out = Vec::new();
    for master in masters.split_ascii_whitespace() {
        let slaves = procfs::read(root.join(master).join("bonding/slaves"))?;
        let (mut configured, mut up) = (0, 0);
        for slave in slaves.split_ascii_whitespace() {
            // Older kernels name the link `slave_<name>`.
            let state = procfs::read(
                root.join(master)
                    .join(format!("lower_{slave}/bonding_slave/mii_status")),
            )
            .or_else(|_| {
                procfs::read(
                    root.join(master)
                        .join(format!("slave_{slave}/bonding_slave/mii_status")),
                )
            })?;
            configured += 1;
            if state.trim() == "up" {
                up += 1;
            }
        }
        out.push((master.to_owned(), configured, up));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_slaves_and_those_up() {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/host/sys/class/net"
        ));
        assert_eq!(
            bonds(root).ok(),
            Some(vec![("bond0".to_owned(), 2, 1), ("int".to_owned(), 1, 1)])
        );
        assert!(bonds(Path::new("/nonexistent")).is_err());
    }
}
