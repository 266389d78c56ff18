//! The queue between a stream's producer and its batch thread, bounded by events and by the
//! bytes its events hold on the heap — what Vector's memory buffers bound — so a stream's
//! memory is the same for 100-byte and 10-KiB records, whatever the batch size.
//!
//! It also carries the pacing of a settled stream (see [`super::pipeline::Pacing`]): the batch
//! thread waits for the producer to settle what was delivered, and a producer waiting for
//! room is woken to do so.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// What an event whose buffer holds `capacity` bytes costs the queue: the buffer and the
/// `Vec` that owns it.
fn weight(capacity: usize) -> usize {
    capacity + std::mem::size_of::<Vec<u8>>()
}

/// Events that wake a batch thread waiting with a batch open: it takes them at once then, and
/// the rest at its batch's deadline, rather than being woken (a futex call, a context switch)
/// for each event.
const WAKE_CHUNK: usize = 256;

/// How a [`EventQueue::take`] ended without an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// The deadline passed.
    Timeout,
    /// The producer is gone and every event was taken.
    Closed,
}

pub struct EventQueue {
    state: Mutex<State>,
    /// The producer waits here for room (or to be asked to settle).
    room: Condvar,
    /// The batch thread waits here for events (or for a settle).
    ready: Condvar,
    max_events: usize,
    max_bytes: usize,
}

struct State {
    events: VecDeque<Vec<u8>>,
    /// The weight of `events` ([`weight`]).
    bytes: usize,
    producer_gone: bool,
    consumer_gone: bool,
    producer_waiting: bool,
    consumer_waiting: bool,
    /// How many queued events wake the waiting batch thread (see [`WAKE_CHUNK`]).
    consumer_wants: usize,
    /// The watermark the producer settled last.
    settled: u64,
}

impl EventQueue {
    /// A queue holding at most `max_events` events and `max_bytes` of them (one event always
    /// fits in an empty queue, however large).
    pub fn new(max_events: usize, max_bytes: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(State {
                events: VecDeque::new(),
                bytes: 0,
                producer_gone: false,
                consumer_gone: false,
                producer_waiting: false,
                consumer_waiting: false,
                consumer_wants: 1,
                settled: 0,
            }),
            room: Condvar::new(),
            ready: Condvar::new(),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self, state: &State) -> bool {
        state.events.is_empty()
            || (state.events.len() < self.max_events && state.bytes < self.max_bytes)
    }

    /// Queues `event` when there is room; gives it back when the queue is full. `Err(())`:
    /// the batch thread is gone.
    pub fn try_push(&self, event: Vec<u8>) -> Result<Option<Vec<u8>>, ()> {
        let mut state = self.lock();
        if state.consumer_gone {
            return Err(());
        }
        if !self.has_room(&state) {
            return Ok(Some(event));
        }
        state.bytes += weight(event.capacity());
        state.events.push_back(event);
        if state.consumer_waiting
            && (state.events.len() >= state.consumer_wants || !self.has_room(&state))
        {
            self.ready.notify_one();
        }
        Ok(None)
    }

    /// Blocks until there is room, the batch thread is gone, or `interrupt` holds (checked
    /// whenever the batch thread wakes the producer: see [`EventQueue::wake_producer`]).
    pub fn wait_for_room(&self, interrupt: impl Fn() -> bool) {
        let mut state = self.lock();
        while !self.has_room(&state) && !state.consumer_gone && !interrupt() {
            state.producer_waiting = true;
            state = self.room.wait(state).unwrap_or_else(|p| p.into_inner());
            state.producer_waiting = false;
        }
    }

    /// Wakes a producer waiting for room, to look at its `interrupt` again.
    pub fn wake_producer(&self) {
        let state = self.lock();
        if state.producer_waiting {
            self.room.notify_one();
        }
    }

    /// Takes the oldest event; waits for one until `deadline` (`None`: until one comes or the
    /// producer is gone).
    pub fn take(&self, deadline: Option<Instant>) -> Result<Vec<u8>, Empty> {
        let mut state = self.lock();
        loop {
            if let Some(event) = state.events.pop_front() {
                state.bytes -= weight(event.capacity());
                // A waiting producer is woken once half the queue is free, not at each event
                // taken: one wake-up (a futex call, a context switch) per half queue.
                if state.producer_waiting
                    && state.events.len() <= self.max_events / 2
                    && state.bytes <= self.max_bytes / 2
                {
                    self.room.notify_one();
                }
                return Ok(event);
            }
            if state.producer_gone {
                return Err(Empty::Closed);
            }
            state.consumer_waiting = true;
            state.consumer_wants = if deadline.is_some() { WAKE_CHUNK } else { 1 };
            state = match deadline {
                None => self.ready.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.consumer_waiting = false;
                        return Err(Empty::Timeout);
                    }
                    self.ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            state.consumer_waiting = false;
        }
    }

    /// The producer settled everything up to `watermark` (see [`super::pipeline::Pacing`]).
    pub fn settle(&self, watermark: u64) {
        let mut state = self.lock();
        if watermark > state.settled {
            state.settled = watermark;
            if state.consumer_waiting {
                self.ready.notify_all();
            }
        }
    }

    /// Blocks until the producer settled `watermark`, or is gone (then nothing will be
    /// settled any more: what is left is sent as it comes).
    pub fn wait_settled(&self, watermark: u64) {
        let mut state = self.lock();
        while state.settled < watermark && !state.producer_gone {
            state.consumer_waiting = true;
            // Woken by the settle, not by events (they wait for the batch after this one).
            state.consumer_wants = usize::MAX;
            if state.producer_waiting {
                self.room.notify_one();
            }
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
            state.consumer_waiting = false;
        }
    }

    /// The producer is gone: the batch thread takes what is left, then sees [`Empty::Closed`].
    pub fn close_producer(&self) {
        let mut state = self.lock();
        state.producer_gone = true;
        self.ready.notify_all();
    }

    /// The batch thread is gone: a push fails, and a waiting producer returns.
    pub fn close_consumer(&self) {
        let mut state = self.lock();
        state.consumer_gone = true;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn the_queue_is_bounded_by_bytes_and_by_events_but_takes_one_event_of_any_size() {
        let per = weight(vec![0u8; 100].capacity());
        let by_bytes = EventQueue::new(1000, 3 * per);
        for _ in 0..3 {
            assert_eq!(by_bytes.try_push(vec![0; 100]), Ok(None));
        }
        assert!(matches!(by_bytes.try_push(vec![0; 100]), Ok(Some(_))));
        assert_eq!(by_bytes.take(None).map(|e| e.len()), Ok(100));
        assert_eq!(by_bytes.try_push(vec![0; 100]), Ok(None));

        let by_events = EventQueue::new(2, usize::MAX);
        assert_eq!(by_events.try_push(vec![1]), Ok(None));
        assert_eq!(by_events.try_push(vec![2]), Ok(None));
        assert!(matches!(by_events.try_push(vec![3]), Ok(Some(_))));

        let large = EventQueue::new(10, 10);
        assert_eq!(large.try_push(vec![0; 1 << 20]), Ok(None));
        assert!(matches!(large.try_push(vec![0]), Ok(Some(_))));
    }

    #[test]
    fn take_times_out_then_sees_the_producer_gone_after_the_last_event() {
        let queue = EventQueue::new(10, 1 << 20);
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(queue.take(Some(soon)), Err(Empty::Timeout));
        queue.try_push(b"last".to_vec()).expect("push");
        queue.close_producer();
        assert_eq!(queue.take(None), Ok(b"last".to_vec()));
        assert_eq!(queue.take(None), Err(Empty::Closed));
    }

    #[test]
    fn a_waiting_producer_wakes_for_room_for_an_interrupt_and_when_the_consumer_is_gone() {
        let queue = Arc::new(EventQueue::new(1, 1 << 20));
        queue.try_push(vec![1]).expect("push");
        let taker = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                queue.take(None)
            })
        };
        queue.wait_for_room(|| false);
        assert_eq!(taker.join().expect("taker"), Ok(vec![1]));
        queue.try_push(vec![2]).expect("push");

        let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = {
            let (queue, interrupted) = (queue.clone(), interrupted.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                queue.wake_producer();
            })
        };
        queue.wait_for_room(|| interrupted.load(std::sync::atomic::Ordering::SeqCst));
        waker.join().expect("waker");

        let closer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                queue.close_consumer();
            })
        };
        queue.wait_for_room(|| false);
        closer.join().expect("closer");
        assert_eq!(queue.try_push(vec![3]), Err(()));
    }

    #[test]
    fn wait_settled_returns_once_settled_or_once_the_producer_is_gone() {
        let queue = Arc::new(EventQueue::new(10, 1 << 20));
        let settler = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                queue.settle(7);
            })
        };
        queue.wait_settled(7);
        settler.join().expect("settler");
        let closer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                queue.close_producer();
            })
        };
        queue.wait_settled(8);
        closer.join().expect("closer");
    }
}
