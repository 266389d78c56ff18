//! Fakes for the unit tests of the pipeline and its controller: a source of numbered lines
//! that records what was acknowledged and checkpointed, stages that drop and split, and a
//! sink that records what it received and can be down.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::log_pipeline::{EventStages, LineSource, Output, SourceCounters, StageCounters};
use super::output_gate::OutputGate;
use super::{LogError, LogEvent};
use crate::sinks::pipeline::{BatchPolicy, Pacing, Pipeline};
use crate::sinks::retry::RetryPolicy;
use crate::sinks::{Batch, SendError, Sink};

/// Lines `0..total` of one file; an ack is the line's number. Records what was
/// acknowledged and checkpointed.
pub struct FakeSource {
    pub next: u64,
    pub total: u64,
    pub acknowledged: Arc<Mutex<Option<u64>>>,
    pub checkpointed: Arc<Mutex<Vec<u64>>>,
}

impl LineSource for FakeSource {
    type Ack = u64;
    fn read(&mut self, max: usize, out: &mut Vec<(LogEvent, u64)>) -> Result<(), LogError> {
        while self.next < self.total && out.len() < max {
            out.push((
                LogEvent::new(self.next.to_string(), Arc::from("/fake")),
                self.next,
            ));
            self.next += 1;
        }
        Ok(())
    }
    fn wait(&mut self, timeout: Duration) {
        std::thread::sleep(timeout.min(Duration::from_millis(5)));
    }
    fn acknowledge(&mut self, ack: &u64) {
        let mut last = self.acknowledged.lock().unwrap();
        assert!(last.is_none_or(|l| l < *ack), "acks go forward");
        *last = Some(*ack);
    }
    fn supersedes(newer: &u64, older: &u64) -> bool {
        newer > older
    }
    fn checkpoint(&mut self) -> Result<(), LogError> {
        let last = *self.acknowledged.lock().unwrap();
        self.checkpointed.lock().unwrap().push(last.unwrap_or(0));
        Ok(())
    }
    fn counters(&self) -> SourceCounters {
        SourceCounters {
            lines_read: self.next,
            ..SourceCounters::default()
        }
    }
}

/// Drops lines divisible by 3, splits lines ending in 5 into two events.
pub struct DropAndSplit;

impl EventStages for DropAndSplit {
    fn apply(&mut self, event: LogEvent, out: &mut Vec<LogEvent>) {
        let n: u64 = event.message.parse().unwrap();
        if n.is_multiple_of(3) {
            return;
        }
        if n % 10 == 5 {
            out.push(event.clone());
        }
        out.push(event);
    }
    fn counters(&self) -> StageCounters {
        StageCounters::default()
    }
}

#[derive(Default)]
pub struct Recorder {
    pub lines: Mutex<Vec<String>>,
    pub down: AtomicBool,
    pub sends: AtomicUsize,
    /// When set, the fake source's checkpoints: each batch taken checks that every line of
    /// the batches before is checkpointed (pacing).
    pub checkpoints: std::sync::OnceLock<Arc<Mutex<Vec<u64>>>>,
    /// Batches taken while a line of an earlier batch was not checkpointed.
    pub unpaced: AtomicUsize,
}

impl Sink for Recorder {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        self.sends.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return Err(crate::error::ResourceError::transient("refused").into());
        }
        let mut lines = self.lines.lock().unwrap();
        if let (Some(checkpoints), Some(last)) = (self.checkpoints.get(), lines.last()) {
            // Lines before the last one delivered are delivered whole (a split line's
            // records are in a row).
            let last: u64 = last.parse().unwrap();
            let checkpointed = checkpoints.lock().unwrap().last().copied();
            if last > 0 && checkpointed.is_none_or(|c| c + 1 < last) {
                self.unpaced.fetch_add(1, Ordering::Relaxed);
            }
        }
        lines.extend(
            batch
                .events
                .iter()
                .map(|e| String::from_utf8_lossy(e).into_owned()),
        );
        Ok(())
    }
    fn describe(&self) -> String {
        "recorder".to_owned()
    }
}

pub const FAST: RetryPolicy = RetryPolicy {
    attempts: 1,
    initial_backoff: Duration::from_millis(1),
    max_backoff: Duration::from_millis(5),
};

pub fn output(sink: Arc<Recorder>) -> Output {
    let gate = Arc::new(OutputGate::new(sink, false));
    let policy = BatchPolicy {
        max_events: 50,
        max_bytes: 1 << 20,
        timeout: Duration::from_millis(10),
        queue: 2,
        queue_bytes: 1 << 20,
    };
    Output {
        kind: "recorder",
        stream: Pipeline::start(gate.clone(), policy, FAST, None, Pacing::Settled).unwrap(),
        gate,
        encode: Box::new(|e: &LogEvent| e.message.clone().into_bytes()),
    }
}

/// What a fake source was told: the last acknowledged line, and each checkpoint.
pub type Acknowledged = Arc<Mutex<Option<u64>>>;
pub type Checkpointed = Arc<Mutex<Vec<u64>>>;

pub fn source(total: u64) -> (FakeSource, Acknowledged, Checkpointed) {
    let acknowledged = Arc::new(Mutex::new(None));
    let checkpointed = Arc::new(Mutex::new(Vec::new()));
    let source = FakeSource {
        next: 0,
        total,
        acknowledged: acknowledged.clone(),
        checkpointed: checkpointed.clone(),
    };
    (source, acknowledged, checkpointed)
}
