//! The node's turn, sans-IO: what one loop turn does, decided apart from doing it.
//!
//! Why a module of its own: the tokio loop (runtime/mod.rs) and, later, the simulator
//! (issue 19) must run the very same group commit, lazy-record policy and compaction
//! thresholds; only the sockets, the disk and the clock differ. So this module owns the
//! [`Node`] and every rule of a turn, takes the time as an argument, and hands back the
//! turn's [`Plan`] as values, in the style of the core's `handle_*`/`poll_*` (quinn-proto)
//! and raft-rs's `Ready`: frames that may leave at once, the batch of records to append under
//! one sync, and the frames that must wait for that sync. The shell performs the plan in that
//! order. The archive of decided values is reached only through [`ArchiveAccess`] (added to
//! and read from within the turn: a lookup is answered in the turn that asks for it); the
//! log only through the plan's batch and the numbers handed to [`Driver::compaction_due`].
//!
//! A turn: feed the driver every inbound envelope (`handle_envelope`) or a timeout
//! (`handle_timeout`), then call [`Driver::turn`] and perform its plan; then ask
//! [`Driver::compaction_due`] with the log's size after the batch. When the lazy records'
//! deadline ([`Driver::lazy_deadline_us`]) passes with no turn to take them along, the shell
//! appends [`Driver::take_batch`] on its own, as it does on a clean exit.

use crate::paxos::{InstanceId, Node, Output, Record};
use crate::protocol::{Body, Envelope, CONTROLLER};

/// Lazy records held for the next batch, at most, and for how long; then they are written
/// on their own.
pub const LAZY_RECORDS_MAX: usize = 1024;
pub const LAZY_WAIT_MS: u64 = 50;
/// Retired decisions held in memory for the archive at most; then the archive is flushed
/// (with a compaction, which it must precede anyway).
pub const ARCHIVE_PENDING_MAX: usize = 65_536;

/// What a turn needs of the archive of decided values: keep a decision the core retired,
/// and read one back. The built-in runtime's [`crate::storage::Archive`] is one; a simulator
/// brings its own.
pub trait ArchiveAccess {
    type Error;
    fn add(&mut self, instance: InstanceId, value: String);
    fn lookup(&mut self, instance: InstanceId) -> Result<Option<String>, Self::Error>;
}

impl ArchiveAccess for crate::storage::Archive {
    type Error = crate::storage::ArchiveError;

    fn add(&mut self, instance: InstanceId, value: String) {
        crate::storage::Archive::add(self, instance, value)
    }

    fn lookup(&mut self, instance: InstanceId) -> Result<Option<String>, Self::Error> {
        crate::storage::Archive::lookup(self, instance)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError<E> {
    #[error(transparent)]
    Archive(E),
    /// The core asked for a decision it retired, and the archive does not hold it.
    #[error("instance {instance} was archived, but the archive does not hold it")]
    Lost { instance: InstanceId },
}

/// One turn's effects, in the order they must be performed.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Frames no record of this turn precedes: they depend on no new state, send at once.
    pub early: Vec<Envelope>,
    /// Records to append as one batch under one sync (group commit), before `late` leaves.
    pub batch: Option<Vec<Record>>,
    /// Frames queued after the turn's first `Persist`: they wait for the batch's sync.
    pub late: Vec<Envelope>,
}

/// Owns the core and the state a turn carries over to the next: waiting lazy records and
/// the log's size after its last compaction.
pub struct Driver {
    node: Node,
    /// Records for the next batch: lazy ones (learned decisions) that wait for a turn with a
    /// `Persist` (their order does not matter when they are replayed), at most
    /// `LAZY_RECORDS_MAX` of them between turns.
    records: Vec<Record>,
    /// When the oldest waiting lazy record was queued (microseconds, the caller's clock).
    lazy_since_us: Option<u64>,
    /// Bytes the log held right after its last compaction.
    snapshot_bytes: u64,
}

impl Driver {
    pub fn new(node: Node) -> Driver {
        Driver { node, records: Vec::new(), lazy_since_us: None, snapshot_bytes: 0 }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// An inbound envelope for the core: a proposal from the controller or a Paxos message.
    /// Anything else (another node's frame, an unexpected body) is skipped with a warning.
    pub fn handle_envelope(&mut self, now_us: u64, env: Envelope) {
        let me = self.node.id();
        if env.dest != me {
            tracing::warn!(dest = env.dest, "frame for another node skipped");
            return;
        }
        match env.body {
            Body::Propose { msg_id, instance, value } => {
                self.node.handle_propose(now_us, msg_id, instance, value)
            }
            body if body.is_paxos() => {
                let msg = body.into_msg().expect("is_paxos bodies are messages");
                self.node.handle_message(now_us, env.src, msg);
            }
            other => tracing::warn!(body = other.type_name(), src = env.src, "unexpected frame skipped"),
        }
    }

    /// When the core's `handle_timeout` is due (absolute microseconds).
    pub fn next_timeout_us(&self) -> Option<u64> {
        self.node.next_timeout_us()
    }

    pub fn handle_timeout(&mut self, now_us: u64) {
        self.node.handle_timeout(now_us);
    }

    /// When the waiting lazy records must be written on their own, if no batch takes them
    /// along before (absolute microseconds).
    pub fn lazy_deadline_us(&self) -> Option<u64> {
        self.lazy_since_us.map(|since| since.saturating_add(LAZY_WAIT_MS * 1000))
    }

    /// Every waiting record, for a batch of their own (the lazy deadline passed, or a clean
    /// exit). The caller appends and syncs them (even none: the shell does as it always did).
    pub fn take_batch(&mut self) -> Vec<Record> {
        self.lazy_since_us = None;
        std::mem::take(&mut self.records)
    }

    /// Drains the core's outputs into the turn's plan. Archive adds and lookups are performed
    /// on `archive` as they come, and a lookup's answer is fed back to the core at once, so
    /// its effects join this same turn.
    pub fn turn<A: ArchiveAccess>(
        &mut self,
        now_us: u64,
        archive: &mut A,
    ) -> Result<Plan, TurnError<A::Error>> {
        let me = self.node.id();
        let mut plan = Plan::default();
        // Whether a `Persist` came in this turn: every frame after it waits for the sync.
        let mut sync_due = false;
        while let Some(output) = self.node.poll_output() {
            let (dest, body) = match output {
                Output::Persist(record) => {
                    sync_due = true;
                    self.records.push(record);
                    continue;
                }
                Output::PersistLazy(record) => {
                    self.records.push(record);
                    self.lazy_since_us.get_or_insert(now_us);
                    continue;
                }
                Output::Archive { instance, value } => {
                    archive.add(instance, value);
                    continue;
                }
                Output::Lookup { instance } => {
                    let value = archive.lookup(instance).map_err(TurnError::Archive)?;
                    let value = value.ok_or(TurnError::Lost { instance })?;
                    self.node.handle_lookup(now_us, instance, value);
                    continue;
                }
                Output::Send { to, msg } => (to, Body::from(msg)),
                Output::Learned { instance, value } => (CONTROLLER, Body::Learned { instance, value }),
                Output::ProposeDone { op, instance, result } => {
                    let body = match result {
                        Ok(value) => Body::ProposeOk { in_reply_to: op, instance, value },
                        Err(e) => {
                            Body::Error { in_reply_to: op, code: e.code().into(), text: e.text().into() }
                        }
                    };
                    (CONTROLLER, body)
                }
            };
            let env = Envelope { src: me, dest, body };
            if sync_due {
                plan.late.push(env);
            } else {
                plan.early.push(env);
            }
        }
        // Group commit: every record of this turn in one batch under one sync, before any
        // frame that came after one of them. Lazy records ride along with the next batch (or
        // go alone once `LAZY_RECORDS_MAX` wait): every batch is synced, so the log never
        // holds an unsynced write behind which another is made (storage/log.rs).
        if sync_due || self.records.len() >= LAZY_RECORDS_MAX {
            plan.batch = Some(self.take_batch());
        }
        assert!(sync_due || plan.late.is_empty(), "frames held back with no sync to wait for");
        assert!(self.records.len() < LAZY_RECORDS_MAX, "lazy records beyond their bound");
        Ok(plan)
    }

    /// Whether to compact now, between turns: once the log holds `compact_log_bytes` and
    /// twice what its last snapshot held (so that a node whose live state does not shrink is
    /// not rewritten every turn), or once the archive holds `ARCHIVE_PENDING_MAX` decisions
    /// in memory.
    pub fn compaction_due(&self, log_bytes: u64, archive_pending: usize) -> bool {
        let min_bytes = self.node.config().tuning.compact_log_bytes;
        let log_due = log_bytes >= min_bytes.max(self.snapshot_bytes.saturating_mul(2));
        log_due || archive_pending >= ARCHIVE_PENDING_MAX
    }

    /// The records of the compacted log, to write once the archive is durable. The lazy
    /// records waiting are dropped: the snapshot holds every learned decision. Call
    /// [`Driver::compacted`] once the log is replaced.
    pub fn snapshot(&mut self) -> Vec<Record> {
        self.records.clear();
        self.lazy_since_us = None;
        self.node.snapshot()
    }

    /// The log was replaced by the snapshot and now holds `log_bytes`.
    pub fn compacted(&mut self, log_bytes: u64) {
        self.snapshot_bytes = log_bytes;
    }
}

#[cfg(test)]
mod tests;
