//! `/proc/meminfo`: memory and swap sizes.

use std::io;

use super::procfs;

/// One `Key: value [kB]` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry<'a> {
    pub key: &'a str,
    pub value: u64,
    /// Whether the value is in KiB (`kB`), else a plain count.
    pub kib: bool,
}

impl Entry<'_> {
    /// The value in bytes when it is a size, else the count itself.
    pub fn bytes(&self) -> u64 {
        if self.kib {
            self.value.saturating_mul(1024)
        } else {
            self.value
        }
    }
}

/// Reads `/proc/meminfo` into `buf` (cleared first).
pub fn read_into(buf: &mut String) -> io::Result<()> {
    procfs::read_into("/proc/meminfo", buf)
}

/// The entries of a `/proc/meminfo` text, in order; malformed lines are skipped.
pub fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    text.lines().filter_map(|line| {
        let (key, rest) = line.split_once(':')?;
        let mut parts = rest.split_ascii_whitespace();
        let value = parts.next().and_then(procfs::parse_u64)?;
        Some(Entry {
            key: key.trim(),
            value,
            kib: parts.next() == Some("kB"),
        })
    })
}

/// The size of `key` in bytes; 0 when the text does not list it.
pub fn bytes_of(text: &str, key: &str) -> u64 {
    entries(text)
        .find(|e| e.key == key)
        .map_or(0, |e| e.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_in_bytes() {
        let text = "MemTotal:       16384 kB\nMemFree: 1 kB\nHugePages_Total:       2\nbad line\n";
        assert_eq!(bytes_of(text, "MemTotal"), 16384 * 1024);
        assert_eq!(bytes_of(text, "HugePages_Total"), 2);
        assert_eq!(bytes_of(text, "SwapTotal"), 0);
        assert_eq!(entries(text).count(), 3);
    }
}
