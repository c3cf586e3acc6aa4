//! Interning: each distinct value stored once and named by a dense `u32`, so that a state of
//! the search is a handful of numbers and equal parts compare by their number.
//!
//! Why exact and not hashed: a table keyed by the value itself (or, for a node, by the
//! canonical bytes of its state) never confuses two values, so "explored completely" means
//! what it says; a 64-bit fingerprint would hide a state on a collision.

use std::hash::{Hash, Hasher};
use synod_node::paxos::hash::FastMap;

/// Values by number and numbers by value.
#[derive(Debug)]
pub struct Interner<T> {
    items: Vec<T>,
    index: FastMap<T, u32>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner { items: Vec::new(), index: FastMap::default() }
    }
}

impl<T: Clone + Eq + Hash> Interner<T> {
    /// The number of `value`, given a new one if it is new.
    pub fn intern(&mut self, value: T) -> u32 {
        if let Some(&id) = self.index.get(&value) {
            return id;
        }
        let id = u32::try_from(self.items.len()).expect("fewer than 2^32 distinct values");
        self.items.push(value.clone());
        self.index.insert(value, id);
        id
    }

    pub fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A [`Hasher`] that keeps what it is fed: the canonical encoding of a value whose `Hash`
/// (or a walk like `Node::fingerprint`) feeds the same bytes exactly for equal values.
#[derive(Debug, Default)]
pub struct Bytes(pub Vec<u8>);

impl Hasher for Bytes {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("Bytes keeps an encoding; it is never asked for a hash")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_get_one_number_and_keep_it() {
        let mut i = Interner::default();
        let a = i.intern("a".to_string());
        let b = i.intern("b".to_string());
        assert_ne!(a, b);
        assert_eq!(i.intern("a".to_string()), a);
        assert_eq!(i.get(b), "b");
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn bytes_keep_every_write_in_order() {
        let mut h = Bytes::default();
        (1u8, "x", 7u64).hash(&mut h);
        let mut g = Bytes::default();
        (1u8, "x", 8u64).hash(&mut g);
        assert_ne!(h.0, g.0);
        assert_eq!(h.0.len(), g.0.len());
    }
}
