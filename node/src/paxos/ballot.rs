//! Ballots: `(round, node)` pairs, ordered lexicographically.
//!
//! Two proposers never share a ballot because the node id breaks ties; one proposer never
//! reuses a round because it persists the highest round it used (see `Record::Round`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node id: 1..=N. 0 is the controller.
pub type NodeId = u32;
/// An independent single-decree Paxos instance.
pub type InstanceId = u64;

/// A ballot number. Serialized as `[round, node]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(from = "(u64, NodeId)", into = "(u64, NodeId)")]
pub struct Ballot {
    pub round: u64,
    pub node: NodeId,
}

impl Ballot {
    /// The ballot below every ballot a proposer can use: round 0 is only ever used as
    /// `[0, owner]` by its instance's owner (node ids start at 1), every other round is at least 1.
    pub const ZERO: Ballot = Ballot { round: 0, node: 0 };

    pub fn new(round: u64, node: NodeId) -> Ballot {
        Ballot { round, node }
    }
}

impl From<(u64, NodeId)> for Ballot {
    fn from((round, node): (u64, NodeId)) -> Ballot {
        Ballot { round, node }
    }
}

impl From<Ballot> for (u64, NodeId) {
    fn from(b: Ballot) -> (u64, NodeId) {
        (b.round, b.node)
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{},{}]", self.round, self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_order_by_round_then_node() {
        assert!(Ballot::new(2, 1) > Ballot::new(1, 9));
        assert!(Ballot::new(2, 2) > Ballot::new(2, 1));
        assert!(Ballot::ZERO < Ballot::new(1, 0));
    }

    #[test]
    fn ballot_serializes_as_pair() {
        let b = Ballot::new(3, 1);
        assert_eq!(serde_json::to_string(&b).unwrap(), "[3,1]");
        let back: Ballot = serde_json::from_str("[3,1]").unwrap();
        assert_eq!(back, b);
    }
}
