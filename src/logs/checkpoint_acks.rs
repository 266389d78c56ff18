//! Which source lines may be acknowledged: a line is delivered once every output's watermark
//! (`sinks::pipeline::Pipeline::safe`) has passed every event made from it.
//!
//! Every output receives every event, so one count numbers them for all outputs: the events
//! pushed so far. A line is recorded with that count once its events are pushed — its
//! *threshold* — and released when the lowest watermark of the outputs reaches it. A line
//! the parser or a filter dropped made no event: its threshold is the count before it, so it
//! is released with the events before it (at the next safe point), never ahead of them.
//! Lines are released in the order they were read, so no acknowledgement ever passes a line
//! that is not delivered.

use std::collections::VecDeque;

/// Lines read and not yet delivered, in the order they were read, each with the event count
/// its delivery waits for.
pub struct PendingAcks<A> {
    pending: VecDeque<(u64, A)>,
}

impl<A> Default for PendingAcks<A> {
    fn default() -> Self {
        PendingAcks {
            pending: VecDeque::new(),
        }
    }
}

impl<A> PendingAcks<A> {
    /// Records a line whose events end at event number `threshold`. When the line before it
    /// waits for the same threshold and `supersedes` says the new acknowledgement covers it
    /// (a later line of the same file), the new one replaces it: lines a filter drops in
    /// a row cost one entry, so what waits here stays bounded by the events in flight.
    pub fn push(&mut self, threshold: u64, ack: A, supersedes: impl Fn(&A, &A) -> bool) {
        if let Some((last_threshold, last)) = self.pending.back_mut()
            && *last_threshold == threshold
            && supersedes(&ack, last)
        {
            *last = ack;
            return;
        }
        self.pending.push_back((threshold, ack));
    }

    /// Takes out, oldest first, every line whose events are all at or below `safe`.
    pub fn release(&mut self, safe: u64, mut acknowledge: impl FnMut(A)) -> usize {
        let mut released = 0;
        while let Some((threshold, _)) = self.pending.front() {
            if *threshold > safe {
                break;
            }
            if let Some((_, ack)) = self.pending.pop_front() {
                acknowledge(ack);
                released += 1;
            }
        }
        released
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_file(a: &(char, u32), b: &(char, u32)) -> bool {
        a.0 == b.0
    }

    fn released(acks: &mut PendingAcks<(char, u32)>, safe: u64) -> Vec<(char, u32)> {
        let mut out = Vec::new();
        acks.release(safe, |a| out.push(a));
        out
    }

    #[test]
    fn a_line_is_released_only_when_every_event_made_from_it_is_safe() {
        let mut acks = PendingAcks::default();
        // Line 1 made events 1 and 2 (a filter split it), line 2 made event 3.
        acks.push(2, ('a', 1), same_file);
        acks.push(3, ('a', 2), same_file);
        assert_eq!(released(&mut acks, 1), []);
        assert_eq!(released(&mut acks, 2), [('a', 1)]);
        assert_eq!(released(&mut acks, 3), [('a', 2)]);
        assert!(acks.is_empty());
    }

    #[test]
    fn a_dropped_line_waits_for_the_events_before_it() {
        let mut acks = PendingAcks::default();
        acks.push(1, ('a', 1), same_file);
        // Line 2 was dropped by a filter: no event of its own, released with event 1.
        acks.push(1, ('b', 2), same_file);
        acks.push(2, ('a', 3), same_file);
        assert_eq!(released(&mut acks, 0), []);
        assert_eq!(released(&mut acks, 1), [('a', 1), ('b', 2)]);
    }

    #[test]
    fn dropped_lines_of_one_file_in_a_row_take_one_entry() {
        let mut acks = PendingAcks::default();
        acks.push(5, ('a', 1), same_file);
        for line in 2..1000 {
            acks.push(5, ('a', line), same_file);
        }
        acks.push(5, ('b', 1), same_file);
        assert_eq!(acks.len(), 2);
        assert_eq!(released(&mut acks, 5), [('a', 999), ('b', 1)]);
    }

    #[test]
    fn lines_of_another_file_or_waiting_for_more_events_are_kept_apart() {
        let mut acks = PendingAcks::default();
        acks.push(1, ('a', 1), same_file);
        acks.push(2, ('a', 2), same_file);
        acks.push(2, ('b', 1), same_file);
        acks.push(2, ('a', 3), same_file);
        assert_eq!(acks.len(), 4);
        assert_eq!(released(&mut acks, 1), [('a', 1)]);
    }
}
