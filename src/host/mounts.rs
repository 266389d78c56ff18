//! Mounted filesystems: the mount table from `/proc/<pid>/mounts`, and `statfs(2)` of a mount
//! point.

use std::io;

use super::procfs::read;

/// Filesystem types whose `statfs` may hang on a dead server.
pub const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "9p",
    "afs",
];

/// Undoes the octal escapes the kernel writes in `/proc/*/mounts` fields (`\040` for a space).
pub fn unescape_mount_field(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/<pid>/mounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// The host's mount table: `/proc/1/mounts` as node_exporter reads it (the host's view when
/// driftless runs in a container with the host's `/proc`), else `/proc/self/mounts`.
pub fn host_mounts() -> io::Result<Vec<Mount>> {
    let text = read("/proc/1/mounts").or_else(|_| read("/proc/self/mounts"))?;
    Ok(parse_mounts(&text))
}

/// The mounts this process sees (`/proc/self/mounts`): where its paths lead.
pub fn own_mounts() -> io::Result<Vec<Mount>> {
    Ok(parse_mounts(&read("/proc/self/mounts")?))
}

pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let mountpoint = fields.next()?;
            let fstype = fields.next()?;
            let options = fields.next().unwrap_or("");
            Some(Mount {
                device: unescape_mount_field(device),
                mountpoint: unescape_mount_field(mountpoint),
                fstype: fstype.to_owned(),
                options: options.to_owned(),
            })
        })
        .collect()
}

/// What `statfs(2)` says about a mounted filesystem, in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    pub size_bytes: f64,
    pub free_bytes: f64,
    pub avail_bytes: f64,
    pub files: f64,
    pub files_free: f64,
}

/// `statfs(2)` of a mount point. Sizes use `f_bsize`, as node_exporter does.
pub fn statfs(path: &str) -> io::Result<FsStats> {
    let c_path = std::ffi::CString::new(path)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c_path is a valid NUL-terminated string and buf points to writable memory of the
    // right size; statfs fills it on success.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs returned 0, so buf was initialised.
    let st = unsafe { buf.assume_init() };
    let bsize = st.f_bsize as f64;
    Ok(FsStats {
        size_bytes: st.f_blocks as f64 * bsize,
        free_bytes: st.f_bfree as f64 * bsize,
        avail_bytes: st.f_bavail as f64 * bsize,
        files: st.f_files as f64,
        files_free: st.f_ffree as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_fields_are_unescaped() {
        let m = parse_mounts("/dev/sda1 /mnt/my\\040disk ext4 rw,relatime 0 0\n");
        assert_eq!(m[0].mountpoint, "/mnt/my disk");
        assert_eq!(unescape_mount_field("a\\134b"), "a\\b");
        assert_eq!(unescape_mount_field("trailing\\"), "trailing\\");
    }

    #[test]
    fn the_root_is_mounted() {
        let own = own_mounts().unwrap_or_else(|e| panic!("{e}"));
        assert!(own.iter().any(|m| m.mountpoint == "/"));
        assert!(statfs("/").is_ok_and(|s| s.size_bytes > 0.0));
    }
}
