//! What a long-running driftless keeps resident once it has started.
//!
//! Start-up (parsing arguments, loading, templating and checking the config, gathering facts)
//! runs code that serving `/metrics` never runs again. The kernel maps a binary's code in
//! windows around each page touched (fault-around, 64 KiB), so start-up leaves about half of
//! the binary's code mapped in the process, counted in its RSS, though no part of it is used
//! again. [`release_startup_pages`] unmaps what is clean and read-only of the executable (its
//! code and read-only data: the same bytes as the file, in the page cache) and gives the
//! allocator's free memory back; the pages serving needs are mapped again from the page
//! cache at their next use (a minor fault, no read).

use std::io::BufRead;

/// One mapping of `/proc/self/smaps`: its range, permissions, path and anonymous size.
struct Mapping {
    start: usize,
    end: usize,
    perms: String,
    path: String,
    anonymous_kib: u64,
}

/// Unmaps the executable's clean read-only mappings and trims the heap; see the module doc.
/// Best effort: anything unexpected in `/proc/self/smaps` leaves every mapping as it is.
pub fn release_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Some(exe) = exe.to_str() else { return };
    let Some(mappings) = read_smaps() else { return };
    for m in mappings.iter().filter(|m| is_clean_code_or_rodata(m, exe)) {
        // SAFETY: the range is a whole mapping of the kernel's list, private, not writable and
        // without anonymous (copy-on-write) pages: each page is the file's bytes as mapped.
        // MADV_DONTNEED only drops the page-table entries; the next access maps the same bytes
        // from the file again, so no memory this process uses changes.
        unsafe {
            libc::madvise(
                m.start as *mut libc::c_void,
                m.end - m.start,
                libc::MADV_DONTNEED,
            );
        }
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How many malloc arenas a long-running process keeps: the main one and one more.
const MALLOC_ARENAS: libc::c_int = 2;

/// Caps glibc's malloc arenas at two; call before any thread starts. By default
/// glibc gives each thread that allocates while another holds the lock an arena of its own,
/// up to eight per core, and each arena keeps the pages of its fragments: an agent whose
/// cycles, scrapes, collectors and log pipeline run in a dozen threads kept ~14 arenas and
/// 2 MB more resident than with two (`bench/agent-soak`). Its threads rarely allocate at the
/// same moment, so two arenas cost no measurable time.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; it returns 0 when it refuses one.
    unsafe {
        if libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) == 0 {
            tracing::debug!("malloc refused M_ARENA_MAX");
        }
    }
}

/// Whether a mapping is the executable's, private, read-only (code or read-only data) and
/// holds no anonymous pages: the relocated read-only data (RELRO) was written at start-up,
/// holds anonymous pages and is never one.
fn is_clean_code_or_rodata(m: &Mapping, exe: &str) -> bool {
    m.path == exe
        && (m.perms == "r-xp" || m.perms == "r--p")
        && m.anonymous_kib == 0
        && m.end > m.start
}

fn read_smaps() -> Option<Vec<Mapping>> {
    let file = std::fs::File::open("/proc/self/smaps").ok()?;
    let mut mappings: Vec<Mapping> = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.ok()?;
        if let Some(m) = parse_mapping_head(&line) {
            mappings.push(m);
        } else if let Some(kib) = line.strip_prefix("Anonymous:") {
            let kib: u64 = kib.trim().trim_end_matches("kB").trim().parse().ok()?;
            mappings.last_mut()?.anonymous_kib = kib;
        }
    }
    Some(mappings)
}

/// `start-end perms offset dev inode path`; the `Anonymous:` size is filled in later with
/// `u64::MAX` until then, so a mapping whose size line is missing is never taken as clean.
fn parse_mapping_head(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    if perms.len() != 4 {
        return None;
    }
    let (_offset, _dev, _inode) = (fields.next()?, fields.next()?, fields.next()?);
    let path = fields.collect::<Vec<_>>().join(" ");
    Some(Mapping {
        start,
        end,
        perms: perms.to_owned(),
        path,
        anonymous_kib: u64::MAX,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_head_is_parsed_and_a_size_line_is_not() {
        let m = parse_mapping_head(
            "55db51e70000-55db529cc000 r-xp 00263000 fe:00 5449704    /usr/bin/driftless",
        )
        .unwrap();
        assert_eq!((m.start, m.end), (0x55db51e70000, 0x55db529cc000));
        assert_eq!(
            (m.perms.as_str(), m.path.as_str()),
            ("r-xp", "/usr/bin/driftless")
        );
        assert_eq!(m.anonymous_kib, u64::MAX);
        assert!(parse_mapping_head("Rss:                6128 kB").is_none());
        assert!(parse_mapping_head("Anonymous:             0 kB").is_none());
    }

    #[test]
    fn only_clean_read_only_mappings_of_the_executable_are_released() {
        let m = |perms: &str, path: &str, anonymous_kib| Mapping {
            start: 0x1000,
            end: 0x2000,
            perms: perms.to_owned(),
            path: path.to_owned(),
            anonymous_kib,
        };
        let exe = "/usr/bin/driftless";
        assert!(is_clean_code_or_rodata(&m("r-xp", exe, 0), exe));
        assert!(is_clean_code_or_rodata(&m("r--p", exe, 0), exe));
        // RELRO: read-only now, written by the loader before.
        assert!(!is_clean_code_or_rodata(&m("r--p", exe, 12), exe));
        assert!(!is_clean_code_or_rodata(&m("rw-p", exe, 0), exe));
        assert!(!is_clean_code_or_rodata(
            &m("r-xp", "/usr/lib/libc.so.6", 0),
            exe
        ));
        // The size line never came: not known to be clean.
        assert!(!is_clean_code_or_rodata(&m("r-xp", exe, u64::MAX), exe));
    }

    #[test]
    fn releasing_keeps_the_process_working() {
        release_startup_pages();
        // Code and read-only data are mapped again on use.
        let text = format!("{}", 6 * 7);
        assert_eq!(text, "42");
    }
}
