//! What the core asks to be made durable. Replaying the records in order rebuilds the state
//! that must survive a crash: promises, accepted values and the highest ballot round this
//! node's proposer used (or reserved); and, as a cache that may be lost, decisions learned.

use super::ballot::{Ballot, InstanceId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Record {
    /// The instance the record is about (`Round` is about none).
    pub fn instance(&self) -> Option<InstanceId> {
        match self {
            Record::Promise { instance, .. }
            | Record::Accept { instance, .. }
            | Record::Learned { instance, .. } => Some(*instance),
            Record::Round { .. } => None,
        }
    }
}
