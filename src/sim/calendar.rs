//! The queue of everything due at one shard's nodes, in (time, order of scheduling) order: a
//! calendar of 1 ms buckets, each sorted when its turn comes.
//!
//! Owns the order of items. Must not look inside them: `network` says what they are.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

/// Items are kept in buckets of this many microseconds of simulated time: pushing one is an
/// append, and a bucket is sorted once when its turn comes. One binary heap of the hundreds of
/// thousands of messages a large network has in flight spent most of its time on cache misses.
const BUCKET_US: u64 = 1_000;

pub(super) struct Scheduled<T> {
    pub(super) at_us: u64,
    /// The scheduling node in the high bits and its own count below (`NodeNet::schedule`), so
    /// the order of items due at the same time does not depend on which thread made them.
    pub(super) seq: u64,
    pub(super) due: T,
}

impl<T> Scheduled<T> {
    pub(super) fn key(&self) -> (u64, u64) {
        (self.at_us, self.seq)
    }
}

/// An item scheduled into the bucket already being taken from: kept in a small heap of its own.
struct Late<T>(Scheduled<T>);

impl<T> PartialEq for Late<T> {
    fn eq(&self, other: &Late<T>) -> bool {
        self.0.key() == other.0.key()
    }
}

impl<T> Eq for Late<T> {}

impl<T> PartialOrd for Late<T> {
    fn partial_cmp(&self, other: &Late<T>) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Late<T> {
    /// Reversed, so the max-heap pops the earliest (and of equal times, the first scheduled).
    fn cmp(&self, other: &Late<T>) -> Ordering {
        other.0.key().cmp(&self.0.key())
    }
}

/// Everything due, in (time, order of scheduling) order.
pub(super) struct Calendar<T> {
    /// Buckets after the current one, each unsorted.
    later: BTreeMap<u64, Vec<Scheduled<T>>>,
    /// The bucket being taken from, sorted and reversed (the next item last).
    current: Vec<Scheduled<T>>,
    /// Items scheduled into the current bucket while it is being taken from.
    late: BinaryHeap<Late<T>>,
    current_bucket: u64,
}

impl<T> Default for Calendar<T> {
    fn default() -> Calendar<T> {
        Calendar {
            later: BTreeMap::new(),
            current: Vec::new(),
            late: BinaryHeap::new(),
            current_bucket: 0,
        }
    }
}

impl<T> Calendar<T> {
    pub(super) fn push(&mut self, scheduled: Scheduled<T>) {
        let bucket = scheduled.at_us / BUCKET_US;
        if bucket < self.current_bucket {
            // A look ahead took a later bucket out (nothing was due before it then): put it
            // back, so the early item and its followers are not all pushed onto the late heap.
            let mut items = std::mem::take(&mut self.current);
            items.extend(self.late.drain().map(|Late(item)| item));
            if !items.is_empty() {
                self.later.insert(self.current_bucket, items);
            }
            self.current_bucket = bucket;
        }
        if bucket <= self.current_bucket && !(self.current.is_empty() && self.late.is_empty()) {
            self.late.push(Late(scheduled));
        } else {
            self.later.entry(bucket).or_default().push(scheduled);
        }
    }

    /// Makes the current bucket the earliest one with something in it.
    fn refill(&mut self) {
        if !self.current.is_empty() || !self.late.is_empty() {
            return;
        }
        if let Some((bucket, mut items)) = self.later.pop_first() {
            items.sort_unstable_by_key(|item| Reverse(item.key()));
            self.current = items;
            self.current_bucket = bucket;
        }
    }

    /// Whether the next item is the late heap's rather than the sorted bucket's.
    fn late_first(&self) -> bool {
        match (self.current.last(), self.late.peek()) {
            (Some(sorted), Some(Late(late))) => late.key() < sorted.key(),
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// The (time, order) key of the next item.
    pub(super) fn peek_key(&mut self) -> Option<(u64, u64)> {
        self.refill();
        if self.late_first() {
            self.late.peek().map(|Late(item)| item.key())
        } else {
            self.current.last().map(Scheduled::key)
        }
    }

    pub(super) fn pop(&mut self) -> Option<Scheduled<T>> {
        self.refill();
        if self.late_first() {
            self.late.pop().map(|Late(item)| item)
        } else {
            self.current.pop()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Clone, Debug)]
    enum Step {
        /// Schedule an item this many microseconds after the last one taken.
        Push(u64),
        Peek,
        Pop,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u64..4 * BUCKET_US).prop_map(Step::Push),
            1 => (0u64..200 * BUCKET_US).prop_map(Step::Push),
            2 => Just(Step::Peek),
            4 => Just(Step::Pop),
        ]
    }

    proptest! {
        /// Whatever the mix of pushes, look-aheads and pops (items scheduled into the bucket being
        /// taken from, or before one a look-ahead already took out), items come
        /// out in (time, order of scheduling) order, as from a sorted set.
        #[test]
        fn items_come_out_in_time_then_scheduling_order(steps in prop::collection::vec(step(), 1..400)) {
            let mut calendar = Calendar::default();
            let mut expected = BTreeSet::new();
            let mut now_us = 0;
            let mut seq = 0;
            for step in steps {
                match step {
                    Step::Push(after_us) => {
                        let at_us = now_us + after_us;
                        calendar.push(Scheduled { at_us, seq, due: (at_us, seq) });
                        expected.insert((at_us, seq));
                        seq += 1;
                    }
                    Step::Peek => prop_assert_eq!(calendar.peek_key(), expected.first().copied()),
                    Step::Pop => {
                        let popped = calendar.pop().map(|item| {
                            assert_eq!(item.key(), item.due);
                            item.due
                        });
                        prop_assert_eq!(popped, expected.pop_first());
                        if let Some((at_us, _)) = popped {
                            now_us = at_us;
                        }
                    }
                }
            }
            while let Some(item) = calendar.pop() {
                prop_assert_eq!(Some(item.key()), expected.pop_first());
            }
            prop_assert!(expected.is_empty());
        }
    }
}
