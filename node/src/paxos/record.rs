//! What the core asks to be made durable. Replaying the records in order rebuilds the state
//! that must survive a crash: promises, accepted values and the highest ballot round this
//! node's proposer used (or reserved); as a cache that may be lost, decisions learned; and,
//! in a compacted log (`Node::snapshot`), the ids of decisions retired to the archive.

use super::ballot::{Ballot, InstanceId};
use serde::Serialize;

/// Written by serde's derive (the tag `r` first); read by `record_de.rs`, which takes the
/// same JSON without serde's buffering of internally tagged enums: a restart reads its whole
/// log back, record by record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Record {
    /// The acceptor promised `ballot` in `instance`.
    Promise { instance: InstanceId, ballot: Ballot },
    /// The acceptor accepted `value` at `ballot` in `instance` (and, unless mutated, promised it).
    Accept { instance: InstanceId, ballot: Ballot, value: String },
    /// The proposer used (or reserved) every round up to `round`.
    Round { round: u64 },
    /// The learner learned `value` for `instance`.
    Learned { instance: InstanceId, value: String },
    /// Every instance of `from..=to` is decided and its value is in the archive: the node
    /// keeps no other state for them. Written only in a snapshot, after the archive is durable.
    Retired { from: InstanceId, to: InstanceId },
}

impl Record {
    /// The instance the record is about (`Round` is about none).
    pub fn instance(&self) -> Option<InstanceId> {
        match self {
            Record::Promise { instance, .. }
            | Record::Accept { instance, .. }
            | Record::Learned { instance, .. } => Some(*instance),
            Record::Round { .. } | Record::Retired { .. } => None,
        }
    }
}
