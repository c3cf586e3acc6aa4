//! The archive of decided values in memory, for the simulator (issue 19): [`SimArchive`].
//!
//! Why an in-memory archive is faithful enough, where the log needs a simulated disk: the log's
//! crash safety is an argument about the order of writes and syncs, so the simulator runs the
//! log's own code on [`super::SimDisk`]. The archive's is not: a segment is written whole under
//! a temporary name, synced and renamed (storage/archive), so after a crash a flush either
//! happened or did not, and segment files are the archive's own concern, tested on the real
//! filesystem. What the node's correctness rests on is the order between the archive and the
//! log: the host flushes the archive before a compaction drops anything from the log
//! (runtime/host.rs), so a crash can only lose decisions the log still holds, which the core
//! replays and retires again. This model keeps exactly that: `add` is pending in memory,
//! `flush` makes the pending decisions durable, [`SimArchive::crash`] loses what was not, and
//! lookups see both. Iteration is over `BTreeMap`s, so a run is the same for a seed.

use crate::paxos::InstanceId;
use crate::runtime::{ArchiveAccess, ArchiveStore};
use std::collections::BTreeMap;

use super::archive::PENDING_ENTRIES_MAX;

/// Decided values in memory: durable ones, and ones a crash loses.
#[derive(Debug, Default)]
pub struct SimArchive {
    /// Flushed (and, unless `skip_sync`, synced): survives a crash.
    durable: BTreeMap<InstanceId, String>,
    /// Flushed under the `skip-fsync` mutant: written, not synced, lost by a crash (as a
    /// segment never synced is lost by a power failure).
    unsynced: BTreeMap<InstanceId, String>,
    /// Added since the last flush, at most [`PENDING_ENTRIES_MAX`] (as the real archive).
    pending: BTreeMap<InstanceId, String>,
    /// Non-empty flushes since the archive was created, as the real archive's segments.
    segments: usize,
    skip_sync: bool,
    /// Lookups answered with a value, crashes or not (a statistic for tests).
    lookups: u64,
}

impl SimArchive {
    pub fn new() -> SimArchive {
        SimArchive::default()
    }

    /// The machine crashed: what was not flushed (and synced) is lost. Returns how many
    /// decisions were lost. The `skip-fsync` setting dies with the process.
    pub fn crash(&mut self) -> usize {
        let lost = self.pending.len() + self.unsynced.len();
        self.pending.clear();
        self.unsynced.clear();
        self.skip_sync = false;
        lost
    }

    /// Decisions that survive a crash.
    pub fn durable_len(&self) -> usize {
        self.durable.len()
    }

    /// Lookups answered with a value since the archive was created (crashes do not reset it).
    pub fn lookups(&self) -> u64 {
        self.lookups
    }
}

impl ArchiveAccess for SimArchive {
    type Error = std::convert::Infallible;

    /// As the real archive: an id already pending keeps its first value.
    fn add(&mut self, instance: InstanceId, value: String) {
        assert!(
            self.pending.len() < PENDING_ENTRIES_MAX || self.pending.contains_key(&instance),
            "{PENDING_ENTRIES_MAX} decisions pend in the archive: the host must flush first"
        );
        self.pending.entry(instance).or_insert(value);
    }

    /// The newest copy first, as the real archive searches its newest segment first.
    fn lookup(&mut self, instance: InstanceId) -> Result<Option<String>, Self::Error> {
        let value = [&self.pending, &self.unsynced, &self.durable].into_iter().find_map(|m| m.get(&instance));
        self.lookups += u64::from(value.is_some());
        Ok(value.cloned())
    }
}

impl ArchiveStore for SimArchive {
    fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let to = if self.skip_sync { &mut self.unsynced } else { &mut self.durable };
        to.extend(pending);
        self.segments += 1;
        Ok(())
    }

    fn segments(&self) -> usize {
        self.segments
    }

    fn skip_sync(&mut self) {
        self.skip_sync = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: &mut SimArchive, instance: InstanceId, value: &str) {
        a.add(instance, value.into());
    }

    #[test]
    fn a_crash_loses_exactly_what_was_not_flushed() {
        let mut a = SimArchive::new();
        add(&mut a, 1, "a");
        add(&mut a, 2, "b");
        assert_eq!(a.lookup(1).unwrap().as_deref(), Some("a"), "lookups see pending decisions");
        a.flush().unwrap();
        add(&mut a, 3, "c");
        add(&mut a, 1, "z");
        assert_eq!(a.lookup(1).unwrap().as_deref(), Some("z"), "the newest copy answers");
        add(&mut a, 3, "d");
        assert_eq!(a.lookup(3).unwrap().as_deref(), Some("c"), "a pending id keeps its first value");
        assert_eq!((a.pending_len(), a.segments()), (2, 1));
        assert_eq!(a.crash(), 2);
        assert_eq!(a.lookup(1).unwrap().as_deref(), Some("a"));
        assert_eq!(a.lookup(2).unwrap().as_deref(), Some("b"));
        assert_eq!(a.lookup(3).unwrap(), None);
        assert_eq!((a.pending_len(), a.durable_len()), (0, 2));
        assert_eq!(a.lookups(), 5, "answered lookups are counted, missed ones not");
        a.flush().unwrap();
        assert_eq!(a.segments(), 1, "an empty flush writes no segment");
    }

    #[test]
    fn under_skip_sync_a_flush_is_seen_but_lost_by_a_crash() {
        let mut a = SimArchive::new();
        add(&mut a, 1, "a");
        a.flush().unwrap();
        a.skip_sync();
        add(&mut a, 2, "b");
        a.flush().unwrap();
        assert_eq!(a.pending_len(), 0, "flushed, so the host's compaction is not due again");
        assert_eq!(a.lookup(2).unwrap().as_deref(), Some("b"));
        assert_eq!(a.crash(), 1);
        assert_eq!(a.lookup(2).unwrap(), None);
        assert_eq!(a.lookup(1).unwrap().as_deref(), Some("a"));
    }
}
