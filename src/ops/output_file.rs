//! Files the user names for output: a plan (`plan -o FILE`), the metrics textfile.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// A file the user names for output is written only as a regular file or at a new path: the
/// atomic write renames over what is there, which would replace a device (`/dev/null`), a
/// FIFO or a symlink instead of writing into it.
pub fn check_output_file(path: &Path) -> Result<(), String> {
    let kind = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(metadata) => {
            let t = metadata.file_type();
            if t.is_symlink() {
                "a symbolic link"
            } else if t.is_dir() {
                "a directory"
            } else if t.is_fifo() {
                "a FIFO"
            } else if t.is_socket() {
                "a socket"
            } else {
                "a device"
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
    };
    Err(format!(
        "{} is {kind}; driftless writes output only to a regular file or a new path (to \
         send the output elsewhere, write it to stdout and redirect it)",
        path.display()
    ))
}
