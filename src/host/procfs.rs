//! Small, allocation-light readers for `/proc` and `/sys` files, and the numbers in them.
//!
//! node_exporter reads these files directly, and so does driftless: a scrape is a handful of
//! `read(2)` calls and a little parsing, far cheaper than a general system-information layer
//! that refreshes more than one metric needs.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::OnceLock;

/// Reads a whole file into `buf` (cleared first), reusing its allocation.
pub fn read_into(path: impl AsRef<Path>, buf: &mut String) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_string(buf)?;
    Ok(())
}

/// A directory held open so that its files are opened by name relative to it (`openat(2)`):
/// the kernel then walks one path component per file instead of the whole path, which is
/// most of the cost of reading a small sysfs attribute through `/sys/class/net/<iface>`.
pub struct Dir(std::os::fd::OwnedFd);

impl Dir {
    pub fn open(path: &str) -> io::Result<Dir> {
        let c_path = std::ffi::CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        // SAFETY: c_path is a valid NUL-terminated string; the result is checked below.
        let fd = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly opened descriptor that nothing else owns.
        Ok(Dir(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }))
    }

    /// Reads the file `name` of this directory into `buf` (cleared first).
    pub fn read_into(&self, name: &std::ffi::CStr, buf: &mut String) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        buf.clear();
        // SAFETY: the directory fd is open for the life of self and name is NUL-terminated;
        // the result is checked below.
        let fd = unsafe {
            libc::openat(
                self.0.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly opened descriptor that nothing else owns.
        let mut file = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        file.read_to_string(buf)?;
        Ok(())
    }
}

/// Reads a whole small file.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    let mut buf = String::new();
    read_into(path, &mut buf)?;
    Ok(buf)
}

/// A file's content without surrounding whitespace, or `None` when it cannot be read.
pub fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    read(path).ok().map(|s| s.trim().to_owned())
}

/// A file holding one number (decimal, or hex with `0x`).
pub fn read_number(path: impl AsRef<Path>) -> Option<f64> {
    let text = read(path).ok()?;
    parse_number(text.trim())
}

pub fn parse_number(s: &str) -> Option<f64> {
    if let Some(hex) = s.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(v as f64);
    }
    s.parse::<f64>().ok()
}

/// Parses an unsigned decimal quickly; `None` on anything else.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Clock ticks per second (`USER_HZ`), the unit of `/proc/stat` and `/proc/<pid>/stat` times.
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 { ticks as f64 } else { 100.0 }
    })
}

/// The page size in bytes.
pub fn page_size() -> f64 {
    static PAGE: OnceLock<f64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 { page as f64 } else { 4096.0 }
    })
}

/// Seconds since the Unix epoch, as a float.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse() {
        assert_eq!(parse_u64("12345"), Some(12345));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_number("0x1003"), Some(4099.0));
        assert_eq!(parse_number("-1"), Some(-1.0));
    }
}
