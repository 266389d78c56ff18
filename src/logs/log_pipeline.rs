//! One `logs:` entry at work: its source, its parser and filters, and its outputs (fan-out),
//! on one thread of its own, with at-least-once delivery and bounded memory.
//!
//! The pipeline's thread reads lines from the source (never blocking; when caught up it
//! waits in `wait` for a file change), runs each through the parser and filters (0..n
//! events), encodes each event for each output and pushes it into that output's
//! [`Pipeline`] — a bounded queue whose `push` blocks when full. Each output's own thread cuts
//! batches and sends them (and spools them, when it has a spool).
//!
//! **Acknowledgement.** A line is acknowledged to the source only when every output's
//! watermark (`safe()`) has passed every event made from it (`PendingAcks`); the source
//! checkpoints acknowledged positions as soon as acknowledgements come — once per batch the
//! slowest output delivers, a small atomic write — and when the pipeline stops. A crash
//! loses nothing: what was not acknowledged is read again (duplicates, never gaps: at most
//! the batch an output was sending when the process died).
//!
//! **A failing output blocks the source** once its queue (and its spool, when it has one)
//! is full, as Vector's `when_full: block` does: at-least-once with bounded memory leaves no
//! other choice, since the source has one read position for all outputs and a line may be
//! acknowledged only when every output has it. Until then the other outputs keep receiving
//! everything read; a receiver that refuses a batch for good (a 400) costs that batch only
//! (counted, reported), never the stream.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::checkpoint_acks::PendingAcks;
use super::output_gate::OutputGate;
use super::{LogError, LogEvent};
use crate::sinks::pipeline::Pipeline;

/// Lines taken from the source at a time.
const READ_LINES: usize = 1024;
/// How long a caught-up pipeline waits for a file change before it reads again.
const IDLE_WAIT: Duration = Duration::from_millis(250);
/// How long a source that failed to read is left before it is tried again.
const READ_RETRY: Duration = Duration::from_secs(1);

/// What the pipeline reads lines from: the file source, or a fake in tests.
pub trait LineSource: Send + 'static {
    /// What says a line was delivered: everything of its file up to it.
    type Ack: Send + 'static;

    /// Appends at most `max` lines to `out`; never blocks (none: caught up).
    fn read(&mut self, max: usize, out: &mut Vec<(LogEvent, Self::Ack)>) -> Result<(), LogError>;
    /// Blocks until a watched file changes, or `timeout`.
    fn wait(&mut self, timeout: Duration);
    /// Every line of the ack's file up to it is delivered.
    fn acknowledge(&mut self, ack: &Self::Ack);
    /// Whether acknowledging `newer` acknowledges everything `older` does (same file, later).
    fn supersedes(newer: &Self::Ack, older: &Self::Ack) -> bool;
    /// Persists the acknowledged positions.
    fn checkpoint(&mut self) -> Result<(), LogError>;
    /// Appends what is held for more lines (multiline records): at the end of a run over
    /// what is there, no more lines come to complete them.
    fn flush_held(&mut self, out: &mut Vec<(LogEvent, Self::Ack)>) {
        let _ = out;
    }
    fn counters(&self) -> SourceCounters;
}

/// What the source has done, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounters {
    pub lines_read: u64,
    pub bytes_read: u64,
    pub lines_truncated: u64,
    /// Bytes in the watched files after the read positions.
    pub bytes_behind: u64,
    pub files: u64,
}

/// The parser and the filters: one line in, any number of events out.
pub trait EventStages: Send + 'static {
    fn apply(&mut self, event: LogEvent, out: &mut Vec<LogEvent>);
    fn counters(&self) -> StageCounters;
}

/// What the parser and filters have done, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounters {
    pub parsed: u64,
    pub parse_failures: u64,
    pub dropped_by_parser: u64,
    pub dropped_by_filters: u64,
}

/// How an event becomes an output's bytes (JSON, the message alone, …).
pub type Encoder = Box<dyn Fn(&LogEvent) -> Vec<u8> + Send>;

/// One output of a pipeline: its stream and how events are written for it.
pub struct Output {
    /// The output's `type` (`file`, `http` …), for metrics and messages.
    pub kind: &'static str,
    pub stream: Pipeline,
    /// The sink the stream sends through (it counts deliveries; closed at stop).
    pub gate: Arc<OutputGate>,
    pub encode: Encoder,
}

/// Whether a pipeline follows its files or reads what is there once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Until stopped: caught up, it waits for the files to grow.
    Follow,
    /// Until caught up, then delivers, checkpoints and ends (`--once`, `execute`).
    Once,
}

/// What the controller tells the pipeline's thread, and what the two share.
#[derive(Default)]
pub struct Control {
    stop: AtomicBool,
    /// Set once no acknowledgement may reach the source any more: the outputs are about to
    /// be given up on, and their watermarks stop meaning "delivered".
    frozen: Mutex<bool>,
}

impl Control {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// No acknowledgement after this returns (one in progress finishes first).
    pub fn freeze(&self) {
        *self.frozen.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }
}

/// The counters of one output.
pub struct OutputStats {
    pub kind: &'static str,
    /// Counts what the receiver acknowledged and refused for good.
    pub gate: Arc<OutputGate>,
}

/// A pipeline's counters, shared with whoever renders the metrics.
pub struct PipelineStats {
    pub id: String,
    pub lines_read: AtomicU64,
    pub bytes_read: AtomicU64,
    pub lines_truncated: AtomicU64,
    pub bytes_behind: AtomicU64,
    pub files: AtomicU64,
    pub parsed: AtomicU64,
    pub parse_failures: AtomicU64,
    pub dropped_by_parser: AtomicU64,
    pub dropped_by_filters: AtomicU64,
    /// Events made (each pushed to every output).
    pub events: AtomicU64,
    pub checkpoint_failures: AtomicU64,
    pub read_failures: AtomicU64,
    pub outputs: Vec<OutputStats>,
    /// Whether the thread is running.
    pub running: AtomicBool,
}

impl PipelineStats {
    pub fn new(id: &str, outputs: &[Output]) -> PipelineStats {
        PipelineStats {
            id: id.to_owned(),
            lines_read: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            lines_truncated: AtomicU64::new(0),
            bytes_behind: AtomicU64::new(0),
            files: AtomicU64::new(0),
            parsed: AtomicU64::new(0),
            parse_failures: AtomicU64::new(0),
            dropped_by_parser: AtomicU64::new(0),
            dropped_by_filters: AtomicU64::new(0),
            events: AtomicU64::new(0),
            checkpoint_failures: AtomicU64::new(0),
            read_failures: AtomicU64::new(0),
            outputs: outputs
                .iter()
                .map(|o| OutputStats {
                    kind: o.kind,
                    gate: o.gate.clone(),
                })
                .collect(),
            running: AtomicBool::new(false),
        }
    }

    fn record_source(&self, c: SourceCounters) {
        self.lines_read.store(c.lines_read, Ordering::Relaxed);
        self.bytes_read.store(c.bytes_read, Ordering::Relaxed);
        self.lines_truncated
            .store(c.lines_truncated, Ordering::Relaxed);
        self.bytes_behind.store(c.bytes_behind, Ordering::Relaxed);
        self.files.store(c.files, Ordering::Relaxed);
    }

    fn record_stages(&self, c: StageCounters) {
        self.parsed.store(c.parsed, Ordering::Relaxed);
        self.parse_failures
            .store(c.parse_failures, Ordering::Relaxed);
        self.dropped_by_parser
            .store(c.dropped_by_parser, Ordering::Relaxed);
        self.dropped_by_filters
            .store(c.dropped_by_filters, Ordering::Relaxed);
    }
}

/// How a pipeline's run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunEnd {
    pub lines_read: u64,
    pub events: u64,
    /// Whether every event made reached every output (or was refused for good by one).
    pub delivered_all: bool,
    /// Batches the receivers refused for good, and a failure that ended the run.
    pub failures: Vec<String>,
}

/// The parts of one pipeline, ready to run.
pub struct PipelineParts<S: LineSource, T: EventStages> {
    pub id: String,
    pub source: S,
    pub stages: T,
    pub outputs: Vec<Output>,
}

/// How long the pipeline waits at its end: for its outputs to acknowledge what it pushed
/// (`grace`, before the last checkpoint), then for them to send what they hold — their queues
/// and spools — and close (`close`). `None` waits until that is done or a stop is asked for
/// (`Once`: the run's purpose is delivery, a spooled record is not delivered yet).
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    pub grace: Option<Duration>,
    pub close: Option<Duration>,
}

/// Runs the pipeline on the calling thread until `control` says stop (`Follow`) or the source
/// is caught up (`Once`); then waits for delivery ([`Drain`]), checkpoints and closes the
/// outputs (giving up on those that do not take their last batches in time).
pub fn run<S: LineSource, T: EventStages>(
    parts: PipelineParts<S, T>,
    mode: Mode,
    drain: Drain,
    control: &Control,
    stats: &PipelineStats,
) -> RunEnd {
    let PipelineParts {
        id,
        mut source,
        mut stages,
        mut outputs,
    } = parts;
    stats.running.store(true, Ordering::Relaxed);
    let cx = RunContext {
        control,
        stats,
        id: &id,
    };
    let mut state = Acks::<S::Ack>::default();
    let mut failures = Vec::new();
    let mut lines = Vec::with_capacity(READ_LINES);
    let mut events = Vec::new();
    let mut pushed: u64 = 0;
    let mut flushed = false;
    'reading: while !control.stopping() {
        lines.clear();
        if let Err(e) = source.read(READ_LINES, &mut lines) {
            stats.read_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(pipeline = %id, error = %e, "cannot read the source");
            if mode == Mode::Once {
                failures.push(e.message);
                break;
            }
            source.wait(READ_RETRY);
            continue;
        }
        if lines.is_empty() && mode == Mode::Once && !flushed {
            source.flush_held(&mut lines);
            flushed = true;
        }
        if lines.is_empty() {
            state.settle(&mut source, &outputs, &cx);
            stats.record_source(source.counters());
            if mode == Mode::Once {
                break;
            }
            source.wait(IDLE_WAIT);
            continue;
        }
        for (event, ack) in lines.drain(..) {
            stages.apply(event, &mut events);
            for event in events.drain(..) {
                for at in 0..outputs.len() {
                    let encoded = (outputs[at].encode)(&event);
                    if let Err(e) = state.push(encoded, at, &mut source, &mut outputs, &cx) {
                        failures.push(format!("{} output: {}", outputs[at].kind, e.message));
                        break 'reading;
                    }
                }
                pushed += 1;
            }
            state.pending.push(pushed, ack, S::supersedes);
            if outputs.iter().any(|o| o.stream.wants_settle()) {
                state.settle(&mut source, &outputs, &cx);
            }
        }
        stats.events.store(pushed, Ordering::Relaxed);
        stats.record_stages(stages.counters());
        stats.record_source(source.counters());
        state.settle(&mut source, &outputs, &cx);
    }
    stats.events.store(pushed, Ordering::Relaxed);
    stats.record_stages(stages.counters());
    let delivered_all = match mode {
        // Nothing more comes: closing the outputs sends their last partial batches at once
        // (no batch timeout to wait for), and once every output has closed, everything
        // pushed was delivered (or refused for good).
        Mode::Once => {
            state.settle(&mut source, &outputs, &cx);
            let closed = close_outputs(outputs, drain.close, control, &mut failures);
            if closed {
                state.release_all(&mut source, control);
            }
            state.maybe_checkpoint(&mut source, stats, &id);
            control.freeze();
            closed && state.pending.is_empty()
        }
        // Delivery of what was pushed for the drain's grace, the last checkpoint, then the
        // outputs closed (and given up on after their grace).
        Mode::Follow => {
            let deadline = drain.grace.map(|g| Instant::now() + g);
            loop {
                state.settle(&mut source, &outputs, &cx);
                let frozen = *control.frozen.lock().unwrap_or_else(|p| p.into_inner());
                if state.pending.is_empty()
                    || frozen
                    || deadline.is_some_and(|at| Instant::now() >= at)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let acknowledged_all = state.pending.is_empty();
            state.maybe_checkpoint(&mut source, stats, &id);
            control.freeze();
            let closed = close_outputs(outputs, drain.close, control, &mut failures);
            acknowledged_all && closed
        }
    };
    stats.record_source(source.counters());
    stats.running.store(false, Ordering::Relaxed);
    RunEnd {
        lines_read: source.counters().lines_read,
        events: pushed,
        delivered_all,
        failures,
    }
}

/// What settling needs besides the source and the outputs.
struct RunContext<'a> {
    control: &'a Control,
    stats: &'a PipelineStats,
    id: &'a str,
}

/// The acknowledgement side of the thread: lines waiting for delivery, and whether positions
/// moved since they were last written.
struct Acks<A> {
    pending: PendingAcks<A>,
    acknowledged_since_checkpoint: bool,
    /// Each output's watermark as the last settle read it.
    marks: Vec<u64>,
}

impl<A> Default for Acks<A> {
    fn default() -> Self {
        Acks {
            pending: PendingAcks::default(),
            acknowledged_since_checkpoint: false,
            marks: Vec::new(),
        }
    }
}

impl<A> Acks<A> {
    /// Pushes `event` into output `at`. While its queue is full, settles (the batch thread of
    /// an output may be waiting for that before it sends, and so takes no events) and waits
    /// for room or for an output to want a settle.
    fn push<S: LineSource<Ack = A>>(
        &mut self,
        event: Vec<u8>,
        at: usize,
        source: &mut S,
        outputs: &mut [Output],
        cx: &RunContext<'_>,
    ) -> Result<(), crate::error::ResourceError> {
        let mut event = event;
        loop {
            match outputs[at].stream.try_push(event)? {
                Ok(_) => return Ok(()),
                Err(back) => event = back,
            }
            self.settle(source, outputs, cx);
            outputs[at]
                .stream
                .wait_for_room(|| outputs.iter().any(|o| o.stream.wants_settle()));
        }
    }

    /// Acknowledges every line all outputs have delivered, writes the checkpoint when that
    /// moved it, then lets each output send its next batch ([`crate::sinks::pipeline::Pacing`]):
    /// so a line delivered and not checkpointed is always in the last batch an output sent.
    fn settle<S: LineSource<Ack = A>>(
        &mut self,
        source: &mut S,
        outputs: &[Output],
        cx: &RunContext<'_>,
    ) {
        self.release(source, outputs, cx.control);
        self.maybe_checkpoint(source, cx.stats, cx.id);
        for (output, &mark) in outputs.iter().zip(&self.marks) {
            output.stream.settle(mark);
        }
    }

    /// Reads each output's watermark into `marks` and acknowledges every line all outputs
    /// have passed. The watermarks are read under the freeze lock: once the controller froze
    /// acknowledgements (and may give up on outputs, which moves their watermarks past
    /// undelivered events), nothing is acknowledged any more — and the outputs are let go on
    /// (the stop reads again what was not checkpointed).
    fn release<S: LineSource<Ack = A>>(
        &mut self,
        source: &mut S,
        outputs: &[Output],
        control: &Control,
    ) {
        let frozen = control.frozen.lock().unwrap_or_else(|p| p.into_inner());
        self.marks.clear();
        self.marks.extend(outputs.iter().map(|o| o.stream.safe()));
        if *frozen {
            return;
        }
        let safe = self.marks.iter().copied().min().unwrap_or(u64::MAX);
        let released = self.pending.release(safe, |ack| source.acknowledge(&ack));
        self.acknowledged_since_checkpoint |= released > 0;
    }

    /// Acknowledges every line read: the outputs closed with everything delivered.
    fn release_all<S: LineSource<Ack = A>>(&mut self, source: &mut S, control: &Control) {
        let frozen = control.frozen.lock().unwrap_or_else(|p| p.into_inner());
        if *frozen {
            return;
        }
        let released = self
            .pending
            .release(u64::MAX, |ack| source.acknowledge(&ack));
        self.acknowledged_since_checkpoint |= released > 0;
    }

    /// Writes the positions when lines were acknowledged since the last write (or since a
    /// write that failed).
    fn maybe_checkpoint<S: LineSource<Ack = A>>(
        &mut self,
        source: &mut S,
        stats: &PipelineStats,
        id: &str,
    ) {
        if !self.acknowledged_since_checkpoint {
            return;
        }
        match source.checkpoint() {
            Ok(()) => self.acknowledged_since_checkpoint = false,
            Err(e) => {
                stats.checkpoint_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(pipeline = %id, error = %e, "cannot write the checkpoint");
            }
        }
    }
}

/// Closes every output: each sends what it holds (its queue, its spool) for at most `grace`
/// (`None`: until done or a stop is asked for); then the gates of those still sending are
/// closed (see [`OutputGate`]) and their threads left to end alone. Whether every output
/// closed with everything sent; the batches refused for good are added to `failures`.
fn close_outputs(
    outputs: Vec<Output>,
    grace: Option<Duration>,
    control: &Control,
    failures: &mut Vec<String>,
) -> bool {
    let deadline = grace.map(|g| Instant::now() + g);
    let closing: Vec<(Arc<OutputGate>, std::sync::mpsc::Receiver<Vec<String>>)> = outputs
        .into_iter()
        .map(|output| {
            let (done, finished) = std::sync::mpsc::channel();
            let gate = output.gate.clone();
            let stream = output.stream;
            let spawned = std::thread::Builder::new()
                .name("driftless-log-close".to_owned())
                .spawn(move || {
                    let _ = done.send(stream.close());
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a thread to close a log output");
            }
            (gate, finished)
        })
        .collect();
    let mut all_closed = true;
    for (gate, finished) in closing {
        let closed = loop {
            match finished.recv_timeout(Duration::from_millis(20)) {
                Ok(refused) => {
                    failures.extend(refused);
                    break true;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let over = match deadline {
                        Some(at) => Instant::now() >= at,
                        None => control.stopping(),
                    };
                    if over {
                        break false;
                    }
                }
            }
        };
        if !closed {
            all_closed = false;
            tracing::warn!(output = %crate::sinks::Sink::describe(&*gate), "an output did not send its last batches in time; they are read again from the checkpoint (or sent from its spool) at the next start");
            gate.close();
        }
    }
    all_closed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::test_fakes::{DropAndSplit, Recorder, output, source};

    fn expected(total: u64) -> Vec<String> {
        (0..total)
            .filter(|n| n % 3 != 0)
            .flat_map(|n| {
                let copies = if n % 10 == 5 { 2 } else { 1 };
                std::iter::repeat_n(n.to_string(), copies)
            })
            .collect()
    }

    #[test]
    fn once_delivers_every_event_to_every_output_and_checkpoints_the_last_line() {
        let (source, acknowledged, checkpointed) = source(1000);
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let parts = PipelineParts {
            id: "t".to_owned(),
            source,
            stages: DropAndSplit,
            outputs: vec![output(a.clone()), output(b.clone())],
        };
        let stats = PipelineStats::new("t", &parts.outputs);
        let end = run(
            parts,
            Mode::Once,
            Drain {
                grace: None,
                close: None,
            },
            &Control::default(),
            &stats,
        );
        assert!(end.delivered_all, "{end:?}");
        assert_eq!(*a.lines.lock().unwrap(), expected(1000));
        assert_eq!(*b.lines.lock().unwrap(), expected(1000));
        // Line 999 was dropped by the filter: it is acknowledged with the events before it.
        assert_eq!(*acknowledged.lock().unwrap(), Some(999));
        assert_eq!(checkpointed.lock().unwrap().last(), Some(&999));
        assert_eq!(
            stats.outputs[0].gate.delivered(),
            expected(1000).len() as u64
        );
    }

    #[test]
    fn an_output_sends_a_batch_only_once_the_lines_of_the_batches_before_are_checkpointed() {
        let (source, acknowledged, checkpointed) = source(3000);
        let recorder = Arc::new(Recorder::default());
        let _ = recorder.checkpoints.set(checkpointed.clone());
        let parts = PipelineParts {
            id: "t".to_owned(),
            source,
            stages: DropAndSplit,
            outputs: vec![output(recorder.clone())],
        };
        let stats = Arc::new(PipelineStats::new("t", &parts.outputs));
        let control = Arc::new(Control::default());
        let thread = {
            let (stats, control) = (stats.clone(), control.clone());
            std::thread::spawn(move || {
                let drain = Drain {
                    grace: Some(Duration::from_secs(5)),
                    close: Some(Duration::from_secs(5)),
                };
                run(parts, Mode::Follow, drain, &control, &stats)
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while *acknowledged.lock().unwrap() != Some(2999) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        control.stop();
        assert!(thread.join().unwrap().delivered_all);
        assert_eq!(*recorder.lines.lock().unwrap(), expected(3000));
        // Batches of 50 records: dozens of them, none sent ahead of the checkpoint.
        assert!(recorder.sends.load(Ordering::Relaxed) > 40);
        assert_eq!(recorder.unpaced.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_output_that_is_down_holds_the_checkpoint_and_blocks_the_source_then_resumes() {
        let (source, acknowledged, _) = source(2000);
        let (up, down) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        down.down.store(true, Ordering::Relaxed);
        let parts = PipelineParts {
            id: "t".to_owned(),
            source,
            stages: DropAndSplit,
            outputs: vec![output(up.clone()), output(down.clone())],
        };
        let stats = Arc::new(PipelineStats::new("t", &parts.outputs));
        let control = Arc::new(Control::default());
        let thread = {
            let (stats, control) = (stats.clone(), control.clone());
            std::thread::spawn(move || {
                run(
                    parts,
                    Mode::Follow,
                    Drain {
                        grace: Some(Duration::from_secs(5)),
                        close: Some(Duration::from_secs(5)),
                    },
                    &control,
                    &stats,
                )
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        // Bounded: the down output's queue (2 batches of 50) and one batch in the sender,
        // and then the source waits; nothing is acknowledged but line 0, which the filter
        // dropped before any record.
        assert!(matches!(*acknowledged.lock().unwrap(), None | Some(0)));
        let read = stats.lines_read.load(Ordering::Relaxed);
        assert!(read < 400, "the source is blocked, read {read}");
        let up_got = up.lines.lock().unwrap().len();
        assert!(up_got > 0, "the other output keeps receiving what was read");
        down.down.store(false, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while *acknowledged.lock().unwrap() != Some(1999) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        control.stop();
        let end = thread.join().unwrap();
        assert!(end.delivered_all);
        assert_eq!(*down.lines.lock().unwrap(), expected(2000));
        assert_eq!(*up.lines.lock().unwrap(), expected(2000));
    }

    #[test]
    fn a_stop_with_an_output_down_checkpoints_only_what_every_output_has_and_ends() {
        let (source, acknowledged, checkpointed) = source(5000);
        let (up, down) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        down.down.store(true, Ordering::Relaxed);
        let parts = PipelineParts {
            id: "t".to_owned(),
            source,
            stages: DropAndSplit,
            outputs: vec![output(up.clone()), output(down.clone())],
        };
        let stats = Arc::new(PipelineStats::new("t", &parts.outputs));
        let control = Arc::new(Control::default());
        let thread = {
            let (stats, control) = (stats.clone(), control.clone());
            std::thread::spawn(move || {
                run(
                    parts,
                    Mode::Follow,
                    Drain {
                        grace: Some(Duration::from_millis(200)),
                        close: Some(Duration::from_millis(200)),
                    },
                    &control,
                    &stats,
                )
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        control.stop();
        // The thread is blocked pushing into the full queue of the output that is down: the
        // controller freezes acknowledgements and gives up on the outputs.
        std::thread::sleep(Duration::from_millis(300));
        control.freeze();
        for output in &stats.outputs {
            output.gate.close();
        }
        let end = thread.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the stop is bounded"
        );
        assert!(!end.delivered_all);
        assert!(!up.lines.lock().unwrap().is_empty());
        // Nothing reached the output that is down: nothing was acknowledged or checkpointed
        // but line 0, which the filter dropped before any record.
        assert!(matches!(*acknowledged.lock().unwrap(), None | Some(0)));
        assert!(checkpointed.lock().unwrap().iter().all(|&line| line == 0));
    }
}
