//! The sink a log output's [`crate::sinks::pipeline::Pipeline`] sends through: it counts what
//! the receiver acknowledged (the `sent` metric, read without the pipeline's thread), and it
//! lets a stopping pipeline give up on an output that does not take its batches, without
//! losing anything.
//!
//! A pipeline closing an output waits for its queue to be delivered. An output whose receiver
//! is down would hold the stop forever, so after the stop's grace the gate is closed: the
//! source's checkpoint was written before (it covers only what the outputs acknowledged), and
//! what is still queued is read again from the checkpoint at the next start. Then a send
//!
//! - without a spool, fails for good at once, so the pipeline's thread empties its queue and
//!   ends (the events are not acknowledged to the source: the checkpoint was frozen first);
//! - with a spool, never returns: the batch stays in the spool file for the next process,
//!   which sends it first. Removing it after a failure would lose it. The thread is left
//!   parked; it holds one batch and ends with the process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::error::{ResourceError, Retry};
use crate::sinks::{Batch, SendError, Sink};

pub struct OutputGate {
    inner: Arc<dyn Sink>,
    /// Whether the output spools: a closed gate then parks a send instead of failing it.
    spooled: bool,
    closed: AtomicBool,
    /// Events the receiver acknowledged.
    delivered: AtomicU64,
    /// Events of batches the receiver refused for good (passed over by the stream).
    refused: AtomicU64,
    /// Where parked sends wait (forever: nothing opens a closed gate).
    parked: (Mutex<()>, Condvar),
}

impl OutputGate {
    pub fn new(inner: Arc<dyn Sink>, spooled: bool) -> OutputGate {
        OutputGate {
            inner,
            spooled,
            closed: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            parked: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Events the receiver acknowledged so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Events of batches the receiver refused for good.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Stops passing batches on (see the module's doc).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// What a send does once the gate is closed.
    fn refuse(&self) -> Result<(), SendError> {
        if self.spooled {
            let mut guard = self.parked.0.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                guard = self.parked.1.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
        }
        Err(ResourceError::permanent(format!(
            "{}: the pipeline stopped before this batch was delivered; its lines are read \
             again from the checkpoint at the next start",
            self.inner.describe()
        ))
        .into())
    }
}

impl Sink for OutputGate {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        if self.closed.load(Ordering::SeqCst) {
            return self.refuse();
        }
        let sent = self.inner.send(batch);
        // Closed while sending: a spooled batch must stay in its file whatever happened.
        if self.spooled && self.closed.load(Ordering::SeqCst) {
            return self.refuse();
        }
        let counter = match &sent {
            Ok(()) => &self.delivered,
            Err(e) if e.error.retry == Retry::Permanent => &self.refused,
            Err(_) => return sent,
        };
        counter.fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        sent
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn health(&self) -> Result<(), ResourceError> {
        self.inner.health()
    }
}
