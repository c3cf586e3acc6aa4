//! The core's configuration: who plays which role, timing, and the optional mutant.
//!
//! Timeouts arrive from outside (the controller's `init`), so they carry a bound,
//! [`MAX_DURATION_MS`]: a node checks its `init` with [`Tuning::validate`] and refuses an
//! absurd one, naming the field, rather than overflow its clock arithmetic. The core itself
//! also saturates, so a test that builds a `Tuning` by hand cannot overflow it either.

use super::ballot::{InstanceId, NodeId};
use super::bug::Bug;
use serde::{Deserialize, Serialize};

/// The longest duration any tunable may name: one hour (3,600,000 ms). Far above any useful
/// timeout, far below what overflows microseconds since start-up in a `u64`.
pub const MAX_DURATION_MS: u64 = 3_600_000;

/// A tunable out of its bounds, naming the `init.config` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TuningError {
    #[error("config.{field} {value}: at most {MAX_DURATION_MS} ms (1 hour)")]
    TooLong { field: &'static str, value: u64 },
}

/// Tunables sent by the controller in `init.config` (all optional on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tuning {
    /// A phase (prepare or accept) that has no quorum after this long is retried.
    pub phase_timeout_ms: u64,
    /// Randomised exponential backoff before a retry. Off: retry at once (dueling livelock).
    pub backoff: bool,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A proposal gives up (error `gave_up`) after this many ballots.
    pub max_attempts: u32,
    /// `decided` is re-sent to a learner that has not acknowledged it after this long, then
    /// after twice as long, and so on up to `decided_retry_max_ms`.
    pub decided_retry_ms: u64,
    pub decided_retry_max_ms: u64,
    /// `decided` is re-sent at most this many times per learner.
    pub decided_max_retries: u32,
    /// A learner's catch-up tick: a hole in its decisions still there after one tick is
    /// asked for (docs/protocol.md, "Catch-up").
    pub catchup_ms: u64,
    /// Open proposals on this node at most; more are refused with error `busy`.
    pub max_proposals: usize,
    /// Decisions kept live (in memory, with their acceptor and learner state) at most; older
    /// ones are retired to the archive on disk (docs/protocol.md, "Compaction").
    pub retain_decided: usize,
    /// The built-in runtime compacts its log once it holds this many bytes of batches (and
    /// twice what its last compaction left). Not used by the core.
    pub compact_log_bytes: u64,
    /// Round 0 of an instance skips phase 1 on its owner (`Config::round_zero_owner`).
    /// Off: every ballot runs both phases.
    pub fast_round: bool,
    /// Seed for backoff jitter (mixed with the node id).
    pub seed: u64,
    /// A mutant, or `null` for the correct protocol.
    pub bug: Option<Bug>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            phase_timeout_ms: 200,
            backoff: true,
            backoff_base_ms: 2,
            backoff_max_ms: 500,
            max_attempts: 200,
            decided_retry_ms: 100,
            decided_retry_max_ms: 2_000,
            decided_max_retries: 100,
            catchup_ms: 200,
            max_proposals: 10_000,
            retain_decided: 16_384,
            compact_log_bytes: 16 * 1024 * 1024,
            fast_round: true,
            seed: 0,
            bug: None,
        }
    }
}

impl Tuning {
    /// The durations, by field name, in milliseconds.
    pub fn durations_ms(&self) -> [(&'static str, u64); 6] {
        [
            ("phase_timeout_ms", self.phase_timeout_ms),
            ("backoff_base_ms", self.backoff_base_ms),
            ("backoff_max_ms", self.backoff_max_ms),
            ("decided_retry_ms", self.decided_retry_ms),
            ("decided_retry_max_ms", self.decided_retry_max_ms),
            ("catchup_ms", self.catchup_ms),
        ]
    }

    /// Checks every duration against [`MAX_DURATION_MS`]; the error names the first field out
    /// of bounds.
    pub fn validate(&self) -> Result<(), TuningError> {
        match self.durations_ms().into_iter().find(|&(_, ms)| ms > MAX_DURATION_MS) {
            Some((field, value)) => Err(TuningError::TooLong { field, value }),
            None => Ok(()),
        }
    }
}

/// The proposer that owns round 0 of `instance`: `proposers[instance mod P]`, in the order
/// of `init.proposers`. Every node of a run gets the same list, so they all agree on it.
pub fn round_zero_owner(proposers: &[NodeId], instance: InstanceId) -> Option<NodeId> {
    let p = proposers.len() as u64;
    (p > 0).then(|| proposers[(instance % p) as usize])
}

/// Everything the core needs to know to run one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub node: NodeId,
    pub acceptors: Vec<NodeId>,
    pub proposers: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub tuning: Tuning,
}

impl Config {
    /// A config in which every node of `nodes` plays every role.
    pub fn all_roles(node: NodeId, nodes: &[NodeId]) -> Config {
        Config {
            node,
            acceptors: nodes.to_vec(),
            proposers: nodes.to_vec(),
            learners: nodes.to_vec(),
            tuning: Tuning::default(),
        }
    }

    pub fn bug(&self) -> Option<Bug> {
        self.tuning.bug
    }

    pub fn has_bug(&self, bug: Bug) -> bool {
        self.tuning.bug == Some(bug)
    }

    /// Acceptors whose `promise` or `accepted` make a quorum.
    pub fn quorum(&self) -> usize {
        let n = self.acceptors.len();
        if self.has_bug(Bug::MinorityQuorum) {
            (n / 2).max(1)
        } else {
            n / 2 + 1
        }
    }

    /// The proposer that owns round 0 of `instance` (see [`round_zero_owner`]).
    pub fn round_zero_owner(&self, instance: InstanceId) -> Option<NodeId> {
        round_zero_owner(&self.proposers, instance)
    }

    pub fn is_acceptor(&self) -> bool {
        self.acceptors.contains(&self.node)
    }

    pub fn is_proposer(&self) -> bool {
        self.proposers.contains(&self.node)
    }

    pub fn is_learner(&self) -> bool {
        self.learners.contains(&self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority() {
        let c = Config::all_roles(1, &[1, 2, 3]);
        assert_eq!(c.quorum(), 2);
        let c = Config::all_roles(1, &[1, 2, 3, 4, 5]);
        assert_eq!(c.quorum(), 3);
        let c = Config::all_roles(1, &[1, 2, 3, 4]);
        assert_eq!(c.quorum(), 3);
    }

    #[test]
    fn minority_quorum_mutant_takes_half() {
        let mut c = Config::all_roles(1, &[1, 2, 3, 4, 5]);
        c.tuning.bug = Some(Bug::MinorityQuorum);
        assert_eq!(c.quorum(), 2);
    }

    #[test]
    fn tuning_rejects_unknown_fields() {
        let err = serde_json::from_str::<Tuning>(r#"{"phase_timeout":1}"#).unwrap_err();
        assert!(err.to_string().contains("phase_timeout"), "{err}");
        let t: Tuning = serde_json::from_str(r#"{"bug":"learn-on-one"}"#).unwrap();
        assert_eq!(t.bug, Some(Bug::LearnOnOne));
        assert_eq!(t.phase_timeout_ms, 200);
    }

    #[test]
    fn absurd_durations_are_refused_naming_the_field() {
        assert_eq!(Tuning::default().validate(), Ok(()));
        let edge = Tuning { phase_timeout_ms: MAX_DURATION_MS, ..Tuning::default() };
        assert_eq!(edge.validate(), Ok(()));
        for field in [
            "phase_timeout_ms",
            "backoff_base_ms",
            "backoff_max_ms",
            "decided_retry_ms",
            "decided_retry_max_ms",
        ] {
            let t: Tuning = serde_json::from_str(&format!("{{\"{field}\": {}}}", u64::MAX)).unwrap();
            let e = t.validate().unwrap_err().to_string();
            assert_eq!(e, format!("config.{field} {}: at most 3600000 ms (1 hour)", u64::MAX));
        }
    }
}
