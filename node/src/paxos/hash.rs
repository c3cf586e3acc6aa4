//! The core's hash maps hash with a fixed multiply-and-rotate (as rustc's FxHash does), not
//! std's SipHash: the keys are instance ids and ballots, and the maps are looked up several
//! times for every message (a profile of `synod sim` put SipHash at 3% of the whole run).
//!
//! SipHash's protection against chosen-key flooding buys nothing here (a peer that wants to
//! slow a node down can simply send more), and a fixed hash makes the maps' iteration order
//! the same in every run, where std's differs per process.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` with [`FastHash`].
pub type FastMap<K, V> = HashMap<K, V, FastHash>;
/// A `HashSet` with [`FastHash`].
pub type FastSet<T> = HashSet<T, FastHash>;

#[derive(Debug, Clone, Copy, Default)]
pub struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FastHasher(u64);

/// An odd constant with its bits spread (FxHash's): multiplying by it mixes every input bit
/// into the high bits, which the table's control bytes take.
const K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash<T: std::hash::Hash>(t: &T) -> u64 {
        FastHash.hash_one(t)
    }

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        assert_eq!(hash(&(7u64, "v-1".to_string())), hash(&(7u64, "v-1".to_string())));
        assert_ne!(hash(&"v-1"), hash(&"v-2"));
        assert_ne!(hash(&"abcdefgh1"), hash(&"abcdefgh2"), "the tail past 8 bytes counts");
        // Sequential instance ids land in distinct buckets of a small table: the high bits
        // (control bytes) and the low bits (bucket) both vary.
        let buckets: HashSet<u64> = (0u64..64).map(|i| hash(&i) & 63).collect();
        assert!(buckets.len() > 32, "{} of 64 buckets", buckets.len());
        let tops: HashSet<u64> = (0u64..64).map(|i| hash(&i) >> 57).collect();
        assert!(tops.len() > 32, "{} of 64 control bytes", tops.len());
    }

    #[test]
    fn maps_work_as_maps() {
        let mut m: FastMap<u64, u64> = FastMap::default();
        for i in 0..10_000 {
            m.insert(i, i * 2);
        }
        assert!((0..10_000).all(|i| m[&i] == i * 2));
        assert_eq!(m.len(), 10_000);
    }
}
