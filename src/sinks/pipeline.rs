//! Event streams (log lines, metrics) into a sink: a queue bounded by events and by bytes
//! with blocking backpressure, batches cut by count, bytes and time, an optional disk spool,
//! and a watermark of what is safe.
//!
//! Delivery is at least once. [`Pipeline::push`] numbers each event; [`Pipeline::safe`] is
//! the number of the last event that cannot be lost any more — delivered (the sink
//! acknowledged its batch), or, with a spool, written to the spool and synced. A source keeps
//! its own checkpoint at that watermark, so after a crash it sends again at most what was
//! not yet safe (duplicates, never gaps). With [`Pacing::Settled`] the owner settles each
//! watermark (writes its checkpoint) before the next batch is sent, so what is safe and not
//! checkpointed is never more than one batch. A batch the receiver refuses for good (a 400) is
//! reported and counted, then passed over: waiting would stop the stream forever.
//!
//! Without a spool one thread cuts and sends batches; a send failing transiently is tried
//! again (backoff with jitter) until it succeeds, while the queue fills and `push` blocks.
//! With a spool, one thread cuts batches into spool files (`<number>.batch`, written
//! atomically and synced; when the spool is full it waits, and `push` blocks) and another
//! sends them in order, removing each once acknowledged. A new pipeline on the same spool
//! sends what an earlier process left there first. Event numbers and the watermark are the
//! process's own: they start at 0 in each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::event_queue::{Empty, EventQueue};
use super::retry::{RetryPolicy, Retrying};
use super::{Batch, Sink};
use crate::error::ResourceError;
use crate::fsutil::write_atomic;
use crate::model::sinks::{BatchConfig, SpoolConfig};

/// When a batch is cut, and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    pub max_events: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
    /// Batches' worth of events that may wait in memory before `push` blocks.
    pub queue: usize,
    /// Bytes of events (their buffers on the heap) that may wait in memory before `push`
    /// blocks, whichever of the two bounds comes first. The batch being cut and sent is not
    /// in the queue: a stream holds at most this and `max_bytes`.
    pub queue_bytes: usize,
}

impl BatchPolicy {
    pub const DEFAULT: BatchPolicy = BatchPolicy {
        max_events: 1000,
        max_bytes: 1 << 20,
        timeout: Duration::from_secs(1),
        queue: 8,
        queue_bytes: 4 << 20,
    };

    pub fn of(config: Option<&BatchConfig>) -> BatchPolicy {
        let default = BatchPolicy::DEFAULT;
        let Some(c) = config else {
            return default;
        };
        let size = |n: Option<u64>, default: usize| {
            n.map_or(default, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX))
        };
        BatchPolicy {
            max_events: size(c.max_events, default.max_events),
            max_bytes: size(c.max_bytes, default.max_bytes),
            timeout: c.timeout.map_or(default.timeout, |d| d.0),
            queue: size(c.queue, default.queue),
            queue_bytes: size(c.queue_bytes, default.queue_bytes),
        }
    }
}

/// Where batches wait on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolPolicy {
    pub path: PathBuf,
    pub max_bytes: u64,
}

impl SpoolPolicy {
    pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

    pub fn of(config: &SpoolConfig) -> SpoolPolicy {
        SpoolPolicy {
            path: PathBuf::from(&config.path),
            max_bytes: config.max_bytes.unwrap_or(Self::DEFAULT_MAX_BYTES),
        }
    }
}

/// When a batch may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// As soon as it is cut.
    Free,
    /// Once the owner settled ([`Pipeline::settle`]) the watermark of the batch before: a
    /// source that checkpoints when it settles then never has more than one batch delivered
    /// and not checkpointed. The owner looks at [`Pipeline::wants_settle`] often; while it
    /// waits for room ([`Pipeline::wait_for_room`]) it is woken to settle. Once the producer
    /// is gone (the stream closes), batches go out freely.
    Settled,
}

/// What the threads share with the producer.
struct Shared {
    /// The number of the last event that is safe (see the module's doc).
    safe: AtomicU64,
    /// The watermark the producer settled last ([`Pacing::Settled`]).
    settled: AtomicU64,
    /// Events passed over because their batch was refused for good.
    dropped: AtomicU64,
    /// Why sends failed for good, newest last (bounded).
    failures: Mutex<Vec<String>>,
    /// The spool's batches not yet acknowledged: number → bytes.
    spooled: Mutex<BTreeMap<u64, u64>>,
    spool_changed: Condvar,
    /// Set when the producer is gone and every queued event was cut into a batch.
    cutting_done: Mutex<bool>,
}

const MAX_FAILURES_KEPT: usize = 100;

impl Shared {
    fn fail(&self, message: String, events: u64) {
        tracing::error!(error = %message, events, "a batch was refused for good");
        self.dropped.fetch_add(events, Ordering::Relaxed);
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() == MAX_FAILURES_KEPT {
                failures.remove(0);
            }
            failures.push(message);
        }
    }
}

/// A running stream into one sink.
pub struct Pipeline {
    queue: Arc<EventQueue>,
    /// Whether the producer is still pushing (the queue is closed on its side once not).
    open: bool,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    next: u64,
}

impl Pipeline {
    /// Starts the stream's threads over `sink` as [`super::open`] makes it: the pipeline adds
    /// the retry layer, with `retry`'s backoff and no last attempt. With a spool, batches an
    /// earlier process left there are sent first.
    pub fn start(
        sink: Arc<dyn Sink>,
        batch: BatchPolicy,
        retry: RetryPolicy,
        spool: Option<SpoolPolicy>,
        pacing: Pacing,
    ) -> Result<Pipeline, ResourceError> {
        let until_sent = RetryPolicy {
            attempts: u32::MAX,
            ..retry
        };
        let sink: Arc<dyn Sink> = Arc::new(Retrying::new(sink, until_sent));
        let queue = Arc::new(EventQueue::new(
            batch.max_events.saturating_mul(batch.queue),
            batch.queue_bytes,
        ));
        let shared = Arc::new(Shared {
            safe: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failures: Mutex::new(Vec::new()),
            spooled: Mutex::new(BTreeMap::new()),
            spool_changed: Condvar::new(),
            cutting_done: Mutex::new(false),
        });
        let mut threads = Vec::new();
        let (spool, last_left) = match spool {
            Some(policy) => {
                let last_left = Spool::open(&policy, &shared)?;
                let spool = Spool { policy };
                let (sender_side, sink, shared) = (spool.clone(), sink.clone(), shared.clone());
                threads.push(spawn("driftless-spool-send", move || {
                    send_spooled(&sender_side, &*sink, &shared);
                })?);
                (Some(spool), last_left)
            }
            None => (None, 0),
        };
        let cutter = Cutter {
            queue: queue.clone(),
            policy: batch,
            pacing,
            sink,
            shared: shared.clone(),
        };
        threads.push(spawn("driftless-batch", move || {
            cutter.run(spool, last_left);
            cutter.queue.close_consumer();
        })?);
        Ok(Pipeline {
            queue,
            open: true,
            threads,
            shared,
            next: 0,
        })
    }

    /// Queues one event (a log line, a JSON document); blocks while the queue is full.
    /// Returns the event's number.
    pub fn push(&mut self, event: Vec<u8>) -> Result<u64, ResourceError> {
        let mut event = event;
        loop {
            match self.try_push(event)? {
                Ok(number) => return Ok(number),
                Err(back) => event = back,
            }
            self.wait_for_room(|| false);
        }
    }

    /// Queues one event when there is room (its number), else gives it back.
    pub fn try_push(&mut self, event: Vec<u8>) -> Result<Result<u64, Vec<u8>>, ResourceError> {
        if !self.open {
            return Err(ResourceError::permanent("the stream is closed"));
        }
        match self.queue.try_push(event) {
            Err(()) => Err(ResourceError::permanent("the stream's sender stopped")),
            Ok(Some(back)) => Ok(Err(back)),
            Ok(None) => {
                self.next += 1;
                Ok(Ok(self.next))
            }
        }
    }

    /// Blocks until the queue has room, or `interrupt` holds (looked at when this stream's
    /// batch thread wants a settle, and when it frees room).
    pub fn wait_for_room(&self, interrupt: impl Fn() -> bool) {
        self.queue.wait_for_room(interrupt);
    }

    /// Whether delivered events wait to be settled ([`Pacing::Settled`]).
    pub fn wants_settle(&self) -> bool {
        self.safe() > self.shared.settled.load(Ordering::Acquire)
    }

    /// Everything up to `watermark` (a value [`Pipeline::safe`] returned) is settled: the
    /// next batch may go.
    pub fn settle(&self, watermark: u64) {
        self.shared.settled.fetch_max(watermark, Ordering::AcqRel);
        self.queue.settle(watermark);
    }

    /// The number of the last event that cannot be lost any more (0: none yet).
    pub fn safe(&self) -> u64 {
        self.shared.safe.load(Ordering::Acquire)
    }

    /// Events passed over because the receiver refused their batch for good.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Why batches were refused for good, oldest first (the last 100).
    pub fn failures(&self) -> Vec<String> {
        self.shared
            .failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Stops taking events, delivers every one queued (retrying as long as it takes), and
    /// waits for the threads.
    pub fn close(mut self) -> Vec<String> {
        self.close_producer();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.failures()
    }
}

impl Pipeline {
    fn close_producer(&mut self) {
        if self.open {
            self.open = false;
            self.queue.close_producer();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.close_producer();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ResourceError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|e| ResourceError::io("cannot start a sink thread", &e))
}

/// The batch thread: takes events off the queue into batches; each batch is sent (no spool)
/// or spooled.
struct Cutter {
    queue: Arc<EventQueue>,
    policy: BatchPolicy,
    pacing: Pacing,
    sink: Arc<dyn Sink>,
    shared: Arc<Shared>,
}

impl Cutter {
    /// Cuts batches until the producer is gone and the queue empty; they are numbered after
    /// `number`, the last batch an earlier process left in the spool.
    fn run(&self, spool: Option<Spool>, mut number: u64) {
        let (policy, shared) = (&self.policy, &*self.shared);
        let mut last_event = 0;
        let mut open = true;
        while open {
            let mut events: Vec<Vec<u8>> = Vec::new();
            let mut bytes = 0;
            let mut deadline: Option<Instant> = None;
            while events.len() < policy.max_events && bytes < policy.max_bytes {
                match self.queue.take(deadline) {
                    Ok(event) => {
                        bytes += event.len();
                        events.push(event);
                        deadline.get_or_insert_with(|| Instant::now() + policy.timeout);
                    }
                    Err(Empty::Timeout) => break,
                    Err(Empty::Closed) => {
                        open = false;
                        break;
                    }
                }
            }
            if events.is_empty() {
                continue;
            }
            if self.pacing == Pacing::Settled {
                // The batch before is delivered: the owner checkpoints it before this one
                // goes, and is woken for that if it waits for room.
                self.queue.wait_settled(shared.safe.load(Ordering::Acquire));
            }
            number += 1;
            last_event += events.len() as u64;
            let batch = Batch {
                events,
                time: SystemTime::now(),
                id: number.to_string(),
                document: false,
            };
            match &spool {
                Some(spool) => spool.put(number, &batch, last_event, shared),
                None => {
                    deliver(&*self.sink, &batch, shared);
                    shared.safe.store(last_event, Ordering::Release);
                }
            }
            if self.pacing == Pacing::Settled {
                self.queue.wake_producer();
            }
        }
        if let Ok(mut done) = shared.cutting_done.lock() {
            *done = true;
        }
        shared.spool_changed.notify_all();
    }
}

/// Sends one batch through the pipeline's retry layer (which tries a transient failure again
/// until it passes): a batch refused for good is reported and counted.
fn deliver(sink: &dyn Sink, batch: &Batch, shared: &Shared) {
    if let Err(e) = sink.send(batch) {
        shared.fail(
            format!("{}: {}", sink.describe(), e.error.message),
            batch.events.len() as u64,
        );
    }
}

/// The spool directory: `<batch number>.batch` files, each the batch's events framed by
/// [`frame`].
#[derive(Clone)]
struct Spool {
    policy: SpoolPolicy,
}

impl Spool {
    /// Makes the spool directory (0700) when missing and registers the batches an earlier
    /// process left there; returns the number of the last one (0: none).
    fn open(policy: &SpoolPolicy, shared: &Shared) -> Result<u64, ResourceError> {
        use std::os::unix::fs::DirBuilderExt;
        let fail = |e: std::io::Error| {
            ResourceError::io(format_args!("spool {}", policy.path.display()), &e)
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&policy.path)
            .map_err(fail)?;
        let mut last = 0;
        let mut spooled = shared
            .spooled
            .lock()
            .map_err(|_| ResourceError::permanent("the spool's lock is poisoned"))?;
        for entry in std::fs::read_dir(&policy.path).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".batch"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            spooled.insert(number, entry.metadata().map_err(fail)?.len());
            last = last.max(number);
        }
        Ok(last)
    }

    fn file(&self, number: u64) -> PathBuf {
        self.policy.path.join(format!("{number:020}.batch"))
    }

    /// Writes the batch into the spool once there is room (waiting for the sender to free
    /// some), then marks its events safe.
    fn put(&self, number: u64, batch: &Batch, last_event: u64, shared: &Shared) {
        let bytes = frame(&batch.events);
        let size = bytes.len() as u64;
        let Ok(mut spooled) = shared.spooled.lock() else {
            return;
        };
        // A batch larger than the whole spool still goes in when the spool is empty.
        while !spooled.is_empty() && spooled.values().sum::<u64>() + size > self.policy.max_bytes {
            spooled = match shared.spool_changed.wait(spooled) {
                Ok(guard) => guard,
                Err(_) => return,
            };
        }
        let path = self.file(number);
        loop {
            match write_atomic(&path, &bytes, 0o600, (None, None)) {
                Ok(()) => break,
                Err(e) => {
                    // A full disk or a read-only mount: the stream waits (and `push` blocks)
                    // rather than losing the batch.
                    tracing::error!(spool = %self.policy.path.display(), error = %e, "cannot write to the spool, waiting");
                    drop(spooled);
                    std::thread::sleep(Duration::from_secs(1));
                    spooled = match shared.spooled.lock() {
                        Ok(guard) => guard,
                        Err(_) => return,
                    };
                }
            }
        }
        spooled.insert(number, size);
        shared.safe.store(last_event, Ordering::Release);
        shared.spool_changed.notify_all();
    }
}

/// A spool file's bytes: each event as its length in decimal, a line break, its bytes and a
/// line break (events may hold line breaks themselves).
fn frame(events: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.len() + 12).sum());
    for event in events {
        out.extend_from_slice(format!("{}\n", event.len()).as_bytes());
        out.extend_from_slice(event);
        out.push(b'\n');
    }
    out
}

/// The events of a spool file ([`frame`]).
fn read_spooled(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path)?;
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a spool file", path.display()),
        )
    };
    let mut events = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let end = rest.iter().position(|b| *b == b'\n').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        let body = rest.get(end + 1..end + 1 + len).ok_or_else(bad)?;
        events.push(body.to_vec());
        rest = rest.get(end + 2 + len..).ok_or_else(bad)?;
    }
    Ok(events)
}

/// Sends the spool's batches in order, removing each once acknowledged; ends when the cutter
/// is done and the spool is empty.
fn send_spooled(spool: &Spool, sink: &dyn Sink, shared: &Shared) {
    loop {
        let next = {
            let Ok(mut spooled) = shared.spooled.lock() else {
                return;
            };
            loop {
                if let Some((&number, _)) = spooled.iter().next() {
                    break number;
                }
                if shared.cutting_done.lock().map(|d| *d).unwrap_or(true) {
                    return;
                }
                spooled = match shared
                    .spool_changed
                    .wait_timeout(spooled, Duration::from_millis(200))
                {
                    Ok((guard, _)) => guard,
                    Err(_) => return,
                };
            }
        };
        let path = spool.file(next);
        match read_spooled(&path) {
            Ok(events) => {
                let time = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .unwrap_or_else(|_| SystemTime::now());
                let batch = Batch {
                    events,
                    time,
                    id: next.to_string(),
                    document: false,
                };
                deliver(sink, &batch, shared);
            }
            Err(e) => shared.fail(format!("spool file {}: {e}", path.display()), 0),
        }
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(file = %path.display(), error = %e, "cannot remove a delivered batch from the spool");
        }
        if let Ok(mut spooled) = shared.spooled.lock() {
            spooled.remove(&next);
        }
        shared.spool_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::SendError;

    /// Records every batch; refuses (transiently) while `down` is set; never returns when
    /// `hung` (a process that died).
    #[derive(Default)]
    struct Recorder {
        batches: Mutex<Vec<Vec<Vec<u8>>>>,
        down: std::sync::atomic::AtomicBool,
        hung: std::sync::atomic::AtomicBool,
        attempts: AtomicU64,
    }

    impl Sink for Recorder {
        fn send(&self, batch: &Batch) -> Result<(), SendError> {
            while self.hung.load(Ordering::Relaxed) {
                std::thread::park();
            }
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                return Err(ResourceError::transient("connection refused").into());
            }
            self.batches
                .lock()
                .expect("lock")
                .push(batch.events.clone());
            Ok(())
        }
        fn describe(&self) -> String {
            "recorder".to_owned()
        }
    }

    const FAST_RETRY: RetryPolicy = RetryPolicy {
        attempts: 1,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };

    fn policy(max_events: usize) -> BatchPolicy {
        BatchPolicy {
            max_events,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(20),
            queue: 2,
            queue_bytes: 1 << 20,
        }
    }

    fn delivered(recorder: &Recorder) -> Vec<String> {
        recorder
            .batches
            .lock()
            .expect("lock")
            .iter()
            .flatten()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn events_are_cut_into_batches_by_count_and_all_delivered_in_order() {
        let recorder = Arc::new(Recorder::default());
        let mut pipeline =
            Pipeline::start(recorder.clone(), policy(10), FAST_RETRY, None, Pacing::Free)
                .expect("start");
        for i in 0..95 {
            pipeline.push(format!("e{i}").into_bytes()).expect("push");
        }
        assert!(pipeline.close().is_empty());
        let got = delivered(&recorder);
        assert_eq!(got.len(), 95);
        assert_eq!(got[94], "e94");
        let sizes: Vec<usize> = recorder
            .batches
            .lock()
            .expect("lock")
            .iter()
            .map(Vec::len)
            .collect();
        assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
    }

    #[test]
    fn a_batch_is_cut_by_time_and_the_watermark_follows_acknowledgements() {
        let recorder = Arc::new(Recorder::default());
        let mut pipeline = Pipeline::start(
            recorder.clone(),
            policy(1000),
            FAST_RETRY,
            None,
            Pacing::Free,
        )
        .expect("start");
        pipeline.push(b"one".to_vec()).expect("push");
        pipeline.push(b"two".to_vec()).expect("push");
        let deadline = Instant::now() + Duration::from_secs(5);
        while pipeline.safe() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pipeline.safe(), 2);
        assert_eq!(delivered(&recorder), ["one", "two"]);
    }

    #[test]
    fn an_outage_is_waited_out_without_losing_or_reordering_events() {
        let recorder = Arc::new(Recorder::default());
        recorder.down.store(true, Ordering::Relaxed);
        let mut pipeline =
            Pipeline::start(recorder.clone(), policy(5), FAST_RETRY, None, Pacing::Free)
                .expect("start");
        let up = {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                recorder.down.store(false, Ordering::Relaxed);
            })
        };
        for i in 0..50 {
            pipeline.push(format!("{i}").into_bytes()).expect("push");
        }
        pipeline.close();
        up.join().expect("join");
        let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        assert_eq!(delivered(&recorder), expected);
        assert!(recorder.attempts.load(Ordering::Relaxed) > 10);
    }

    #[test]
    fn a_spool_keeps_what_was_not_delivered_for_the_next_process() {
        let temp = tempfile::tempdir().expect("temp");
        let spool = SpoolPolicy {
            path: temp.path().join("spool"),
            max_bytes: 1 << 20,
        };
        let dead = Arc::new(Recorder::default());
        dead.hung.store(true, Ordering::Relaxed);
        let mut pipeline = Pipeline::start(
            dead.clone(),
            policy(4),
            FAST_RETRY,
            Some(spool.clone()),
            Pacing::Free,
        )
        .expect("start");
        for i in 0..10 {
            let event = if i == 3 {
                "3\nwith a line break".to_owned()
            } else {
                i.to_string()
            };
            pipeline.push(event.into_bytes()).expect("push");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while pipeline.safe() < 10 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pipeline.safe(), 10, "spooled is safe");
        // The process dies: its threads are left behind, never delivering.
        std::mem::forget(pipeline);

        let up = Arc::new(Recorder::default());
        let mut next = Pipeline::start(
            up.clone(),
            policy(4),
            FAST_RETRY,
            Some(spool.clone()),
            Pacing::Free,
        )
        .expect("restart");
        assert_eq!(next.safe(), 0, "numbers are the process's own");
        assert_eq!(next.push(b"10".to_vec()).expect("push"), 1);
        next.close();
        let mut expected: Vec<String> = (0..=10).map(|i| i.to_string()).collect();
        expected[3] = "3\nwith a line break".to_owned();
        assert_eq!(delivered(&up), expected);
        assert_eq!(
            std::fs::read_dir(&spool.path).expect("spool").count(),
            0,
            "delivered batches leave the spool"
        );
    }
}
