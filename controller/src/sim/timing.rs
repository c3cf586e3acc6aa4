//! How long things take in the simulation: a frame between a node and the controller, a
//! disk sync, a process start and a process exit. Each is drawn uniformly from a range by the
//! world's generator, so that the same seed gives the same times and different seeds
//! interleave differently.
//!
//! The defaults are of the order of what a real run on loopback sees (docs/sim.md): tens of
//! microseconds a hop, a millisecond or so a sync, a few milliseconds to start a process.
//! The nemesis's delays come on top, from the net, as in a real run.

use synod_node::paxos::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTiming {
    /// A frame between a node and the controller (each way), in [min, max] µs.
    pub hop_us: (u64, u64),
    /// A disk sync (the group commit's fdatasync).
    pub sync_us: (u64, u64),
    /// From a process's start to its connection.
    pub start_us: (u64, u64),
    /// From a process's end to its exit being seen.
    pub exit_us: (u64, u64),
    /// Unsynced bytes a node's disk holds at most (then a write fails, as on a full disk).
    pub disk_pending_bytes_max: u64,
}

impl Default for SimTiming {
    fn default() -> SimTiming {
        SimTiming {
            hop_us: (20, 150),
            sync_us: (300, 1_500),
            start_us: (2_000, 6_000),
            exit_us: (200, 1_000),
            disk_pending_bytes_max: 256 * 1024 * 1024,
        }
    }
}

fn draw(rng: &mut Rng, (min, max): (u64, u64)) -> u64 {
    debug_assert!(min <= max);
    min + rng.below(max - min + 1)
}

impl SimTiming {
    pub fn hop_us(&self, rng: &mut Rng) -> u64 {
        draw(rng, self.hop_us)
    }
    pub fn sync_us(&self, rng: &mut Rng) -> u64 {
        draw(rng, self.sync_us)
    }
    pub fn start_us(&self, rng: &mut Rng) -> u64 {
        draw(rng, self.start_us)
    }
    pub fn exit_us(&self, rng: &mut Rng) -> u64 {
        draw(rng, self.exit_us)
    }
}
