//! `validate` and `backup` of the file-writing types (`file` with content, `copy`, `template`,
//! `lineinfile`, `blockinfile`): what happens around the atomic write when a file's content is
//! replaced. Both are recorded in the node's `after` (what the reviewer sees is what runs) and
//! act only when the content is written, never on a no-op or an attribute change.
//!
//! - `validate`: the new content is written to a private temporary file (a fresh `0700`
//!   directory in the temp dir, the file `0600`), the command runs with `%s` replaced by its
//!   path (an argument vector split like a `command`'s `cmd`, never a shell, through
//!   [`crate::process`]), and only an exit code of 0 lets the write go on. Otherwise the old
//!   file is untouched and the node fails with the command's output.
//! - `backup`: right before the new content replaces an existing regular file, the old inode
//!   is hard-linked under `<name>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` in the same directory — the
//!   name Ansible gives backups (in UTC here). The write replaces the name with a new inode,
//!   so the backup keeps the old content, mode and owner without a copy.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::time::Duration;

use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::model::Spanned;

use super::super::fs_state::{EntryKind, FsState};

/// What stands for the temporary file in a `validate` command.
pub const PLACEHOLDER: &str = "%s";

/// How long a `validate` command may run.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(300);

/// A file-writing task's `validate` and `backup`.
#[derive(Default)]
pub struct WriteChecks<'a> {
    pub validate: Option<&'a Spanned<String>>,
    pub backup: bool,
}

/// `validate` split into words, with `%s` in one of them.
pub fn argv(text: &str) -> Result<Vec<String>, String> {
    let words = crate::apply::commands::words::split(text)?;
    if words.is_empty() {
        return Err("it is empty".to_owned());
    }
    if !words.iter().any(|w| w.contains(PLACEHOLDER)) {
        return Err(format!(
            "it has no `{PLACEHOLDER}`: the command must be told the file to check"
        ));
    }
    Ok(words)
}

/// The check-time rule: `validate` splits into words and names the file with `%s`.
pub fn check(checks: &WriteChecks<'_>, found: &mut Vec<Diagnostic>) {
    let Some(validate) = checks.validate else {
        return;
    };
    if let Err(why) = argv(&validate.value) {
        found.push(
            Diagnostic::error(format!("`validate` is not a command to run: {why}"))
                .at(validate.span)
                .help("write the command with `%s` where the new file goes, e.g. `validate: sshd -t -f %s` or `visudo -cf %s`"),
        );
    }
}

/// Records the checks in the wanted state of a regular file.
pub fn record(checks: &WriteChecks<'_>, want: &mut FsState) -> Result<(), String> {
    if want.state != EntryKind::File {
        return Ok(());
    }
    if let Some(validate) = checks.validate {
        want.validate = Some(
            argv(&validate.value)
                .map_err(|e| format!("`validate`: {e}"))?
                .into(),
        );
    }
    want.backup = checks.backup;
    Ok(())
}

/// Runs the `validate` command on `content`; an error (with the command's output) when it
/// does not exit 0.
pub fn validate(argv: &[String], content: &[u8], path: &str) -> Result<(), ResourceError> {
    let fail = |what: &str, e: std::io::Error| {
        ResourceError::io(format_args!("cannot {what} to validate {path}"), &e)
    };
    let dir = std::env::temp_dir().join(format!(
        "driftless-validate-{}",
        crate::fsutil::random_hex(8).map_err(|e| fail("make a temporary name", e))?
    ));
    // A new directory of our own: `mkdir` fails on anything already there, link or not.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail("create a temporary directory", e))?;
    let file = dir.join("content");
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(content))
        .map_err(|e| fail("write the content", e))
        .and_then(|()| run_validate(argv, &file.to_string_lossy(), path));
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    result
}

fn run_validate(argv: &[String], temp: &str, path: &str) -> Result<(), ResourceError> {
    let words: Vec<String> = argv.iter().map(|w| w.replace(PLACEHOLDER, temp)).collect();
    let invocation = crate::process::Invocation::new(&words).timeout(VALIDATE_TIMEOUT);
    let finished = crate::process::run(&invocation)?;
    if finished.success() {
        return Ok(());
    }
    let how = if finished.timed_out {
        format!("did not finish in {}s", VALIDATE_TIMEOUT.as_secs())
    } else {
        format!("exited with {}", finished.rc)
    };
    let said = match finished.complaint() {
        complaint if complaint.is_empty() => String::new(),
        complaint => format!(": {complaint}"),
    };
    let mut error = ResourceError::permanent(format!(
        "validate `{}` {how}{said}; {path} was not changed",
        crate::printable::escape(&argv.join(" ")),
    ));
    error.output = Some(Box::new(finished.output()));
    Err(error)
}

/// Keeps the file `name` in `dir` (the file at `path`) under its backup name.
pub fn backup(dir: BorrowedFd<'_>, name: &std::ffi::CStr, path: &str) -> Result<(), ResourceError> {
    let base = name.to_string_lossy();
    let time = ansible_time(&crate::clock::now());
    let pid = std::process::id();
    // Two edits of one file in the same second (a chain of `lineinfile`s) get `.1`, `.2` ….
    for attempt in 0..100u32 {
        let backup_name = backup_name(&base, pid, &time, attempt);
        let backup = CString::new(backup_name.as_bytes())
            .map_err(|_| ResourceError::permanent(format!("{path}: a name with a NUL byte")))?;
        // Flags 0: the entry itself, never a link's target (the path is a regular file the
        // precondition just checked).
        // SAFETY: both names are NUL-terminated and `dir` is an open directory.
        let rc = unsafe {
            libc::linkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                dir.as_raw_fd(),
                backup.as_ptr(),
                0,
            )
        };
        if rc == 0 {
            tracing::info!(path, backup = %backup_name, "kept a backup");
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(ResourceError::io(
                format_args!("cannot keep a backup of {path}"),
                &e,
            ));
        }
    }
    Err(ResourceError::permanent(format!(
        "cannot keep a backup of {path}: 100 backups made this second already"
    )))
}

/// `motd.1234.2026-12-06@15:59:10~`, then `motd.1234.2026-12-06@15:59:10.1~` ….
fn backup_name(base: &str, pid: u32, time: &str, attempt: u32) -> String {
    match attempt {
        0 => format!("{base}.{pid}.{time}~"),
        n => format!("{base}.{pid}.{time}.{n}~"),
    }
}

/// `2026-12-06T15:59:10Z` as Ansible's backup suffix spells a time: `2026-12-06@15:59:10`.
fn ansible_time(rfc3339: &str) -> String {
    rfc3339.trim_end_matches('Z').replacen('T', "@", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_follow_ansible() {
        let time = ansible_time("2026-12-06T15:59:10Z");
        assert_eq!(
            backup_name("motd", 42, &time, 0),
            "motd.42.2026-12-06@15:59:10~"
        );
        assert_eq!(
            backup_name("motd", 42, &time, 2),
            "motd.42.2026-12-06@15:59:10.2~"
        );
    }

    #[test]
    fn validate_needs_the_placeholder_and_words() {
        assert_eq!(argv("sshd -t -f %s").unwrap(), ["sshd", "-t", "-f", "%s"]);
        assert_eq!(argv("check --file=%s").unwrap(), ["check", "--file=%s"]);
        assert!(argv("sshd -t").is_err());
        assert!(argv("").is_err());
        assert!(argv("sh -c 'unclosed %s").is_err());
    }
}
