//! Reading a file that holds secrets: it must be a regular file that neither group nor others
//! may read (secrets belong to the user running driftless), within a size bound, UTF-8.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::SecretError;

/// The file's text; `Ok(None)` when it does not exist. `what` names it in messages ("the env
/// file", "the secret file of `db`").
pub fn read(path: &Path, what: &str, max_size: u64) -> Result<Option<String>, SecretError> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read {what} {shown}: {e}");
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    if !metadata.is_file() {
        return Err(format!("{what} {shown} is not a regular file"));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        return Err(format!(
            "{what} {shown} is readable by group or others (mode {mode:04o}); run `chmod 600 \
             {shown}`"
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max_size + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > max_size {
        return Err(format!(
            "{what} {shown} is larger than {} KiB, the limit",
            max_size / 1024
        ));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        format!(
            "{what} {shown} is not UTF-8 text (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}
