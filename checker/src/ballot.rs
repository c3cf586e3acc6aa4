//! Ballots as the protocol writes them: `[round, node]`, ordered lexicographically.
//!
//! The checker keeps its own copy of this type (rather than using the node crate's) because
//! it reads histories written by any implementation and must not depend on the node.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ballot `[round, node]`. The derived order is lexicographic: round first, then node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Ballot(pub u64, pub u64);

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{},{}]", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_round_then_node() {
        assert!(Ballot(2, 1) > Ballot(1, 9));
        assert!(Ballot(2, 2) > Ballot(2, 1));
        let b: Ballot = serde_json::from_str("[3,1]").unwrap();
        assert_eq!(b, Ballot(3, 1));
        assert!(serde_json::from_str::<Ballot>("[3]").is_err());
    }
}
