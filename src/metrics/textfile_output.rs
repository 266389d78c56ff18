//! Push instead of scrape: write the metrics into a directory that node_exporter's textfile
//! collector reads, atomically (a temporary file in the same directory, fsync, rename), so the
//! reader never sees half a file.

use std::io;
use std::path::{Path, PathBuf};

/// The file `driftless facts --textfile DIR` writes in DIR.
pub const FILE_NAME: &str = "driftless.prom";

/// Writes `text` to `dir/name` atomically. The temporary file starts with `.` and does not end
/// in `.prom`, so the textfile collector never reads it.
pub fn write_atomically(dir: &Path, name: &str, text: &str) -> io::Result<PathBuf> {
    let target = dir.join(name);
    crate::fsutil::write_atomic(&target, text.as_bytes(), 0o644, (None, None))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write_atomically(dir.path(), "driftless.prom", "a 1\n")
            .unwrap_or_else(|e| panic!("{e}"));
        write_atomically(dir.path(), "driftless.prom", "a 2\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read_to_string(&path).unwrap_or_default(), "a 2\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }
}
