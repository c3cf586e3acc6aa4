//! Injectable bugs ("mutants"): deliberately broken variants of the protocol.
//!
//! They exist to prove that the bench and the checker can see real Paxos bugs. Each is a
//! one-line slip somebody could make. The default, `Config::bug == None`, is always the
//! correct protocol. docs/mutants.md explains each one.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// Acceptor state is never persisted: a restarted acceptor forgets its promises.
    VolatileAcceptor,
    /// The proposer proposes its own value even when promises report accepted values.
    IgnorePromisedValue,
    /// The proposer adopts the first reported accepted value, not the highest-ballot one.
    FirstNotHighest,
    /// An acceptor accepts an `accept` below its promise.
    AcceptLowerBallot,
    /// Accepting does not raise the acceptor's promise.
    AcceptKeepsPromise,
    /// Ballots ignore the node id, so two proposers can use the same ballot.
    NonUniqueBallots,
    /// A quorum is floor(n/2) instead of floor(n/2)+1.
    MinorityQuorum,
    /// A learner decides on the first `accepted` it sees.
    LearnOnOne,
    /// The proposer's round counter is not persisted, so it reuses ballots after a restart.
    BallotReuseAfterRestart,
    /// The node writes its records but never fsyncs them: a SIGKILL keeps them (the page
    /// cache survives it), a power loss does not.
    SkipFsync,
}

impl Bug {
    pub const ALL: [Bug; 10] = [
        Bug::VolatileAcceptor,
        Bug::IgnorePromisedValue,
        Bug::FirstNotHighest,
        Bug::AcceptLowerBallot,
        Bug::AcceptKeepsPromise,
        Bug::NonUniqueBallots,
        Bug::MinorityQuorum,
        Bug::LearnOnOne,
        Bug::BallotReuseAfterRestart,
        Bug::SkipFsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::VolatileAcceptor => "volatile-acceptor",
            Bug::IgnorePromisedValue => "ignore-promised-value",
            Bug::FirstNotHighest => "first-not-highest",
            Bug::AcceptLowerBallot => "accept-lower-ballot",
            Bug::AcceptKeepsPromise => "accept-keeps-promise",
            Bug::NonUniqueBallots => "non-unique-ballots",
            Bug::MinorityQuorum => "minority-quorum",
            Bug::LearnOnOne => "learn-on-one",
            Bug::BallotReuseAfterRestart => "ballot-reuse-after-restart",
            Bug::SkipFsync => "skip-fsync",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Bug::VolatileAcceptor => "acceptor state is not persisted (lost on restart)",
            Bug::IgnorePromisedValue => {
                "the proposer proposes its own value even when promises report accepted values"
            }
            Bug::FirstNotHighest => {
                "the proposer adopts the first reported accepted value, not the highest-ballot one"
            }
            Bug::AcceptLowerBallot => "an acceptor accepts an accept below its promise",
            Bug::AcceptKeepsPromise => "accepting does not raise the acceptor's promise",
            Bug::NonUniqueBallots => "ballots ignore the node id, so proposers can share a ballot",
            Bug::MinorityQuorum => "a quorum is floor(n/2) instead of floor(n/2)+1",
            Bug::LearnOnOne => "a learner decides on the first accepted it sees",
            Bug::BallotReuseAfterRestart => "the proposer's round counter is not persisted",
            Bug::SkipFsync => "records are written but never fsynced (only a power loss shows it)",
        }
    }

    /// A bug of the runtime's storage, not of the core's steps: the core runs the correct
    /// protocol, and only a fault that loses unsynced writes (the power-loss nemesis) can
    /// show it. Harnesses of the core alone (the model test) have nothing to catch.
    pub fn needs_power_loss(self) -> bool {
        matches!(self, Bug::SkipFsync)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant {0:?}; known mutants: {known}", known = Bug::ALL.map(|b| b.name()).join(", "))]
pub struct UnknownBug(pub String);

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| UnknownBug(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::Bug;

    #[test]
    fn names_round_trip_through_str_and_json() {
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>().unwrap(), bug);
            let json = serde_json::to_string(&bug).unwrap();
            assert_eq!(json, format!("\"{}\"", bug.name()));
        }
        let err = "nope".parse::<Bug>().unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("learn-on-one"), "{err}");
    }
}
