//! What is mounted where, as this process sees it: `/proc/self/mountinfo` (mount points
//! relative to the process's root, so a chroot sees its own), read-only.

use std::io;

use super::mounts::unescape_mount_field;
use super::procfs::read;

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Where it is mounted.
    pub mount_point: String,
    /// The directory of the file system mounted there (`/` but for bind mounts).
    pub root: String,
    /// The per-mount options (`rw,nosuid,relatime`).
    pub options: String,
    pub fstype: String,
    /// What was mounted (`/dev/sda1`, `tmpfs`, `server:/export`).
    pub source: String,
    /// The file system's own options (`size=16384k,mode=755`).
    pub super_options: String,
}

impl MountInfo {
    /// Whether the mount is read-only (its per-mount `ro`).
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

/// `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER_OPTIONS`.
fn parse_line(line: &str) -> Option<MountInfo> {
    let (before, after) = line.split_once(" - ")?;
    let mut fields = before.split(' ');
    let (_id, _parent, _device) = (fields.next()?, fields.next()?, fields.next()?);
    let root = fields.next()?;
    let mount_point = fields.next()?;
    let options = fields.next()?;
    let mut rest = after.split(' ');
    let fstype = rest.next()?;
    let source = rest.next()?;
    let super_options = rest.next().unwrap_or("");
    Some(MountInfo {
        mount_point: unescape_mount_field(mount_point),
        root: unescape_mount_field(root),
        options: options.to_owned(),
        fstype: unescape_mount_field(fstype),
        source: unescape_mount_field(source),
        super_options: super_options.to_owned(),
    })
}

/// The mounts this process sees, in mount order.
pub fn own() -> io::Result<Vec<MountInfo>> {
    Ok(parse(&read("/proc/self/mountinfo")?))
}

/// What is mounted at `path` now (the topmost of stacked mounts), if anything.
pub fn mounted_at(path: &str) -> io::Result<Option<MountInfo>> {
    Ok(own()?.into_iter().rfind(|m| m.mount_point == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_the_separator_and_unescaped() {
        let text = "36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    garbage\n";
        let mounts = parse(text);
        assert_eq!(mounts.len(), 2);
        assert_eq!(
            mounts[0],
            MountInfo {
                mount_point: "/mnt/my disk".to_owned(),
                root: "/mnt1".to_owned(),
                options: "rw,noatime".to_owned(),
                fstype: "ext3".to_owned(),
                source: "/dev/root".to_owned(),
                super_options: "rw,errors=continue".to_owned(),
            }
        );
        assert!(!mounts[1].read_only());
    }

    #[test]
    fn the_root_is_mounted() {
        let own = own().unwrap_or_else(|e| panic!("{e}"));
        assert!(own.iter().any(|m| m.mount_point == "/"));
    }
}
