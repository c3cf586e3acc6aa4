//! The Paxos messages nodes exchange (docs/protocol.md, "Paxos frames").

use super::ballot::{Ballot, InstanceId};
use serde::{Deserialize, Serialize};

/// A value an acceptor accepted, reported in a promise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AcceptedValue {
    pub ballot: Ballot,
    pub value: String,
}

/// Phase 1a: proposer -> acceptors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Prepare {
    pub instance: InstanceId,
    pub ballot: Ballot,
}

/// Phase 1b: acceptor -> proposer. `accepted` is the highest-ballot value it accepted, if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Promise {
    pub instance: InstanceId,
    pub ballot: Ballot,
    pub accepted: Option<AcceptedValue>,
}

/// An acceptor refuses `ballot` because it promised `promised`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nack {
    pub instance: InstanceId,
    pub ballot: Ballot,
    pub promised: Ballot,
}

/// Phase 2a: proposer -> acceptors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accept {
    pub instance: InstanceId,
    pub ballot: Ballot,
    pub value: String,
}

/// Phase 2b: acceptor -> every learner and the proposer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accepted {
    pub instance: InstanceId,
    pub ballot: Ballot,
    pub value: String,
}

/// A proposer that knows the decision tells the learners; re-sent until `decided_ok`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Decided {
    pub instance: InstanceId,
    pub value: String,
}

/// A learner acknowledges a `decided` (it has the decision on disk).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DecidedOk {
    pub instance: InstanceId,
}

/// A learner asks for the decisions it lacks in `from_instance..=to_instance` (no
/// `to_instance`: from `from_instance` upward); any node answers with a `decided` per
/// decision it knows there, at most 64 (docs/protocol.md, "Catch-up").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Catchup {
    pub from_instance: InstanceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_instance: Option<InstanceId>,
}

/// Every message of the Paxos protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg {
    Prepare(Prepare),
    Promise(Promise),
    Nack(Nack),
    Accept(Accept),
    Accepted(Accepted),
    Decided(Decided),
    DecidedOk(DecidedOk),
    Catchup(Catchup),
}

impl Msg {
    pub fn instance(&self) -> InstanceId {
        match self {
            Msg::Prepare(m) => m.instance,
            Msg::Promise(m) => m.instance,
            Msg::Nack(m) => m.instance,
            Msg::Accept(m) => m.instance,
            Msg::Accepted(m) => m.instance,
            Msg::Decided(m) => m.instance,
            Msg::DecidedOk(m) => m.instance,
            Msg::Catchup(m) => m.from_instance,
        }
    }
}
