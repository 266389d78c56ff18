//! Reading archives — tar, tar.gz, tar.xz (pure-Rust decoders) and zip (deflate) — as a
//! sequence of entries, each name checked: an entry whose path leaves `dest` (`..`, an
//! absolute path), a link pointing out of it, or a path under a symbolic link the archive
//! made is refused, and so is the whole archive with it.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek};

/// The most entries an archive may have.
pub const MAX_ENTRIES: usize = 200_000;
/// The most bytes all of an archive's files may hold once extracted: 16 GiB.
pub const MAX_TOTAL_BYTES: u64 = 16 << 30;

/// The most memory an xz stream's dictionary may ask for (256 MiB; `xz -9` needs 64 MiB).
const XZ_MEMORY_KIB: u32 = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar,
    TarGz,
    TarXz,
    Zip,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarXz => "tar.xz",
            Format::Zip => "zip",
        }
    }
}

/// The format, by the file's first bytes (not its name).
pub fn detect(file: &mut File) -> io::Result<Format> {
    let mut head = [0u8; 512];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    file.rewind()?;
    let head = &head[..read];
    let format = if head.starts_with(&[0x1f, 0x8b]) {
        Format::TarGz
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Format::TarXz
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Format::Tar
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a tar, tar.gz, tar.xz or zip archive",
        ));
    };
    Ok(format)
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    /// A symbolic link to this target (as written, relative).
    Symlink(String),
    /// A hard link to an earlier entry, by its path below `dest`.
    HardLink(String),
}

/// One entry, its path below `dest` (components joined by `/`, `strip_components` applied).
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// Permission bits from the archive (setuid and setgid dropped).
    pub mode: u32,
}

/// How entry names become paths below `dest`.
pub struct Naming<'a> {
    pub strip_components: usize,
    pub exclude: &'a [String],
}

/// The components of an entry's name, or why it leaves `dest`: an absolute path, or a `..`.
fn components(raw: &[u8]) -> Result<Vec<String>, String> {
    let name = std::str::from_utf8(raw).map_err(|_| {
        format!(
            "entry `{}` has a name that is not UTF-8",
            String::from_utf8_lossy(raw)
        )
    })?;
    if name.starts_with('/') {
        return Err(format!("entry `{name}` has an absolute path"));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("entry `{name}` leaves the destination (`..`)")),
            other if other.contains('\0') => return Err(format!("entry `{name}` has a NUL")),
            other => parts.push(other.to_owned()),
        }
    }
    Ok(parts)
}

/// Whether `pattern` (`*` any run of characters, `?` one) matches all of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The checks every entry passes before anything is planned: where it lands, where its link
/// points, and that no earlier entry made a symbolic link on its way.
struct Checker<'a> {
    naming: &'a Naming<'a>,
    links: HashSet<String>,
    files: HashSet<String>,
    entries: usize,
    total: u64,
}

impl Checker<'_> {
    /// The entry's path below `dest`, `None` when stripped away or excluded.
    fn place(&mut self, raw: &[u8]) -> Result<Option<String>, String> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(format!("the archive has more than {MAX_ENTRIES} entries"));
        }
        let parts = components(raw)?;
        let Some(kept) = parts
            .get(self.naming.strip_components..)
            .filter(|k| !k.is_empty())
        else {
            return Ok(None);
        };
        let path = kept.join("/");
        // An excluded directory excludes what is in it.
        let excluded = (1..=kept.len()).any(|n| {
            let prefix = kept[..n].join("/");
            self.naming.exclude.iter().any(|p| matches(p, &prefix))
        });
        if excluded {
            return Ok(None);
        }
        for n in 1..kept.len() {
            let above = kept[..n].join("/");
            if self.links.contains(&above) {
                return Err(format!(
                    "entry `{path}` is under `{above}`, a symbolic link the archive makes"
                ));
            }
        }
        Ok(Some(path))
    }

    /// A symbolic link's target must stay below `dest`, read from the link's directory.
    fn symlink(&mut self, path: &str, target: &[u8]) -> Result<String, String> {
        let target = std::str::from_utf8(target)
            .map_err(|_| format!("the link `{path}` has a target that is not UTF-8"))?;
        if target.starts_with('/') {
            return Err(format!(
                "the link `{path}` points to an absolute path, `{target}`"
            ));
        }
        if target.is_empty() || target.contains('\0') {
            return Err(format!("the link `{path}` has an empty target"));
        }
        let mut depth = path.matches('/').count() as i64;
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => depth -= 1,
                _ => depth += 1,
            }
            if depth < 0 {
                return Err(format!(
                    "the link `{path}` points out of the destination, to `{target}`"
                ));
            }
        }
        self.links.insert(path.to_owned());
        Ok(target.to_owned())
    }

    /// A hard link's source must be a file the archive extracted before it.
    fn hard_link(&mut self, path: &str, source: &[u8]) -> Result<Option<String>, String> {
        let source_text = String::from_utf8_lossy(source).into_owned();
        let parts = components(source).map_err(|_| {
            format!("the hard link `{path}` points out of the destination, to `{source_text}`")
        })?;
        let Some(kept) = parts
            .get(self.naming.strip_components..)
            .filter(|k| !k.is_empty())
        else {
            return Err(format!(
                "the hard link `{path}` points to `{source_text}`, which is stripped"
            ));
        };
        let source = kept.join("/");
        if !self.files.contains(&source) {
            return Err(format!(
                "the hard link `{path}` points to `{source_text}`, which is not a file extracted before it"
            ));
        }
        Ok(Some(source))
    }

    fn count(&mut self, size: u64) -> Result<(), String> {
        self.total = self.total.saturating_add(size);
        if self.total > MAX_TOTAL_BYTES {
            return Err(format!(
                "the archive's files hold more than {} GiB",
                MAX_TOTAL_BYTES >> 30
            ));
        }
        Ok(())
    }
}

/// Calls `each` with every entry that is kept (checked) and a reader of its content (empty
/// but for files), in archive order. The first refused entry ends the walk with its reason.
pub fn entries(
    file: File,
    format: Format,
    naming: &Naming<'_>,
    each: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), String>,
) -> Result<(), String> {
    let mut checker = Checker {
        naming,
        links: HashSet::new(),
        files: HashSet::new(),
        entries: 0,
        total: 0,
    };
    match format {
        Format::Tar => tar_entries(file, &mut checker, each),
        Format::TarGz => tar_entries(flate2::read::MultiGzDecoder::new(file), &mut checker, each),
        Format::TarXz => tar_entries(
            lzma_rust2::XzReader::new_mem_limit(io::BufReader::new(file), true, XZ_MEMORY_KIB),
            &mut checker,
            each,
        ),
        Format::Zip => zip_entries(file, &mut checker, each),
    }
}

fn unreadable(e: impl std::fmt::Display) -> String {
    format!("unreadable archive: {e}")
}

fn tar_entries(
    reader: impl Read,
    checker: &mut Checker<'_>,
    each: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), String>,
) -> Result<(), String> {
    use tar::EntryType as T;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let header = entry.header();
        let entry_type = header.entry_type();
        if matches!(
            entry_type,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            continue;
        }
        let mode = header.mode().map_err(unreadable)? & 0o1777;
        let raw = entry.path_bytes().into_owned();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        let Some(path) = checker.place(&raw)? else {
            continue;
        };
        let kind = match entry_type {
            T::Regular | T::Continuous | T::GNUSparse => {
                checker.count(entry.size())?;
                checker.files.insert(path.clone());
                Kind::File
            }
            T::Directory => Kind::Directory,
            T::Symlink => {
                Kind::Symlink(checker.symlink(&path, link.as_deref().unwrap_or_default())?)
            }
            T::Link => match checker.hard_link(&path, link.as_deref().unwrap_or_default())? {
                Some(source) => {
                    checker.files.insert(path.clone());
                    Kind::HardLink(source)
                }
                None => continue,
            },
            other => {
                return Err(format!(
                    "entry `{path}` is a special file ({other:?}): only files, directories and links are extracted"
                ));
            }
        };
        if !matches!(kind, Kind::File | Kind::HardLink(_)) {
            checker.files.remove(&path);
        }
        if !matches!(kind, Kind::Symlink(_)) {
            checker.links.remove(&path);
        }
        each(&Entry { path, kind, mode }, &mut entry)?;
    }
    Ok(())
}

fn zip_entries(
    file: File,
    checker: &mut Checker<'_>,
    each: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), String>,
) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(unreadable)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(unreadable)?;
        let raw = entry.name_raw().to_vec();
        let unix = entry.unix_mode();
        let Some(path) = checker.place(&raw)? else {
            continue;
        };
        let kind = if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry)
                .take(4096)
                .read_to_end(&mut target)
                .map_err(unreadable)?;
            Kind::Symlink(checker.symlink(&path, &target)?)
        } else if entry.is_dir() {
            Kind::Directory
        } else {
            checker.count(entry.size())?;
            checker.files.insert(path.clone());
            Kind::File
        };
        if kind != Kind::File {
            checker.files.remove(&path);
        }
        if !matches!(kind, Kind::Symlink(_)) {
            checker.links.remove(&path);
        }
        let default = if kind == Kind::Directory {
            0o755
        } else {
            0o644
        };
        let mode = unix.map_or(default, |m| m & 0o1777);
        each(&Entry { path, kind, mode }, &mut entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_destination_are_refused() {
        assert_eq!(
            components(b"./a//b/").ok(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(components(b"../x").is_err());
        assert!(components(b"a/../../x").is_err());
        assert!(components(b"/etc/passwd").is_err());
    }

    #[test]
    fn links_out_of_the_destination_are_refused() {
        let naming = Naming {
            strip_components: 0,
            exclude: &[],
        };
        let mut checker = Checker {
            naming: &naming,
            links: HashSet::new(),
            files: HashSet::new(),
            entries: 0,
            total: 0,
        };
        assert!(checker.symlink("a/l", b"../b").is_ok());
        assert!(checker.symlink("a/l", b"../../b").is_err());
        assert!(checker.symlink("l", b"/etc").is_err());
        assert!(checker.symlink("l", b"x/../..").is_err());
        assert!(checker.place(b"a/l/f").is_err());
    }

    #[test]
    fn patterns_match_like_fnmatch() {
        assert!(matches("*.txt", "a/b.txt"));
        assert!(matches("docs", "docs"));
        assert!(matches("d?cs", "docs"));
        assert!(!matches("*.txt", "a.md"));
    }
}
