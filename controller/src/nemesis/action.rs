//! The nemesis's actions: what a schedule (generated, scripted or replayed) asks for at a
//! given time. Each is recorded in the history as a `nemesis` event whose fields are exactly
//! the action's serialization, so a recorded run can be turned back into a schedule; the
//! conversions both ways live in [`super::event`].

use crate::limits;
use crate::net::faults::DelayDist;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use synod_node::paxos::NodeId;

/// One nemesis action. `nodes` lists targets; `kill-all` fills it with the nodes it killed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Every message between two different nodes is lost with probability `p`.
    Loss {
        p: f64,
    },
    LossOff,
    /// Every message is held for a time drawn from `dist` with mean `mean_ms`.
    Delay {
        dist: DelayDist,
        mean_ms: f64,
    },
    DelayOff,
    /// Every message is delivered twice with probability `p` (the copy gets its own delay).
    Duplicate {
        p: f64,
    },
    DuplicateOff,
    /// A message is held with probability `p` for up to `max_ms`, so later ones overtake it.
    Reorder {
        p: f64,
        max_ms: f64,
    },
    ReorderOff,
    /// Cuts links. `components` (groups that cannot reach each other, both ways) and `cut`
    /// (directed `[src, dest]` links) add up; `shape` names the pattern for readers.
    Partition {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shape: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        components: Vec<Vec<NodeId>>,
        #[serde(default)]
        cut: Vec<[NodeId; 2]>,
    },
    /// Ends every partition.
    Heal,
    /// SIGKILL.
    Kill {
        nodes: Vec<NodeId>,
    },
    /// Starts the nodes again, with the same data dirs (a node still being reaped after its
    /// kill is started as soon as its exit is seen).
    Restart {
        nodes: Vec<NodeId>,
    },
    /// SIGSTOP.
    Stop {
        nodes: Vec<NodeId>,
    },
    /// SIGCONT.
    Cont {
        nodes: Vec<NodeId>,
    },
    /// SIGKILL every running node at once.
    KillAll {
        #[serde(default)]
        nodes: Vec<NodeId>,
    },
    /// A power cut: SIGKILL, then every write of the node that its program had not yet
    /// fsynced is lost (the lazy filesystem under its data dir drops it, once the process
    /// has gone); with `torn`, whole sectors of the last unsynced write's prefix are kept.
    /// `restart` starts it again.
    PowerLoss {
        nodes: Vec<NodeId>,
        #[serde(default)]
        torn: bool,
    },
    /// A power cut of every node at once (fills `nodes` like `kill-all`).
    PowerLossAll {
        #[serde(default)]
        nodes: Vec<NodeId>,
        #[serde(default)]
        torn: bool,
    },
    /// Ends every fault: links healed, paused nodes resumed, dead nodes restarted.
    HealAll,
    /// While on, a node that sends a `msg` message (prepare, promise, nack, accept,
    /// accepted, decided) is SIGKILLed right after it, with probability `p`: a crash at that
    /// step of the protocol. What it sent after that message is discarded, as if it had
    /// died before writing it. One such crash at a time; the node restarts after `down_ms`.
    /// The kill and the restart are recorded with `"trigger": msg`.
    CrashPoint {
        msg: String,
        p: f64,
        down_ms: f64,
    },
    CrashPointOff,
    /// Messages to these nodes are held (not delivered, not lost) until `hold-off`.
    Hold {
        nodes: Vec<NodeId>,
    },
    HoldOff {
        nodes: Vec<NodeId>,
    },
    /// Only in a schedule line with `on` (at `send`): that one message is lost (reason
    /// `nemesis`).
    DropMessage,
}

/// The message types a crash point can follow.
pub const CRASH_POINT_MESSAGES: [&str; 6] = ["prepare", "promise", "nack", "accept", "accepted", "decided"];

impl Action {
    /// The name in the history's `action` field.
    #[cfg(test)]
    pub fn name(&self) -> &'static str {
        match self {
            Action::Loss { .. } => "loss",
            Action::LossOff => "loss-off",
            Action::Delay { .. } => "delay",
            Action::DelayOff => "delay-off",
            Action::Duplicate { .. } => "duplicate",
            Action::DuplicateOff => "duplicate-off",
            Action::Reorder { .. } => "reorder",
            Action::ReorderOff => "reorder-off",
            Action::Partition { .. } => "partition",
            Action::Heal => "heal",
            Action::Kill { .. } => "kill",
            Action::Restart { .. } => "restart",
            Action::Stop { .. } => "stop",
            Action::Cont { .. } => "cont",
            Action::KillAll { .. } => "kill-all",
            Action::PowerLoss { .. } => "power-loss",
            Action::PowerLossAll { .. } => "power-loss-all",
            Action::HealAll => "heal-all",
            Action::CrashPoint { .. } => "crash-point",
            Action::CrashPointOff => "crash-point-off",
            Action::Hold { .. } => "hold",
            Action::HoldOff { .. } => "hold-off",
            Action::DropMessage => "drop-message",
        }
    }

    /// Checks probabilities, durations and node ids for a cluster of `nodes` nodes.
    pub fn validate(&self, nodes: u32) -> Result<(), String> {
        let prob = |p: f64| limits::probability(p).map(drop).map_err(|must| format!("p {p:?}: {must}"));
        let ms = |field: &str, v: f64| {
            limits::millis(v).map(drop).map_err(|must| format!("{field} {v:?}: {must}"))
        };
        let ids = |list: &[NodeId]| match list.iter().find(|&&n| n == 0 || n > nodes) {
            Some(n) => Err(format!("no node {n} in a cluster of {nodes}")),
            None => Ok(()),
        };
        match self {
            Action::Loss { p } | Action::Duplicate { p } => prob(*p),
            Action::Delay { mean_ms, .. } => ms("mean_ms", *mean_ms),
            Action::Reorder { p, max_ms } => prob(*p).and(ms("max_ms", *max_ms)),
            Action::CrashPoint { msg, p, down_ms } => {
                if !CRASH_POINT_MESSAGES.contains(&msg.as_str()) {
                    return Err(format!(
                        "msg `{msg}`: a crash point follows one of {}",
                        CRASH_POINT_MESSAGES.join(", ")
                    ));
                }
                prob(*p).and(ms("down_ms", *down_ms))
            }
            Action::Partition { components, cut, .. } => {
                for group in components {
                    ids(group)?;
                }
                ids(&cut.iter().flatten().copied().collect::<Vec<_>>())
            }
            Action::Kill { nodes: list }
            | Action::Restart { nodes: list }
            | Action::Stop { nodes: list }
            | Action::Cont { nodes: list }
            | Action::KillAll { nodes: list }
            | Action::PowerLoss { nodes: list, .. }
            | Action::PowerLossAll { nodes: list, .. }
            | Action::Hold { nodes: list }
            | Action::HoldOff { nodes: list } => ids(list),
            _ => Ok(()),
        }
    }

    /// The directed links a partition cuts: `cut` plus every link between two components.
    /// Whether this action cuts a node's power (and so needs the lazy filesystem).
    pub fn cuts_power(&self) -> bool {
        matches!(self, Action::PowerLoss { .. } | Action::PowerLossAll { .. })
    }

    pub fn cut_links(components: &[Vec<NodeId>], cut: &[[NodeId; 2]]) -> BTreeSet<(NodeId, NodeId)> {
        let mut links: BTreeSet<(NodeId, NodeId)> = cut.iter().map(|&[a, b]| (a, b)).collect();
        for (i, a) in components.iter().enumerate() {
            for b in components.iter().skip(i + 1) {
                for &x in a {
                    for &y in b {
                        if x != y {
                            links.insert((x, y));
                            links.insert((y, x));
                        }
                    }
                }
            }
        }
        links
    }
}

/// Where a trigger watches a message: when it is sent, or when it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchPoint {
    #[default]
    Send,
    Delivery,
}

fn first() -> u32 {
    1
}

/// The message a triggered action waits for: the `nth` (from 1) message of this type that
/// matches every field given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageMatch {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<u64>,
    #[serde(default = "first")]
    pub nth: u32,
    #[serde(default)]
    pub at: MatchPoint,
}

impl MessageMatch {
    pub fn matches(&self, src: NodeId, dest: NodeId, kind: &str, instance: Option<u64>) -> bool {
        self.kind == kind
            && self.src.is_none_or(|s| s == src)
            && self.dest.is_none_or(|d| d == dest)
            && self.instance.is_none_or(|i| Some(i) == instance)
    }
}

/// An action that waits for a message instead of a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub on: MessageMatch,
    pub action: Action,
}

/// An action at a time, in microseconds after the workload started.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub at_us: u64,
    pub action: Action,
}

/// A run's nemesis schedule: timed actions and message triggers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    pub timed: Vec<Timed>,
    pub triggers: Vec<Trigger>,
}

impl Schedule {
    /// Whether any action cuts power: the run then needs a lazy filesystem under the nodes.
    pub fn cuts_power(&self) -> bool {
        self.timed.iter().any(|t| t.action.cuts_power())
            || self.triggers.iter().any(|t| t.action.cuts_power())
    }
}

impl From<Vec<Timed>> for Schedule {
    fn from(timed: Vec<Timed>) -> Schedule {
        Schedule { timed, triggers: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_with_their_history_names() {
        let all = [
            Action::Loss { p: 0.2 },
            Action::LossOff,
            Action::Delay { dist: DelayDist::Uniform, mean_ms: 3.0 },
            Action::DelayOff,
            Action::Duplicate { p: 0.1 },
            Action::DuplicateOff,
            Action::Reorder { p: 0.3, max_ms: 40.0 },
            Action::ReorderOff,
            Action::Partition { shape: Some("isolate".into()), components: vec![vec![1]], cut: vec![[1, 2]] },
            Action::Heal,
            Action::Kill { nodes: vec![2] },
            Action::Restart { nodes: vec![2] },
            Action::Stop { nodes: vec![3] },
            Action::Cont { nodes: vec![3] },
            Action::KillAll { nodes: vec![1, 2, 3] },
            Action::PowerLoss { nodes: vec![2], torn: true },
            Action::PowerLossAll { nodes: vec![1, 2, 3], torn: false },
            Action::HealAll,
            Action::CrashPoint { msg: "accept".into(), p: 0.05, down_ms: 200.0 },
            Action::CrashPointOff,
            Action::Hold { nodes: vec![3] },
            Action::HoldOff { nodes: vec![3] },
            Action::DropMessage,
        ];
        for a in all {
            let v = serde_json::to_value(&a).unwrap();
            assert_eq!(v["action"], a.name(), "{v}");
            let back: Action = serde_json::from_value(v).unwrap();
            assert_eq!(back, a);
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert!(Action::Loss { p: 1.5 }.validate(3).unwrap_err().contains("probability"));
        assert!(Action::Loss { p: f64::NAN }
            .validate(3)
            .unwrap_err()
            .contains("p NaN: must be a probability"));
        let long = Action::CrashPoint { msg: "accept".into(), p: 0.1, down_ms: 1e300 };
        assert!(long.validate(3).unwrap_err().starts_with("down_ms 1e300: must be a number of milliseconds"));
        let long = Action::Delay { dist: DelayDist::Constant, mean_ms: 3_600_001.0 };
        assert!(long.validate(3).unwrap_err().contains("mean_ms 3600001.0"));
        assert!(Action::Kill { nodes: vec![4] }.validate(3).unwrap_err().contains("no node 4"));
        assert!(Action::Partition { shape: None, components: vec![], cut: vec![[0, 1]] }
            .validate(3)
            .is_err());
        assert!(Action::Kill { nodes: vec![3] }.validate(3).is_ok());
        let bad = Action::CrashPoint { msg: "hello".into(), p: 0.1, down_ms: 1.0 };
        assert!(bad.validate(3).unwrap_err().contains("msg `hello`"));
    }

    #[test]
    fn components_cut_every_link_between_groups_both_ways() {
        let links = Action::cut_links(&[vec![1, 2], vec![3]], &[[4, 5]]);
        let want: BTreeSet<_> = [(1, 3), (3, 1), (2, 3), (3, 2), (4, 5)].into_iter().collect();
        assert_eq!(links, want);
    }
}
