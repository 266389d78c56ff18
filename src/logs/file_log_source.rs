//! The `file` log source: tails the files `paths` matches, follows them through rotation by
//! rename and by copytruncate, and hands out lines with an [`Ack`] each; a file's checkpointed
//! position advances only when the pipeline acknowledges its lines, so after a crash reading
//! resumes at the last acknowledged line (duplicates possible, never gaps).
//!
//! Siblings: `path_globs` (which files), `checkpoints` (which file is which, and positions
//! on disk), `line_decoder` (encodings), `multiline` (joined records), `crate::fs_watch`
//! (waiting for changes).
//!
//! A file is tracked from the moment a scan of the globs first finds it until it is gone
//! (renamed out of the globs or deleted), read to its end, quiet for `partial_timeout` and
//! fully acknowledged; the open descriptor keeps its inode, so a renamed or deleted file is
//! drained through it. A file that is shorter than what was read of it, or whose first bytes
//! changed, was truncated (copytruncate) and is read again from its start.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpoints::{self, Checkpoint, Fingerprint, Unclaimed};
use super::line_decoder::{Bom, LineDecoder};
use super::multiline::{Aggregator, MultilineRules};
use super::path_globs::{Found, PathGlobs};
use super::{LogError, LogEvent};
use crate::fs_watch::FileWatch;
use crate::model::logs::{self as model, FileEncoding, StartAt};

/// The default `max_line_bytes`: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 1 << 20;
/// The default `partial_timeout`.
pub const DEFAULT_PARTIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often `read` looks for new, rotated and truncated files when it is never idle long
/// enough for `wait` to do it (and no change is reported by inotify).
const SCAN_INTERVAL: Duration = Duration::from_millis(250);
/// The least time between two looks when inotify reports changes: a file that lives at a
/// matched path for longer than this (rotated out again) is found.
const RESCAN_SPACING: Duration = Duration::from_millis(10);
/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// A line (or multiline record) read, and what to acknowledge once it is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceLine {
    pub event: LogEvent,
    pub ack: Ack,
}

/// "Every line of this file up to here was delivered": passed back to
/// [`FileLogSource::acknowledge`]. Acknowledging a later line covers the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    file: u64,
    /// Which content of the file: a truncation starts a new one, and acknowledgements of
    /// the content before it no longer mean a position.
    generation: u32,
    offset: u64,
}

impl Ack {
    /// The source's own number for the file (stable while the source runs).
    pub fn file_id(&self) -> u64 {
        self.file
    }

    /// The byte offset just past the line.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// Counters of a source, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub lines_read: u64,
    pub bytes_read: u64,
    /// Lines (or records) cut to `max_line_bytes`.
    pub lines_truncated: u64,
    /// Bytes of the tracked files not acknowledged yet: the sum of size − position.
    pub bytes_behind: u64,
    /// Files tracked now.
    pub files: usize,
}

/// A file the globs match, where reading it would start (its checkpoint, or `start_at`),
/// and its size: what `plan` shows of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedFile {
    pub path: PathBuf,
    pub position: u64,
    pub size: u64,
}

/// The settings of a source, with their defaults applied.
#[derive(Debug, Clone)]
struct Settings {
    start_at: StartAt,
    encoding: FileEncoding,
    max_line_bytes: usize,
    partial_timeout: Duration,
    multiline: Option<MultilineRules>,
}

impl Settings {
    fn of(config: &model::FileLogSource) -> Result<Settings, LogError> {
        let max_line_bytes = config
            .max_line_bytes
            .as_ref()
            .map_or(DEFAULT_MAX_LINE_BYTES, |m| m.value)
            .max(1);
        Ok(Settings {
            start_at: config.start_at,
            encoding: config.encoding,
            max_line_bytes: usize::try_from(max_line_bytes).unwrap_or(usize::MAX),
            partial_timeout: (config.partial_timeout.as_ref())
                .map_or(DEFAULT_PARTIAL_TIMEOUT, |t| t.value.0),
            multiline: config
                .multiline
                .as_ref()
                .map(MultilineRules::new)
                .transpose()
                .map_err(LogError::new)?,
        })
    }
}

fn globs_of(config: &model::FileLogSource) -> Result<PathGlobs, LogError> {
    let exclude = config.exclude.as_ref().map_or(&[][..], |e| &e.value[..]);
    PathGlobs::new(&config.paths.value, exclude)
        .map_err(|e| LogError::new(format!("file source: bad glob {e}")))
}

/// The files `config` matches now, with the positions reading would start at: read-only
/// (no file is changed, no checkpoint written), for plan nodes. Unreadable files and a
/// damaged checkpoints file count as having no checkpoint.
pub fn observe(config: &model::FileLogSource, checkpoints: &Path) -> Vec<WatchedFile> {
    let Ok(globs) = globs_of(config) else {
        return Vec::new();
    };
    let now = Instant::now();
    let mut unclaimed = Unclaimed::new(checkpoints::load(checkpoints).unwrap_or_default(), now);
    let (found, _) = globs.scan();
    let mut watched = Vec::with_capacity(found.len());
    for (path, _) in found {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        let position =
            first_position(&mut unclaimed, &file, &meta, &path, config.start_at, true).unwrap_or(0);
        watched.push(WatchedFile {
            path,
            position,
            size: meta.len(),
        });
    }
    watched
}

/// Where a file newly found starts (taking its checkpoint, if it had one): the checkpoint's
/// position (0 when the file is now shorter: it was truncated); else, for a file present when
/// the source started and never seen before, `start_at`; else its beginning (it appeared
/// later, or while the source was stopped at a path it had read).
fn first_position(
    unclaimed: &mut Unclaimed,
    file: &File,
    meta: &std::fs::Metadata,
    path: &Path,
    start_at: StartAt,
    at_start: bool,
) -> io::Result<u64> {
    if let Some(checkpoint) = unclaimed.claim(file, meta.dev(), meta.ino(), path)? {
        // Shorter than its checkpoint: truncated while the source was not running.
        return Ok(if checkpoint.position > meta.len() {
            0
        } else {
            checkpoint.position
        });
    }
    Ok(match start_at {
        StartAt::End if at_start && !unclaimed.knows_path(path) => meta.len(),
        _ => 0,
    })
}

/// One file being read.
#[derive(Debug)]
struct TailedFile {
    file: File,
    dev: u64,
    ino: u64,
    /// The path it was first found at: the `file` of its lines, even after a rename.
    name: Arc<str>,
    /// Where it is now (or was last seen).
    path: PathBuf,
    fingerprint: Fingerprint,
    generation: u32,
    /// Its size when last looked at.
    size: u64,
    /// Bytes before this offset were read into lines or `pending`.
    read_to: u64,
    /// The start of the line being read (not yet ended), up to `max_line_bytes` of it.
    pending: Vec<u8>,
    /// The line being read is longer than `max_line_bytes`: the rest of it is skipped.
    cut: bool,
    /// When `pending` last grew, if it holds anything.
    pending_since: Option<Instant>,
    decoder: LineDecoder,
    /// Whether a byte order mark at the file's start was looked for.
    bom_checked: bool,
    aggregator: Aggregator,
    /// Every line before this offset was delivered.
    acked: u64,
    /// Not matched by the globs any more (renamed away or deleted): drained, then dropped.
    gone: bool,
    /// When reading last found nothing new.
    idle_since: Option<Instant>,
    /// The file's end when reading last stopped for want of bytes it could use (an odd
    /// last byte of UTF-16, a byte order mark not yet whole): waiting is for more than that.
    exhausted_at: u64,
}

impl TailedFile {
    fn behind(&self) -> u64 {
        self.size.max(self.read_to).saturating_sub(self.acked)
    }

    /// Starts over from offset 0: the file was truncated (copytruncate).
    fn restart(&mut self, meta: &std::fs::Metadata) -> io::Result<()> {
        self.generation = self.generation.wrapping_add(1);
        self.fingerprint = Fingerprint::of(&self.file, self.dev, self.ino, meta.len())?;
        self.read_to = 0;
        self.acked = 0;
        self.pending.clear();
        self.cut = false;
        self.pending_since = None;
        self.bom_checked = false;
        self.idle_since = None;
        self.exhausted_at = 0;
        Ok(())
    }

    fn ack(&self, offset: u64) -> Ack {
        Ack {
            file: 0,
            generation: self.generation,
            offset,
        }
    }
}

/// A `file` source: see the module documentation.
#[derive(Debug)]
pub struct FileLogSource {
    globs: PathGlobs,
    settings: Settings,
    checkpoint_dir: PathBuf,
    unclaimed: Unclaimed,
    files: BTreeMap<u64, TailedFile>,
    next_id: u64,
    watch: FileWatch,
    last_scan: Option<Instant>,
    /// A change was reported since the last scan.
    rescan: bool,
    /// Records finished outside `read` (a truncation ended them), passed on by the next
    /// `read`.
    ready: Vec<SourceLine>,
    /// Where the next `read` starts, so that one busy file does not starve the others.
    next_file: u64,
    chunk: Vec<u8>,
    lines_read: u64,
    bytes_read: u64,
    lines_truncated: u64,
    /// The checkpoints file as last written.
    written: Vec<u8>,
    /// When the synced checkpoints file was last written (see [`checkpoints::save`]).
    synced_at: Option<Instant>,
}

impl FileLogSource {
    /// Finds the files `config` matches and where each starts (its checkpoint in
    /// `checkpoints`, a directory owned by this pipeline, or `start_at`).
    pub fn open(
        config: &model::FileLogSource,
        checkpoints: &Path,
    ) -> Result<FileLogSource, LogError> {
        let now = Instant::now();
        let mut source = FileLogSource {
            globs: globs_of(config)?,
            settings: Settings::of(config)?,
            checkpoint_dir: checkpoints.to_path_buf(),
            unclaimed: Unclaimed::new(checkpoints::load(checkpoints)?, now),
            files: BTreeMap::new(),
            next_id: 0,
            watch: FileWatch::new(),
            last_scan: None,
            rescan: false,
            ready: Vec::new(),
            next_file: 0,
            chunk: vec![0; CHUNK],
            lines_read: 0,
            bytes_read: 0,
            lines_truncated: 0,
            written: Vec::new(),
            synced_at: None,
        };
        source.scan(now, true);
        Ok(source)
    }

    /// Up to `max` lines, never blocking: empty when every file is read to its end. A last
    /// line without its line break is held until it has one, or until no byte came for
    /// `partial_timeout`.
    pub fn read(&mut self, max: usize) -> Result<Vec<SourceLine>, LogError> {
        self.read_at(max, Instant::now())
    }

    /// [`read`](Self::read) at the time `now` (which decides what timed out): tests drive
    /// the clock.
    pub fn read_at(&mut self, max: usize, now: Instant) -> Result<Vec<SourceLine>, LogError> {
        self.rescan |= self.watch.take_changed();
        let since = self.last_scan.map(|t| now.saturating_duration_since(t));
        let spacing = if self.rescan {
            RESCAN_SPACING
        } else {
            SCAN_INTERVAL
        };
        if since.is_none_or(|since| since >= spacing) {
            self.scan(now, false);
        }
        let mut out = std::mem::take(&mut self.ready);
        let ids: Vec<u64> = (self.files.range(self.next_file..).map(|(id, _)| *id))
            .chain(self.files.range(..self.next_file).map(|(id, _)| *id))
            .collect();
        for id in ids {
            if out.len() >= max {
                self.next_file = id;
                break;
            }
            self.read_file(id, max, now, &mut out);
            self.flush_due(id, now, &mut out);
        }
        self.drop_finished(now);
        Ok(out)
    }

    /// Blocks until a watched file or directory changes, or `timeout` passes, or a held
    /// line or record is due (then `read` passes it on). Looks for new and rotated files
    /// first, and does not block when some file has unread bytes. May return early.
    pub fn wait(&mut self, timeout: Duration) {
        let now = Instant::now();
        self.scan(now, false);
        if (self.files.values()).any(|f| f.size > f.read_to.max(f.exhausted_at)) {
            return;
        }
        let due = self.files.values().filter_map(|f| self.due_at(f)).min();
        let timeout = due.map_or(timeout, |d| timeout.min(d.saturating_duration_since(now)));
        if !timeout.is_zero() {
            self.watch.wait(timeout);
        }
    }

    /// Records that every line of the file up to and including the one `ack` came with was
    /// delivered: the checkpoint may advance to it.
    pub fn acknowledge(&mut self, ack: &Ack) {
        if let Some(file) = self.files.get_mut(&ack.file)
            && file.generation == ack.generation
            && ack.offset > file.acked
        {
            file.acked = ack.offset.min(file.read_to);
        }
    }

    /// Writes the acknowledged position of every file to the checkpoints directory,
    /// atomically (a crash leaves the previous checkpoints or these). Does nothing when
    /// nothing changed since the last write.
    pub fn checkpoint(&mut self) -> Result<(), LogError> {
        self.unclaimed.prune(Instant::now());
        let entries = (self.files.values())
            .map(|f| Checkpoint {
                fingerprint: f.fingerprint.clone(),
                path: f.path.clone(),
                position: f.acked,
            })
            .chain(self.unclaimed.checkpoints().cloned())
            .collect();
        let bytes = checkpoints::encode(entries);
        if bytes != self.written {
            let now = Instant::now();
            let synced = (self.synced_at).is_none_or(|t| now >= t + checkpoints::SYNC_INTERVAL);
            checkpoints::save(&self.checkpoint_dir, &bytes, synced)?;
            self.written = bytes;
            if synced {
                self.synced_at = Some(now);
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> SourceStats {
        SourceStats {
            lines_read: self.lines_read,
            bytes_read: self.bytes_read,
            lines_truncated: self.lines_truncated,
            bytes_behind: self.files.values().map(TailedFile::behind).sum(),
            files: self.files.len(),
        }
    }

    /// Passes on the multiline records held for more lines (whole lines; a partial line
    /// still waits for its line break). For a run over what is there (`--once`) at its end:
    /// no more lines will come in this run to join them.
    pub fn flush_held(&mut self) -> Vec<SourceLine> {
        let mut out = std::mem::take(&mut self.ready);
        let ids: Vec<u64> = self.files.keys().copied().collect();
        for id in ids {
            self.flush_record(id, Instant::now(), true, &mut out);
        }
        out
    }

    /// When a held line or record of `file` is due, or when the file may be dropped.
    fn due_at(&self, file: &TailedFile) -> Option<Instant> {
        let partial = file
            .pending_since
            .map(|t| t + self.settings.partial_timeout);
        let record = (self.settings.multiline.as_ref()).and_then(|r| file.aggregator.deadline(r));
        let drop = (file.gone)
            .then_some(file.idle_since)
            .flatten()
            .map(|t| t + self.settings.partial_timeout);
        [partial, record, drop].into_iter().flatten().min()
    }

    /// Looks at the globs and every tracked file: new files, renamed, deleted and
    /// truncated ones. `at_start`: the first scan, where `start_at` applies.
    fn scan(&mut self, now: Instant, at_start: bool) {
        self.last_scan = Some(now);
        self.rescan = false;
        let (mut found, dirs) = self.globs.scan();
        let bases: Vec<&Path> = self.globs.bases().collect();
        self.watch.watch(&dirs, &bases);
        let mut path_of: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
        for (path, Found { dev, ino }) in std::mem::take(&mut found) {
            path_of.insert((dev, ino), path);
        }
        let ids: Vec<u64> = self.files.keys().copied().collect();
        for id in ids {
            let Some(file) = self.files.get_mut(&id) else {
                continue;
            };
            match path_of.remove(&(file.dev, file.ino)) {
                Some(path) => {
                    file.path = path;
                    file.gone = false;
                }
                None => file.gone = true,
            }
            if let Err(e) = self.check_truncation(id)
                && let Some(file) = self.files.get(&id)
            {
                tracing::warn!("log file {}: {e}", file.path.display());
            }
        }
        for ((dev, ino), path) in path_of {
            if let Err(e) = self.track(&path, dev, ino, at_start) {
                tracing::warn!("cannot tail {}: {e}", path.display());
            }
        }
    }

    /// Starts tracking a file the globs found.
    fn track(&mut self, path: &Path, dev: u64, ino: u64, at_start: bool) -> io::Result<()> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != (dev, ino) {
            // Replaced between the scan and the open: the next scan sees the new one.
            return Ok(());
        }
        let position = first_position(
            &mut self.unclaimed,
            &file,
            &meta,
            path,
            self.settings.start_at,
            at_start,
        )?;
        let fingerprint = Fingerprint::of(&file, dev, ino, meta.len())?;
        let id = self.next_id;
        self.next_id += 1;
        let mut tailed = TailedFile {
            file,
            dev,
            ino,
            name: Arc::from(path.to_string_lossy().as_ref()),
            path: path.to_path_buf(),
            fingerprint,
            generation: 0,
            size: meta.len(),
            read_to: position,
            pending: Vec::new(),
            cut: false,
            pending_since: None,
            decoder: LineDecoder::new(self.settings.encoding),
            bom_checked: false,
            aggregator: Aggregator::default(),
            acked: position,
            exhausted_at: position,
            gone: false,
            idle_since: None,
        };
        if position > 0 {
            // Reading starts past the start: the byte order mark is read now, for UTF-16's
            // byte order.
            let mut head = [0u8; 4];
            let n = tailed.file.read_at(&mut head, 0)?;
            tailed.bom_checked = !matches!(tailed.decoder.detect_bom(&head[..n]), Bom::Undecided);
        }
        tracing::debug!("tailing {} from byte {position}", path.display());
        self.files.insert(id, tailed);
        Ok(())
    }

    /// A file shorter than what was read of it, or whose first bytes changed, was truncated:
    /// read it again from the start. Records held of its old content are passed on.
    fn check_truncation(&mut self, id: u64) -> io::Result<()> {
        let Some(file) = self.files.get_mut(&id) else {
            return Ok(());
        };
        let meta = file.file.metadata()?;
        file.size = meta.len();
        let truncated = meta.len() < file.read_to
            || (meta.len() >= file.fingerprint.head_len
                && !file.fingerprint.matches(&file.file, file.dev, file.ino)?);
        if truncated {
            tracing::debug!(
                "{} was truncated: reading it from its start",
                file.path.display()
            );
            let mut out = Vec::new();
            self.flush_record(id, Instant::now(), true, &mut out);
            self.ready.append(&mut out);
            if let Some(file) = self.files.get_mut(&id) {
                file.restart(&meta)?;
            }
        } else if !file.fingerprint.is_full() && meta.len() > file.fingerprint.head_len {
            file.fingerprint = Fingerprint::of(&file.file, file.dev, file.ino, meta.len())?;
        }
        Ok(())
    }

    /// Reads lines of one file until `out` has `max` or the file is at its end.
    fn read_file(&mut self, id: u64, max: usize, now: Instant, out: &mut Vec<SourceLine>) {
        while out.len() < max {
            let Some(file) = self.files.get_mut(&id) else {
                return;
            };
            let n = match file.file.read_at(&mut self.chunk, file.read_to) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("cannot read {}: {e}", file.path.display());
                    return;
                }
            };
            let end = file.read_to + n as u64;
            // UTF-16 is read in whole units, so a line break never straddles two reads.
            let n = n - n % file.decoder.unit();
            if n == 0 {
                file.idle_since.get_or_insert(now);
                file.exhausted_at = end;
                return;
            }
            file.idle_since = None;
            let mut chunk = std::mem::take(&mut self.chunk);
            let consumed = self.take_lines(id, &chunk[..n], max, now, out);
            chunk.resize(CHUNK, 0);
            self.chunk = chunk;
            let Some(file) = self.files.get_mut(&id) else {
                return;
            };
            file.read_to += consumed as u64;
            file.size = file.size.max(end);
            self.bytes_read += consumed as u64;
            if consumed == 0 {
                // Too few bytes to decide on a byte order mark: wait for more.
                file.idle_since.get_or_insert(now);
                file.exhausted_at = end;
                return;
            }
        }
    }

    /// Splits `bytes` (read at the file's `read_to`) into lines; returns how many bytes were
    /// used (all of them, unless `out` reached `max` first).
    fn take_lines(
        &mut self,
        id: u64,
        bytes: &[u8],
        max: usize,
        now: Instant,
        out: &mut Vec<SourceLine>,
    ) -> usize {
        let max_line = self.settings.max_line_bytes;
        let Some(file) = self.files.get_mut(&id) else {
            return 0;
        };
        let mut at = 0;
        if !file.bom_checked && file.read_to == 0 {
            match file.decoder.detect_bom(bytes) {
                Bom::Undecided => return 0,
                Bom::Length(skip) => {
                    file.bom_checked = true;
                    at = skip;
                }
            }
        }
        while at < bytes.len() && out.len() < max {
            let Some(file) = self.files.get_mut(&id) else {
                return at;
            };
            let rest = &bytes[at..];
            let Some(end) = file.decoder.line_end(rest) else {
                // The start of a line whose break is not written yet: held, up to the limit.
                keep_bounded(file, rest, false, max_line);
                file.pending_since = Some(now);
                return bytes.len();
            };
            let line_end_offset = file.read_to + (at + end) as u64;
            let line = &rest[..end];
            let text = if file.pending.is_empty() && !file.cut {
                if file.decoder.content_len(line) <= max_line {
                    file.decoder.decode(line)
                } else {
                    file.cut = true;
                    let keep = max_line - max_line % file.decoder.unit();
                    file.decoder.decode(&line[..keep])
                }
            } else {
                keep_bounded(file, line, true, max_line);
                let held = std::mem::take(&mut file.pending);
                file.decoder.decode(&held)
            };
            let cut = std::mem::take(&mut file.cut);
            file.pending_since = None;
            at += end;
            self.emit(id, text, line_end_offset, cut, now, out);
        }
        at
    }

    /// Passes a line on, through multiline aggregation when configured.
    fn emit(
        &mut self,
        id: u64,
        text: String,
        end: u64,
        cut: bool,
        now: Instant,
        out: &mut Vec<SourceLine>,
    ) {
        let Some(file) = self.files.get_mut(&id) else {
            return;
        };
        if cut {
            self.lines_truncated += 1;
        }
        let name = Arc::clone(&file.name);
        let mut ack = file.ack(end);
        ack.file = id;
        match &self.settings.multiline {
            None => {
                self.lines_read += 1;
                out.push(SourceLine {
                    event: LogEvent::new(text, name),
                    ack,
                });
            }
            Some(rules) => {
                let max = self.settings.max_line_bytes;
                for record in file.aggregator.push(rules, text, end, now, max) {
                    if record.cut {
                        self.lines_truncated += 1;
                    }
                    self.lines_read += 1;
                    out.push(SourceLine {
                        event: LogEvent::new(record.text, Arc::clone(&name)),
                        ack: Ack {
                            offset: record.end,
                            ..ack
                        },
                    });
                }
            }
        }
    }

    /// Passes on what of file `id` is due: a partial line quiet for `partial_timeout`, a
    /// multiline record that waited `timeout` for its next line.
    fn flush_due(&mut self, id: u64, now: Instant, out: &mut Vec<SourceLine>) {
        let timeout = self.settings.partial_timeout;
        let Some(file) = self.files.get_mut(&id) else {
            return;
        };
        if let Some(since) = file.pending_since
            && now.saturating_duration_since(since) >= timeout
        {
            let bytes = std::mem::take(&mut file.pending);
            let text = file.decoder.decode(&bytes);
            let cut = std::mem::take(&mut file.cut);
            file.pending_since = None;
            let end = file.read_to;
            self.emit(id, text, end, cut, now, out);
        }
        self.flush_record(id, now, false, out);
    }

    fn flush_record(&mut self, id: u64, now: Instant, force: bool, out: &mut Vec<SourceLine>) {
        let (Some(rules), Some(file)) = (&self.settings.multiline, self.files.get_mut(&id)) else {
            return;
        };
        if let Some(record) = file.aggregator.flush(rules, now, force) {
            if record.cut {
                self.lines_truncated += 1;
            }
            self.lines_read += 1;
            let mut ack = file.ack(record.end);
            ack.file = id;
            out.push(SourceLine {
                event: LogEvent::new(record.text, Arc::clone(&file.name)),
                ack,
            });
        }
    }

    /// Stops tracking files that are gone, read to their end, quiet for `partial_timeout`
    /// and fully acknowledged. A renamed one leaves its checkpoint, should it come back.
    fn drop_finished(&mut self, now: Instant) {
        let timeout = self.settings.partial_timeout;
        let finished: Vec<u64> = (self.files.iter())
            .filter(|(_, f)| {
                f.gone
                    && f.pending.is_empty()
                    && !f.cut
                    && !f.aggregator.is_holding()
                    && f.acked >= f.read_to
                    && f.idle_since
                        .is_some_and(|t| now.saturating_duration_since(t) >= timeout)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in finished {
            if let Some(file) = self.files.remove(&id) {
                tracing::debug!("done with {}", file.path.display());
                let still_linked = file.file.metadata().is_ok_and(|m| m.nlink() > 0);
                if still_linked {
                    self.unclaimed.add(
                        Checkpoint {
                            fingerprint: file.fingerprint,
                            path: file.path,
                            position: file.acked,
                        },
                        now,
                    );
                }
            }
        }
    }
}

/// Appends to the held start of a line, keeping at most `max` bytes of its content (the
/// rest is skipped and the line counted as cut). `ended`: `bytes` end with the line break.
fn keep_bounded(file: &mut TailedFile, bytes: &[u8], ended: bool, max: usize) {
    let content = if ended {
        &bytes[..file.decoder.content_len(bytes)]
    } else {
        bytes
    };
    let room = max.saturating_sub(file.pending.len());
    if content.len() <= room {
        file.pending.extend_from_slice(bytes);
    } else {
        let keep = room - room % file.decoder.unit();
        file.pending.extend_from_slice(&content[..keep]);
        file.cut = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Spanned;
    use std::io::Write;

    fn config(dir: &Path, start_at: StartAt) -> model::FileLogSource {
        model::FileLogSource {
            paths: Spanned::unplaced(vec![format!("{}/*.log", dir.display())]),
            exclude: None,
            start_at,
            encoding: FileEncoding::Utf8,
            max_line_bytes: None,
            partial_timeout: None,
            multiline: None,
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn messages(lines: &[SourceLine]) -> Vec<&str> {
        lines.iter().map(|l| l.event.message.as_str()).collect()
    }

    #[test]
    fn lines_are_read_and_a_partial_line_waits_for_its_break_or_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "one\ntwo\nthr");
        let state = dir.path().join("state");
        let mut source =
            FileLogSource::open(&config(dir.path(), StartAt::Beginning), &state).unwrap();
        let t0 = Instant::now();
        let lines = source.read_at(100, t0).unwrap();
        assert_eq!(messages(&lines), ["one", "two"]);
        assert_eq!(&*lines[0].event.file, log.to_str().unwrap());
        assert!(source.read_at(100, t0).unwrap().is_empty());
        append(&log, "ee\nfo");
        assert_eq!(messages(&source.read_at(100, t0).unwrap()), ["three"]);
        let late = t0 + DEFAULT_PARTIAL_TIMEOUT;
        let flushed = source.read_at(100, late).unwrap();
        assert_eq!(messages(&flushed), ["fo"]);
        assert_eq!(flushed[0].ack.offset(), 16);
        let stats = source.stats();
        assert_eq!(
            (stats.lines_read, stats.bytes_read, stats.files),
            (4, 16, 1)
        );
        assert_eq!(stats.bytes_behind, 16);
        source.acknowledge(&flushed[0].ack);
        assert_eq!(source.stats().bytes_behind, 0);
    }

    #[test]
    fn positions_advance_with_acknowledgements_only_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "a\nb\nc\n");
        let state = dir.path().join("state");
        let cfg = config(dir.path(), StartAt::Beginning);
        let mut source = FileLogSource::open(&cfg, &state).unwrap();
        let lines = source.read(100).unwrap();
        source.acknowledge(&lines[1].ack);
        source.checkpoint().unwrap();
        assert_eq!(
            observe(&cfg, &state),
            [WatchedFile {
                path: log.clone(),
                position: 4,
                size: 6
            }]
        );
        drop(source);
        let mut again = FileLogSource::open(&cfg, &state).unwrap();
        assert_eq!(messages(&again.read(100).unwrap()), ["c"]);
    }

    #[test]
    fn start_at_end_skips_what_is_there_but_not_files_that_appear_later() {
        let dir = tempfile::tempdir().unwrap();
        append(&dir.path().join("old.log"), "before\n");
        let state = dir.path().join("state");
        let mut source = FileLogSource::open(&config(dir.path(), StartAt::End), &state).unwrap();
        assert!(source.read(100).unwrap().is_empty());
        append(&dir.path().join("old.log"), "after\n");
        append(&dir.path().join("new.log"), "new\n");
        source.wait(Duration::ZERO);
        let mut got = messages(&source.read(100).unwrap()).join(",");
        got = got.replace("new,after", "after,new");
        assert_eq!(got, "after,new");
    }

    #[test]
    fn a_truncated_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "first line\nsecond line\n");
        let state = dir.path().join("state");
        let mut source =
            FileLogSource::open(&config(dir.path(), StartAt::Beginning), &state).unwrap();
        let old = source.read(100).unwrap();
        assert_eq!(old.len(), 2);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&log, "new\n");
        source.wait(Duration::ZERO);
        let lines = source.read(100).unwrap();
        assert_eq!(messages(&lines), ["new"]);
        // An acknowledgement of the content before the truncation means nothing now.
        source.acknowledge(&old[1].ack);
        assert_eq!(source.stats().bytes_behind, 4);
        source.acknowledge(&lines[0].ack);
        assert_eq!(source.stats().bytes_behind, 0);
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, "12345678\n123456789abc\n1234\n");
        let state = dir.path().join("state");
        let mut cfg = config(dir.path(), StartAt::Beginning);
        cfg.max_line_bytes = Some(Spanned::unplaced(8));
        let mut source = FileLogSource::open(&cfg, &state).unwrap();
        let lines = source.read(100).unwrap();
        assert_eq!(messages(&lines), ["12345678", "12345678", "1234"]);
        assert_eq!(lines[1].ack.offset(), 22);
        assert_eq!(source.stats().lines_truncated, 1);
    }

    #[test]
    fn wait_blocks_when_the_only_unread_byte_cannot_be_used_yet() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        // "a\n" in UTF-16LE and half of the next unit.
        std::fs::write(&log, [b'a', 0, b'\n', 0, b'b']).unwrap();
        let mut cfg = config(dir.path(), StartAt::Beginning);
        cfg.encoding = FileEncoding::Utf16Le;
        let mut source = FileLogSource::open(&cfg, &dir.path().join("state")).unwrap();
        assert_eq!(messages(&source.read(10).unwrap()), ["a"]);
        assert!(source.read(10).unwrap().is_empty());
        let t = Instant::now();
        source.wait(Duration::from_millis(200));
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
        append(&log, "\0\n\0");
        source.wait(Duration::from_secs(5));
        assert_eq!(messages(&source.read(10).unwrap()), ["b"]);
    }
}
