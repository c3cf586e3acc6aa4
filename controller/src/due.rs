//! A queue of things due at a time, taken in (time, arrival) order: the net's delayed
//! messages and the simulated world's events.
//!
//! The heap holds only each thing's key and its index in a slab beside it, so that sifting
//! moves 24 bytes, not the thing (a message's envelope is about a hundred): both queues take
//! a push and a pop per message, in the simulation's hottest loop. Ties at the same time go
//! in arrival order, which a run's determinism needs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct DueQueue<T> {
    keys: BinaryHeap<Reverse<(u64, u64, usize)>>,
    slab: Vec<Option<T>>,
    free: Vec<usize>,
    seq: u64,
}

impl<T> Default for DueQueue<T> {
    fn default() -> DueQueue<T> {
        DueQueue { keys: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

impl<T> DueQueue<T> {
    /// Things queued.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Queues `thing`, due at `at_us`, after everything already due then.
    pub fn push(&mut self, at_us: u64, thing: T) {
        self.seq += 1;
        let index = match self.free.pop() {
            Some(index) => {
                debug_assert!(self.slab[index].is_none(), "a free slot is empty");
                self.slab[index] = Some(thing);
                index
            }
            None => {
                self.slab.push(Some(thing));
                self.slab.len() - 1
            }
        };
        self.keys.push(Reverse((at_us, self.seq, index)));
    }

    /// When the next thing is due.
    pub fn next_at_us(&self) -> Option<u64> {
        self.keys.peek().map(|Reverse((at_us, ..))| *at_us)
    }

    /// The next thing, if it is due at or before `now_us`.
    pub fn pop_due(&mut self, now_us: u64) -> Option<T> {
        if self.next_at_us()? > now_us {
            return None;
        }
        self.pop()
    }

    /// The next thing, due or not.
    pub fn pop(&mut self) -> Option<T> {
        let Reverse((_, _, index)) = self.keys.pop()?;
        self.free.push(index);
        Some(self.slab[index].take().expect("a queued index holds its thing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Things come out by time, ties in the order they went in, with slots reused.
    #[test]
    fn things_come_out_by_time_then_arrival() {
        let mut q = DueQueue::default();
        for (at, name) in [(5, "a"), (1, "b"), (5, "c"), (3, "d"), (1, "e")] {
            q.push(at, name);
        }
        assert_eq!((q.len(), q.next_at_us()), (5, Some(1)));
        assert_eq!(q.pop_due(0), None);
        let mut out = Vec::new();
        while let Some(name) = q.pop_due(3) {
            out.push(name);
        }
        assert_eq!(out, ["b", "e", "d"]);
        q.push(4, "f");
        q.push(5, "g");
        assert_eq!(q.slab.len(), 5, "freed slots are taken again");
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, ["f", "a", "c", "g"]);
        assert!(q.is_empty());
    }
}
