//! The node's loop turn with everything but the socket: the core ([`Driver`]), the acceptor
//! log on a [`Disk`] and the archive of decided values behind [`ArchiveStore`].
//!
//! Why: the tokio loop (runtime/mod.rs) and `synod sim` (issue 19, one thread, a simulated
//! clock, net and disk) must run the same group commit, lazy records, compaction and archive
//! code, not two copies of it. So the host owns all of that and is synchronous: the time is
//! an argument, frames come in as bytes or envelopes and go out as the [`Plan`]'s values, and
//! the disk and the archive are type parameters ([`crate::storage::OsDisk`] and
//! [`Archive`] in the process, [`crate::storage::SimDisk`] and
//! [`crate::storage::SimArchive`] in the simulator). A shell performs one turn as:
//!
//! 1. feed the inbound frames ([`Host::handle_frame`]) or the due deadline
//!    ([`Host::handle_deadline`], at [`Host::next_deadline_us`]);
//! 2. [`Host::plan`]; send the plan's `early` frames;
//! 3. [`Host::persist`] the plan's batch (one append, one sync);
//! 4. send the plan's `late` frames, which wait for that sync;
//! 5. [`Host::maybe_compact`] (after the late frames, so that they never wait for a
//!    compaction); on a clean exit, [`Host::write_batch`].

use super::turn::{ArchiveAccess, Driver, Plan, TurnError};
use super::RuntimeError;
use crate::paxos::{Bug, Config, Node, Record};
use crate::protocol::Envelope;
use crate::storage::{AcceptorLog, Archive, ArchiveError, Disk, OsDisk, Recovery};

/// What a host needs of the archive of decided values, beyond [`ArchiveAccess`]: how many
/// decisions wait in memory, making them durable (before a compaction drops them from the
/// log), and the `skip-fsync` mutant.
pub trait ArchiveStore: ArchiveAccess {
    /// Decisions added and not yet flushed.
    fn pending_len(&self) -> usize;
    /// Makes every pending decision durable.
    fn flush(&mut self) -> Result<(), Self::Error>;
    /// Durable segments (for the compaction's log line).
    fn segments(&self) -> usize;
    /// The `skip-fsync` mutant: flushes write but never sync.
    fn skip_sync(&mut self);
}

impl ArchiveStore for Archive {
    fn pending_len(&self) -> usize {
        Archive::pending_len(self)
    }

    fn flush(&mut self) -> Result<(), ArchiveError> {
        Archive::flush(self)
    }

    fn segments(&self) -> usize {
        Archive::segments(self)
    }

    fn skip_sync(&mut self) {
        Archive::skip_sync(self)
    }
}

/// What one compaction did, for the shell's log line (the host reads no clock, so the shell
/// times it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub log_bytes_before: u64,
    pub log_bytes_after: u64,
    /// Records in the snapshot that replaced the log.
    pub records: usize,
    /// Decisions the archive flushed first.
    pub archived: usize,
    pub archive_segments: usize,
}

/// A node without its socket: the core, its log and its archive.
pub struct Host<D: Disk = OsDisk, A: ArchiveStore = Archive> {
    driver: Driver,
    log: AcceptorLog<D>,
    archive: A,
}

impl<D: Disk, A: ArchiveStore> Host<D, A>
where
    RuntimeError: From<A::Error>,
{
    /// After init: the core built from the recovered records; with [`Bug::SkipFsync`] the log
    /// and the archive stop syncing.
    pub fn new(config: Config, mut log: AcceptorLog<D>, mut archive: A, recovery: &Recovery) -> Host<D, A> {
        if config.has_bug(Bug::SkipFsync) {
            log.skip_sync();
            archive.skip_sync();
        }
        let driver = Driver::new(Node::new(config, &recovery.records));
        Host { driver, log, archive }
    }

    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    pub fn node(&self) -> &Node {
        self.driver.node()
    }

    pub fn log(&self) -> &AcceptorLog<D> {
        &self.log
    }

    /// The log's disk, to inject a fault into ([`AcceptorLog::disk_mut`]).
    pub fn disk_mut(&mut self) -> &mut D {
        self.log.disk_mut()
    }

    pub fn archive(&self) -> &A {
        &self.archive
    }

    /// Decodes one frame (a JSON envelope, its newline optional) and feeds it to the core. A
    /// malformed one is skipped with a warning naming it by `frame_no` (the decoder's count).
    pub fn handle_frame(&mut self, now_us: u64, frame: &[u8], frame_no: u64) {
        match serde_json::from_slice::<Envelope>(frame) {
            Ok(env) => self.driver.handle_envelope(now_us, env),
            Err(e) => tracing::warn!(frame = frame_no, error = %e, "malformed frame skipped"),
        }
    }

    /// An envelope for the core (anything not for it is skipped with a warning).
    pub fn handle_envelope(&mut self, now_us: u64, env: Envelope) {
        self.driver.handle_envelope(now_us, env);
    }

    /// The earliest of the core's timeout and the lazy records' deadline (absolute
    /// microseconds), or none.
    pub fn next_deadline_us(&self) -> Option<u64> {
        match (self.driver.next_timeout_us(), self.driver.lazy_deadline_us()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// At `now_us`: fires the core's timeout if it is due, and writes the waiting lazy records
    /// in a synced batch of their own if their deadline passed (no batch came to take them
    /// along: a learner-only node, a quiet spell). Whatever the timeout queued is the next
    /// [`Host::plan`]'s.
    pub fn handle_deadline(&mut self, now_us: u64) -> Result<(), RuntimeError> {
        if self.driver.next_timeout_us().is_some_and(|at| at <= now_us) {
            self.driver.handle_timeout(now_us);
        }
        if self.driver.lazy_deadline_us().is_some_and(|at| at <= now_us) {
            self.write_batch()?;
        }
        Ok(())
    }

    /// The turn's plan ([`Driver::turn`] on the archive). An archive that lost a decision the
    /// log says it holds is [`RuntimeError::ArchiveLost`], naming the log.
    pub fn plan(&mut self, now_us: u64) -> Result<Plan, RuntimeError> {
        self.driver.turn(now_us, &mut self.archive).map_err(|e| match e {
            TurnError::Archive(e) => RuntimeError::from(e),
            TurnError::Lost { instance } => {
                RuntimeError::ArchiveLost { path: self.log.path().into(), instance }
            }
        })
    }

    /// Appends the plan's batch under one sync (group commit); nothing without one. The
    /// plan's `late` frames may leave once this returns.
    pub fn persist(&mut self, batch: Option<Vec<Record>>) -> Result<(), RuntimeError> {
        if let Some(records) = batch {
            self.log.append(&records)?;
        }
        Ok(())
    }

    /// Compacts when the driver says it is due (between turns): the archive is flushed first,
    /// so that nothing the log drops exists only in memory, then the log is replaced by the
    /// core's snapshot. Returns what it did, or none when it was not due.
    pub fn maybe_compact(&mut self) -> Result<Option<Compaction>, RuntimeError> {
        let log_bytes_before = self.log.len_bytes();
        if !self.driver.compaction_due(log_bytes_before, self.archive.pending_len()) {
            return Ok(None);
        }
        let archived = self.archive.pending_len();
        self.archive.flush()?;
        assert_eq!(self.archive.pending_len(), 0, "a flushed archive holds nothing pending");
        let snapshot = self.driver.snapshot();
        self.log.compact(&snapshot)?;
        self.driver.compacted(self.log.len_bytes());
        Ok(Some(Compaction {
            log_bytes_before,
            log_bytes_after: self.log.len_bytes(),
            records: snapshot.len(),
            archived,
            archive_segments: self.archive.segments(),
        }))
    }

    /// Every waiting record in one synced batch (the lazy deadline passed, or a clean exit;
    /// an empty batch is appended as it always was).
    pub fn write_batch(&mut self) -> Result<(), RuntimeError> {
        let records = self.driver.take_batch();
        self.log.append(&records)?;
        Ok(())
    }

    /// The log and the archive back, to crash the disk and reopen (the simulator), or to
    /// close them.
    pub fn into_parts(self) -> (AcceptorLog<D>, A) {
        (self.log, self.archive)
    }
}

#[cfg(test)]
mod tests;
