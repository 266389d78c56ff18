//! A `logs:` entry built into its running parts: the file source with its checkpoints in the
//! pipeline's directory, the parser and filters, each output opened into a stream; and what
//! `plan` records of a pipeline (its files and their checkpointed positions).
//!
//! A pipeline's directory (`<state dir>/logs/<id>/`) holds its checkpoints and the default
//! spools of its network outputs, and is locked (`flock`) while the pipeline runs: two
//! processes running one pipeline (`driftless logs` and an `execute` of its node) would read
//! the same files into two streams and overwrite each other's checkpoints.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::file_log_source::{Ack, FileLogSource, SourceLine, WatchedFile};
use super::log_filters::Filters;
use super::log_outputs::{OutputContext, open};
use super::log_parsers::Parser;
use super::log_pipeline::{
    self, EventStages, LineSource, Output, PipelineParts, PipelineStats, SourceCounters,
    StageCounters,
};
use super::output_gate::OutputGate;
use super::running_logs::{Built, LogContext};
use super::{LogError, LogEvent};
use crate::model::logs::{LogPipeline, LogSource};
use crate::sinks::pipeline::{Pacing, Pipeline};

impl LineSource for FileLogSource {
    type Ack = Ack;

    fn read(&mut self, max: usize, out: &mut Vec<(LogEvent, Ack)>) -> Result<(), LogError> {
        out.extend(
            FileLogSource::read(self, max)?
                .into_iter()
                .map(|SourceLine { event, ack }| (event, ack)),
        );
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) {
        FileLogSource::wait(self, timeout);
    }

    fn acknowledge(&mut self, ack: &Ack) {
        FileLogSource::acknowledge(self, ack);
    }

    /// Lines wait in the order they were read: a later line of the same file covers it.
    fn supersedes(newer: &Ack, older: &Ack) -> bool {
        newer.file_id() == older.file_id()
    }

    fn checkpoint(&mut self) -> Result<(), LogError> {
        FileLogSource::checkpoint(self)
    }

    fn flush_held(&mut self, out: &mut Vec<(LogEvent, Ack)>) {
        out.extend(
            FileLogSource::flush_held(self)
                .into_iter()
                .map(|SourceLine { event, ack }| (event, ack)),
        );
    }

    fn counters(&self) -> SourceCounters {
        let s = self.stats();
        SourceCounters {
            lines_read: s.lines_read,
            bytes_read: s.bytes_read,
            lines_truncated: s.lines_truncated,
            bytes_behind: s.bytes_behind,
            files: s.files as u64,
        }
    }
}

/// The parser, then the filters.
pub struct Stages {
    parser: Parser,
    filters: Filters,
}

impl EventStages for Stages {
    fn apply(&mut self, event: LogEvent, out: &mut Vec<LogEvent>) {
        if let Some(event) = self.parser.parse(event) {
            self.filters.apply(event, out);
        }
    }

    fn counters(&self) -> StageCounters {
        let parser = self.parser.stats();
        StageCounters {
            parsed: parser.parsed,
            parse_failures: parser.failed,
            dropped_by_parser: parser.dropped,
            dropped_by_filters: self.filters.dropped(),
        }
    }
}

/// Builds a pipeline: its directory made and locked, its source opened at its checkpoints,
/// its outputs opened and their streams started.
pub(crate) fn build(pipeline: &LogPipeline, cx: &LogContext) -> Result<Built, LogError> {
    let id = pipeline.id.value.as_str();
    let dir = cx.pipeline_dir(id);
    let lock = PipelineLock::take(&dir)?;
    let LogSource::File(file) = &pipeline.source;
    let source = FileLogSource::open(file, &dir)?;
    let stages = Stages {
        parser: Parser::new(&pipeline.parser).map_err(LogError::new)?,
        filters: Filters::new(&pipeline.filters, &cx.plugins).map_err(LogError::new)?,
    };
    let output_cx = OutputContext {
        host: &cx.host,
        secrets: &cx.secrets,
        pipeline: id,
        state_dir: &dir,
    };
    let mut outputs = Vec::new();
    for config in &pipeline.outputs.value {
        let opened = open(config, &output_cx)?;
        let gate = Arc::new(OutputGate::new(opened.sink, opened.spool.is_some()));
        // Settled: the pipeline checkpoints each delivered batch before the next is sent.
        let stream = Pipeline::start(
            gate.clone(),
            opened.batch,
            opened.retry,
            opened.spool,
            Pacing::Settled,
        )
        .map_err(|e| LogError::new(format!("output {}: {}", config.type_name(), e.message)))?;
        let encoding = opened.encoding;
        outputs.push(Output {
            kind: config.type_name(),
            stream,
            gate,
            encode: Box::new(move |event| encoding.encode(event)),
        });
    }
    let stats = Arc::new(PipelineStats::new(id, &outputs));
    let parts = PipelineParts {
        id: id.to_owned(),
        source,
        stages,
        outputs,
    };
    Ok(Built {
        run: Box::new(move |mode, drain, control, stats| {
            // Held until the run is over, checkpoint written.
            let _lock = lock;
            log_pipeline::run(parts, mode, drain, control, stats)
        }),
        stats,
    })
}

/// What `plan` records of a pipeline: the files its globs match now, each with the position
/// its checkpoint holds (read-only: nothing is written, nothing locked).
pub fn observe(pipeline: &LogPipeline, state_dir: &Path) -> Vec<WatchedFile> {
    let LogSource::File(file) = &pipeline.source;
    let dir = super::running_logs::pipeline_dir(state_dir, &pipeline.id.value);
    super::file_log_source::observe(file, &dir)
}

/// An exclusive `flock` on `<pipeline dir>/lock`, released when dropped (or when the process
/// ends, however it ends).
struct PipelineLock {
    _file: std::fs::File,
}

impl PipelineLock {
    fn take(dir: &Path) -> Result<PipelineLock, LogError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| LogError::io("create", dir, &e))?;
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| LogError::io("open", &path, &e))?;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            let error = std::io::Error::last_os_error();
            return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
                LogError::new(format!(
                    "another process runs this pipeline (it holds {})",
                    path.display()
                ))
            } else {
                LogError::io("lock", &path, &error)
            });
        }
        Ok(PipelineLock { _file: file })
    }
}
