//! Processes: the pids under `/proc`, and what `/proc/<pid>/stat`, `/proc/<pid>/cmdline` and
//! `/proc/self/fd` say of them.

use std::io;

use super::procfs;

/// The fields of `/proc/<pid>/stat` driftless uses.
#[derive(Debug, PartialEq)]
pub struct ProcStat<'a> {
    /// The command name, which may itself hold spaces and parentheses.
    pub comm: &'a str,
    pub ppid: u64,
    /// CPU time in clock ticks ([`procfs::clock_ticks`]).
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

/// Parses a `/proc/<pid>/stat` line; `None` when a field is missing or not a number.
pub fn parse_stat(text: &str) -> Option<ProcStat<'_>> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?;
    // Fields after the comm, starting with field 3 (state).
    let rest: Vec<&str> = text.get(close + 1..)?.split_ascii_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|v| procfs::parse_u64(v));
    Some(ProcStat {
        comm,
        ppid: field(4)?,
        utime: field(14)?,
        stime: field(15)?,
        num_threads: field(20)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

/// The pids of the processes alive now; one may exit before it is read, so readers of its
/// files skip it on error.
pub fn pids() -> io::Result<impl Iterator<Item = u32>> {
    Ok(std::fs::read_dir("/proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok()))
}

/// Reads `/proc/<pid>/stat` into `buf` (cleared first).
pub fn read_stat(pid: u32, buf: &mut String) -> io::Result<()> {
    procfs::read_into(format!("/proc/{pid}/stat"), buf)
}

/// Reads this process's own `/proc/self/stat` into `buf` (cleared first).
pub fn read_own_stat(buf: &mut String) -> io::Result<()> {
    procfs::read_into("/proc/self/stat", buf)
}

/// The raw command line: arguments separated by NUL bytes; empty for kernel threads.
pub fn cmdline(pid: u32) -> io::Result<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
}

/// How many file descriptors this process has open.
pub fn own_open_fds() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_comm() {
        let text = "42 (my (odd) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 123456 789 18446744073709551615";
        let s = parse_stat(text).unwrap_or_else(|| panic!("unparsed"));
        assert_eq!(s.comm, "my (odd) proc");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.utime, 250);
        assert_eq!(s.stime, 50);
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.vsize, 123456);
        assert_eq!(s.rss_pages, 789);
        assert_eq!(parse_stat("42 (short) S 1 2 3"), None);
    }

    #[test]
    fn this_process_is_listed_and_read() {
        let me = std::process::id();
        assert!(pids().is_ok_and(|mut p| p.any(|pid| pid == me)));
        let mut buf = String::new();
        read_own_stat(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        let own = parse_stat(&buf).unwrap_or_else(|| panic!("unparsed: {buf}"));
        assert!(own.num_threads >= 1);
        assert!(own_open_fds().is_ok_and(|n| n >= 3));
    }
}
