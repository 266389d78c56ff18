//! Host tags: the names of the files in `/etc/driftless/tags/` (`touch
//! /etc/driftless/tags/web` puts the host in every inventory group with `tag: web`). A tag is
//! the host's own say about its role, readable by facts (and so recorded with them).

use std::path::Path;

/// Where tag files live.
pub const TAGS_DIR: &str = "/etc/driftless/tags";

/// At most this many tags are read: a directory of more is not a list of tags.
const MAX_TAGS: usize = 1024;

/// The tags of the host, sorted; none when the directory is missing or unreadable. Hidden
/// files and names that are not plain tag names (letters, digits, `-`, `_`, `.`) are left out.
pub fn read() -> Vec<String> {
    read_dir(Path::new(TAGS_DIR))
}

fn read_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut tags: Vec<String> = entries
        .filter_map(Result::ok)
        .take(MAX_TAGS)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| {
            !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_the_plain_file_names_sorted() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["web", "db-primary", ".hidden", "with space"] {
            std::fs::write(dir.path().join(name), "").expect("tag file");
        }
        std::fs::create_dir(dir.path().join("subdir")).expect("dir");
        assert_eq!(super::read_dir(dir.path()), vec!["db-primary", "web"]);
        assert!(super::read_dir(&dir.path().join("missing")).is_empty());
    }
}
