//! The `file` output: records appended to a local file, one per line, each batch synced to
//! disk before it is acknowledged (at least once: a batch cut short by a crash is written
//! again whole, after what was cut).
//!
//! - A partial last line (a crash in the middle of a batch) never corrupts the next one: a
//!   file that does not end with a line break gets one before the next batch.
//! - Time fields in the file name (`app-%Y-%m-%d.log`, UTC, from the batch's time) start a
//!   new file when the name they make changes.
//! - `rotate.max_bytes`: a file that the next batch would grow past the bound is renamed
//!   `<name>.1` first (`.1` → `.2` …, as logrotate numbers them). A batch larger than the
//!   bound still goes whole into a fresh file: records are never split.
//! - `rotate.keep`: the newest rotated files are kept (numbered ones, and with time fields
//!   the files of earlier names), older ones removed; `rotate.gzip` compresses each rotated
//!   file (`<name>.1.gz`, written aside, synced and renamed in). The file being written is
//!   never compressed, so it can be tailed and a crash cuts at most one line.
//!
//! Failures to write (a full disk, a permission) are transient: the stream waits until the
//! file can be written, and the source's positions stay where they are; nothing is dropped.
//! Housekeeping failures (a rotated file that cannot be compressed or removed) are logged and
//! do not stop the stream.

use std::cmp::Reverse;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, IoSlice, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::GzEncoder;
use regex::Regex;

use crate::error::ResourceError;
use crate::fsutil::sync_parent;
use crate::model::logs::{DEFAULT_ROTATED_KEPT, FileLogOutput as FileLogOutputConfig};
use crate::sinks::{Batch, SendError, Sink, name_matcher};

/// The mode of a new file when the config names none: logs may hold what only
/// administrators should read.
pub const DEFAULT_MODE: u32 = 0o640;

/// A file output, as a sink.
pub struct FileLogOutput {
    /// The directory of the files (made, 0755, when missing).
    dir: PathBuf,
    /// The file name pattern, `{host}` replaced.
    name: String,
    mode: u32,
    rotation: Option<Rotation>,
    /// The names of this output's files, current and rotated: only those are compressed or
    /// removed, anything else in the directory is the operator's.
    written: Regex,
    shown: String,
    state: Mutex<State>,
}

struct Rotation {
    max_bytes: Option<u64>,
    keep: usize,
    gzip: bool,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// Whether rotated files an earlier process left were tidied (compressed, pruned).
    tidied: bool,
}

/// The file being appended to.
struct Current {
    path: PathBuf,
    file: File,
    size: u64,
    /// Whether the file ends with a line break (or is empty): else the next batch starts
    /// with one.
    at_line_start: bool,
}

impl FileLogOutput {
    pub fn new(config: &FileLogOutputConfig, host: &str) -> Result<FileLogOutput, ResourceError> {
        let invalid = |why: String| ResourceError::permanent(format!("`path`: {why}"));
        let path = Path::new(&config.path);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(invalid(format!("`{}` names no file", config.path)));
        };
        let name = name
            .to_str()
            .ok_or_else(|| invalid("the file name is not UTF-8".to_owned()))?;
        let matcher = name_matcher(name, host).map_err(invalid)?;
        let written = Regex::new(&format!(
            "{}(\\.[0-9]+)?(\\.gz)?$",
            matcher.as_str().trim_end_matches('$')
        ))
        .map_err(|e| invalid(e.to_string()))?;
        let rotation = config.rotate.as_ref().map(|r| Rotation {
            max_bytes: r.max_bytes,
            keep: usize::try_from(r.keep.unwrap_or(DEFAULT_ROTATED_KEPT)).unwrap_or(usize::MAX),
            gzip: r.gzip,
        });
        Ok(FileLogOutput {
            dir: dir.to_owned(),
            name: name.replace("{host}", host),
            mode: config.mode.map_or(DEFAULT_MODE, |m| m.0),
            rotation,
            written,
            shown: format!("file {}", config.path),
            state: Mutex::new(State::default()),
        })
    }

    fn write(&self, batch: &Batch) -> Result<(), ResourceError> {
        let name = crate::clock::strftime(&self.name, batch.time).map_err(|why| {
            ResourceError::permanent(format!("{}: the file name: {why}", self.shown))
        })?;
        let path = self.dir.join(&name);
        let mut state = self
            .state
            .lock()
            .map_err(|_| ResourceError::permanent(format!("{}: a writer panicked", self.shown)))?;
        if state.current.as_ref().is_some_and(|c| c.path != path) {
            // A new name: the file of the old one is complete, a rotated file now.
            state.current = None;
            self.tidy(&path);
        }
        if !state.tidied {
            self.tidy(&path);
            state.tidied = true;
        }
        let size = lines_size(&batch.events);
        let mut current = match state.current.take() {
            Some(current) => current,
            None => self.open(&path)?,
        };
        let max_bytes = self.rotation.as_ref().and_then(|r| r.max_bytes);
        if let Some(max) = max_bytes
            && current.size > 0
            && current.size + size > max
        {
            drop(current);
            self.rotate(&path);
            current = self.open(&path)?;
        }
        append(&mut current, &batch.events).map_err(|e| {
            // The handle is dropped: the next attempt opens the file again and looks at how
            // it ends.
            ResourceError::transient(format!(
                "{}: cannot write {}: {e}",
                self.shown,
                path.display()
            ))
        })?;
        state.current = Some(current);
        Ok(())
    }

    /// Opens `path` for appending (made with the output's mode when missing; a symlink is
    /// refused), and looks at how it ends.
    fn open(&self, path: &Path) -> Result<Current, ResourceError> {
        let fail = |e: std::io::Error| {
            ResourceError::transient(format!(
                "{}: cannot open {}: {e}",
                self.shown,
                path.display()
            ))
        };
        if !self.dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.dir)
                .map_err(fail)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(self.mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        if !meta.is_file() {
            return Err(ResourceError::permanent(format!(
                "{}: {} is not a regular file",
                self.shown,
                path.display()
            )));
        }
        let size = meta.len();
        let mut last = [0u8; 1];
        let at_line_start = size == 0 || {
            file.read_exact_at(&mut last, size - 1).map_err(fail)?;
            last[0] == b'\n'
        };
        // The new file's name is durable before anything is acknowledged in it.
        sync_parent(path).map_err(fail)?;
        Ok(Current {
            path: path.to_owned(),
            file,
            size,
            at_line_start,
        })
    }

    /// Renames `path` to `<path>.1`, moving older numbers up, then tidies. A failure is
    /// logged: the stream goes on in the file it has, past its bound, rather than stopping.
    fn rotate(&self, path: &Path) {
        if let Err(e) = self.shift_and_rename(path) {
            tracing::warn!(output = %self.shown, error = %e, "cannot rotate the file; writing on in it");
            return;
        }
        self.tidy(path);
    }

    fn shift_and_rename(&self, path: &Path) -> std::io::Result<()> {
        let name = file_name(path);
        let prefix = format!("{name}.");
        let highest = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let entry = entry.file_name().into_string().ok()?;
                let number = entry.strip_prefix(&prefix)?;
                number
                    .strip_suffix(".gz")
                    .unwrap_or(number)
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .unwrap_or(0);
        for n in (1..=highest).rev() {
            for suffix in ["", ".gz"] {
                let from = self.dir.join(format!("{name}.{n}{suffix}"));
                match std::fs::rename(&from, self.dir.join(format!("{name}.{}{suffix}", n + 1))) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        std::fs::rename(path, self.dir.join(format!("{name}.1")))?;
        sync_parent(path)
    }

    /// Compresses the rotated files not yet compressed and removes the oldest beyond `keep`;
    /// `current` (the file being written) is left alone. Failures are logged.
    fn tidy(&self, current: &Path) {
        let Some(rotation) = &self.rotation else {
            return;
        };
        let warn = |doing: &str, path: &Path, e: &dyn std::fmt::Display| {
            tracing::warn!(output = %self.shown, file = %path.display(), error = %e, "cannot {doing} a rotated file");
        };
        let current = file_name(current);
        if rotation.gzip {
            for (_, name) in self.rotated(&current) {
                if !name.ends_with(".gz") {
                    let path = self.dir.join(&name);
                    if let Err(e) = self.gzip(&path) {
                        warn("compress", &path, &e);
                    }
                }
            }
        }
        for (_, name) in self.rotated(&current).into_iter().skip(rotation.keep) {
            let path = self.dir.join(&name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => warn("remove", &path, &e),
                _ => {}
            }
        }
    }

    /// This output's files other than `current`, newest first: by time written, then (for
    /// files rotated within one tick of the clock) `.1` before `.2`.
    fn rotated(&self, current: &str) -> Vec<(SystemTime, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<(SystemTime, Reverse<u64>, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                if name == current || !self.written.is_match(&name) {
                    return None;
                }
                let meta = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((modified, Reverse(rotation_number(&name)), name))
            })
            .collect();
        files.sort_by(|a, b| b.cmp(a));
        files.into_iter().map(|(t, _, name)| (t, name)).collect()
    }

    /// Replaces `path` with `<path>.gz`: written aside (`.gz.partial`), synced, renamed in,
    /// with the original's time (which orders rotated files), then the original removed.
    fn gzip(&self, path: &Path) -> std::io::Result<()> {
        let mut source = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        let modified = source.metadata()?.modified()?;
        let name = file_name(path);
        let partial = self.dir.join(format!("{name}.gz.partial"));
        let out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(self.mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&partial)?;
        let mut encoder = GzEncoder::new(BufWriter::new(out), Compression::default());
        std::io::copy(&mut source, &mut encoder)?;
        let out = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
        out.set_modified(modified)?;
        out.sync_all()?;
        std::fs::rename(&partial, self.dir.join(format!("{name}.gz")))?;
        std::fs::remove_file(path)?;
        sync_parent(path)
    }
}

/// Slices handed to one `writev(2)` (the kernel's `IOV_MAX`).
const SLICES_PER_WRITE: usize = 1024;

/// The bytes `events` take as lines: each ends with a line break (one is added where missing).
fn lines_size(events: &[Vec<u8>]) -> u64 {
    (events.iter())
        .map(|e| e.len() as u64 + u64::from(!e.ends_with(b"\n")))
        .sum()
}

/// Appends `events` as lines, after a line break if the file does not end with one, then
/// syncs the data: only then is the batch acknowledged. The events are written where they are
/// (`writev`), not copied into one buffer first: that copy would double the memory a batch
/// takes while it is written.
fn append(current: &mut Current, events: &[Vec<u8>]) -> std::io::Result<()> {
    const LINE_BREAK: &[u8] = b"\n";
    let size = lines_size(events);
    if size == 0 {
        return Ok(());
    }
    let mut slices = Vec::with_capacity(SLICES_PER_WRITE);
    if !current.at_line_start {
        slices.push(IoSlice::new(LINE_BREAK));
    }
    for event in events {
        slices.push(IoSlice::new(event));
        if !event.ends_with(LINE_BREAK) {
            slices.push(IoSlice::new(LINE_BREAK));
        }
        if slices.len() >= SLICES_PER_WRITE - 1 {
            write_all_vectored(&mut current.file, &mut slices)?;
        }
    }
    write_all_vectored(&mut current.file, &mut slices)?;
    current.file.sync_data()?;
    current.size += size + u64::from(!current.at_line_start);
    current.at_line_start = true;
    Ok(())
}

/// Writes every slice (a write may take part of them), and empties `slices`.
fn write_all_vectored(file: &mut File, slices: &mut Vec<IoSlice<'_>>) -> std::io::Result<()> {
    let mut rest = slices.as_mut_slice();
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut rest, written),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    slices.clear();
    Ok(())
}

/// The number of a rotated file (`app.log.3`, `app.log.3.gz` → 3); 0 for an unnumbered one.
fn rotation_number(name: &str) -> u64 {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Sink for FileLogOutput {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.write(batch).map_err(SendError::from)
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::logs::FileRotation;

    fn output(path: &Path, rotate: Option<FileRotation>) -> FileLogOutput {
        let config = FileLogOutputConfig {
            path: path.display().to_string(),
            encoding: None,
            mode: None,
            rotate,
            batch: None,
            retry: None,
            spool: None,
        };
        FileLogOutput::new(&config, "web1").expect("output")
    }

    fn batch(lines: &[&str]) -> Batch {
        Batch {
            events: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
            time: SystemTime::now(),
            id: "1".to_owned(),
            document: false,
        }
    }

    #[test]
    fn batches_are_appended_as_lines_to_a_new_file_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().expect("temp");
        let path = temp.path().join("sub/app.log");
        let out = output(&path, None);
        out.send(&batch(&["one", "two"])).expect("send");
        out.send(&batch(&["three\n"])).expect("send");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "one\ntwo\nthree\n"
        );
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn a_file_cut_in_a_line_gets_a_line_break_before_the_next_batch() {
        let temp = tempfile::tempdir().expect("temp");
        let path = temp.path().join("app.log");
        std::fs::write(&path, "whole\nhal").expect("write");
        output(&path, None).send(&batch(&["next"])).expect("send");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "whole\nhal\nnext\n"
        );
    }

    #[test]
    fn a_batch_larger_than_one_vectored_write_goes_in_whole_and_in_order() {
        let temp = tempfile::tempdir().expect("temp");
        let path = temp.path().join("app.log");
        std::fs::write(&path, "cut").expect("write");
        // Every third event brings its own line break: 3000 events take about 5000 slices.
        let events: Vec<String> = (0..3000)
            .map(|n| {
                if n % 3 == 0 {
                    format!("{n}\n")
                } else {
                    n.to_string()
                }
            })
            .collect();
        let lines: Vec<&str> = events.iter().map(String::as_str).collect();
        output(&path, None).send(&batch(&lines)).expect("send");
        let expected: String = (0..3000).map(|n| format!("{n}\n")).collect();
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("cut\n{expected}")
        );
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_refused() {
        let temp = tempfile::tempdir().expect("temp");
        let target = temp.path().join("elsewhere");
        std::fs::write(&target, "").expect("write");
        let path = temp.path().join("app.log");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        let error = output(&path, None)
            .send(&batch(&["x"]))
            .expect_err("a symlink");
        assert!(
            error.error.message.contains("cannot open"),
            "{}",
            error.error
        );
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "");
    }

    #[test]
    fn rotated_files_are_ordered_newest_first_within_one_clock_tick() {
        let temp = tempfile::tempdir().expect("temp");
        let out = output(&temp.path().join("app.log"), None);
        for name in [
            "app.log.2.gz",
            "app.log.10",
            "app.log.1",
            "app.log",
            "other.log",
        ] {
            std::fs::write(temp.path().join(name), "x").expect("write");
        }
        let when = SystemTime::now();
        for entry in std::fs::read_dir(temp.path()).expect("dir") {
            let entry = entry.expect("entry");
            File::options()
                .write(true)
                .open(entry.path())
                .and_then(|f| f.set_modified(when))
                .expect("time");
        }
        let names: Vec<String> = out.rotated("app.log").into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["app.log.1", "app.log.2.gz", "app.log.10"]);
    }
}
