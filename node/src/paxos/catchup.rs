//! Learner catch-up: a learner that lacks decisions asks the other nodes for them.
//!
//! A learner misses a decision when it was down, paused or cut off while the `accepted`s
//! went by, and the proposer's `decided` re-sends are not enough: they stop after
//! `decided_max_retries`, and they die with the proposer if it crashes. So the learner pulls:
//!
//! - **Holes.** Instance ids are numbered from 1 by the workload (the scan starts at 1, or at
//!   the lowest id seen if that is lower), and the learner tracks the highest id it has seen
//!   in any message or propose. An id up to that one without a decision is a hole. A hole
//!   that is still there one tick later (`catchup_ms`, so an instance merely in flight is not
//!   asked about) is requested: `catchup {from_instance, to_instance}`, covering the hole up
//!   to the next decision the learner knows, at most [`MAX_INSTANCES_PER_REQUEST`] ids.
//! - **Probes.** A node that restarted from records does not know what was decided above the
//!   highest id it saw while it was up, so on its first tick it asks from its first hole
//!   upward (open-ended, at most [`MAX_INSTANCES_PER_REQUEST`] ids), and again on each tick
//!   while the previous probe brought new decisions.
//! - **Answers.** Any node that knows decisions in the range answers with one `decided` per
//!   decision, lowest first, at most [`MAX_INSTANCES_PER_REQUEST`] of them; the learner
//!   takes each as it takes a proposer's `decided` (and acknowledges it with `decided_ok`).
//!
//! Bounded: at most [`MAX_REQUESTS_PER_TICK`] requests per tick, each to one peer in turn,
//! each answered by at most [`MAX_INSTANCES_PER_REQUEST`] messages. Ids that never existed
//! (a workload with sparse ids) cost one request a tick and an empty answer. The timer is
//! armed only while there is a hole or a probe under way, so an idle node has none.
//!
//! It changes nothing the checker judges: a `decided` carries a chosen value, whoever sends it.

use super::ballot::{InstanceId, NodeId};
use super::config::Config;
use super::decisions::{Decisions, Known};
use super::fingerprint::relative_us;
use super::msg::{Catchup, Decided, Msg};
use super::output::Effects;
use std::hash::{Hash, Hasher};

/// Instance ids one `catchup` covers, and decisions one answer carries, at most.
pub const MAX_INSTANCES_PER_REQUEST: u64 = 64;
/// Requests one tick sends, at most (one per hole, the lowest holes first): 2,048 ids a tick,
/// so a learner that missed seconds of decisions at full load catches up within a few ticks.
pub const MAX_REQUESTS_PER_TICK: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct CatchUp {
    /// The lowest instance id seen, if below 1.
    lowest_seen: Option<InstanceId>,
    /// The highest instance id seen in any message, propose or record.
    max_seen: Option<InstanceId>,
    /// Every id from the scan's start through this one is decided here (`None`: not even
    /// the first).
    contiguous: Option<InstanceId>,
    /// The starts of the holes found at the previous tick.
    last_holes: Vec<InstanceId>,
    /// A probe is under way (after a restart); with the decision count at the last probe.
    probing: Option<Option<u64>>,
    /// The next tick, once armed.
    next_us: Option<u64>,
    /// The peer the next request goes to (an index into the config's other nodes).
    next_peer: usize,
}

impl CatchUp {
    /// Notes an instance id seen anywhere.
    pub fn saw(&mut self, instance: InstanceId) {
        self.max_seen = Some(self.max_seen.map_or(instance, |m| m.max(instance)));
        if instance < self.start() {
            // The scan now starts lower: `advance` recomputes the decided prefix from there.
            self.lowest_seen = Some(instance);
            self.contiguous = None;
        }
    }

    /// The node restarted from records: probe for what was decided while it was down.
    pub fn restarted(&mut self) {
        self.probing = Some(None);
    }

    /// When `on_tick` is due: only while there is a hole or a probe.
    pub fn next_timeout_us(&self) -> Option<u64> {
        // Conservative: the id after `contiguous` may have been decided since (see `advance`).
        let hole = self.next_unscanned().zip(self.max_seen).is_some_and(|(next, m)| next <= m);
        let busy = self.probing.is_some() || hole;
        if busy {
            self.next_us
        } else {
            None
        }
    }

    /// Arms the timer at the first event this node sees (the core has no clock of its own).
    pub fn arm(&mut self, config: &Config, now_us: u64) {
        // `catchup_ms: 0` turns catch-up off.
        if self.next_us.is_none() && config.tuning.catchup_ms > 0 {
            self.next_us = Some(now_us.saturating_add(config.tuning.catchup_ms.saturating_mul(1000)));
        }
    }

    /// The id after the decided prefix (`None` once every id is decided).
    fn next_unscanned(&self) -> Option<InstanceId> {
        match self.contiguous {
            None => Some(self.start()),
            Some(c) => c.checked_add(1),
        }
    }

    /// Where the scan for holes starts: 1, or the lowest id seen if that is lower.
    fn start(&self) -> InstanceId {
        self.lowest_seen.unwrap_or(1).min(1)
    }

    /// Advances `contiguous` over the decisions known: the node calls it after each new
    /// decision, so the id after `contiguous` is never decided (but after a lower id was
    /// first seen, until the next call).
    pub fn advance(&mut self, decisions: &Decisions) {
        let Some(next) = self.next_unscanned() else { return };
        match decisions.next_unknown(next) {
            Some(hole) if hole > next => self.contiguous = Some(hole - 1),
            Some(_) => {}
            None => self.contiguous = Some(InstanceId::MAX),
        }
    }

    /// The lowest id without a decision, if it is not above the highest seen.
    fn first_hole(&self, decisions: &Decisions) -> Option<InstanceId> {
        let next = self.next_unscanned()?;
        (next <= self.max_seen? && !decisions.contains(next)).then_some(next)
    }

    /// Up to `limit` holes at or above the first, as (from, to) ranges of at most
    /// [`MAX_INSTANCES_PER_REQUEST`] ids, each ending before the next known decision.
    fn holes(&self, decisions: &Decisions, limit: usize) -> Vec<(InstanceId, InstanceId)> {
        let mut out = Vec::new();
        let Some(max) = self.max_seen else { return out };
        let Some(mut from) = self.first_hole(decisions) else { return out };
        while out.len() < limit && from <= max {
            let cap = from.saturating_add(MAX_INSTANCES_PER_REQUEST - 1).min(max);
            let to = match decisions.next_known(from).filter(|&known| known <= cap) {
                Some(known) => known - 1,
                None => cap,
            };
            out.push((from, to));
            // The next hole: after the decided run that follows this one.
            let Some(next) = to.checked_add(1).and_then(|n| decisions.next_unknown(n)) else { break };
            from = next;
        }
        out
    }

    /// A tick: requests for the holes that were already there at the previous tick, and
    /// the probe if one is under way.
    pub fn on_tick(&mut self, now_us: u64, config: &Config, decisions: &Decisions, fx: &mut Effects) {
        if self.next_us.is_none_or(|t| now_us < t) {
            return;
        }
        self.next_us = Some(now_us.saturating_add(config.tuning.catchup_ms.saturating_mul(1000)));
        let peers = peers(config);
        if peers.is_empty() {
            self.probing = None;
            self.last_holes.clear();
            return;
        }
        self.advance(decisions);
        let holes = self.holes(decisions, MAX_REQUESTS_PER_TICK);
        let mut sent = 0;
        for &(from, to) in &holes {
            if self.last_holes.contains(&from) {
                self.request(&peers, from, Some(to), fx);
                sent += 1;
            }
        }
        self.last_holes = holes.iter().map(|&(from, _)| from).collect();
        if let Some(last) = self.probing {
            if last.is_some_and(|n| n == decisions.count()) {
                // The last probe brought nothing new: done.
                self.probing = None;
            } else if sent < MAX_REQUESTS_PER_TICK {
                let from = self
                    .first_hole(decisions)
                    .unwrap_or_else(|| self.max_seen.map_or(self.start(), |m| m.saturating_add(1)));
                self.request(&peers, from, None, fx);
                self.probing = Some(Some(decisions.count()));
            }
        }
    }

    fn request(&mut self, peers: &[NodeId], from: InstanceId, to: Option<InstanceId>, fx: &mut Effects) {
        let peer = peers[self.next_peer % peers.len()];
        self.next_peer = self.next_peer.wrapping_add(1);
        fx.send(peer, Msg::Catchup(Catchup { from_instance: from, to_instance: to }));
    }
}

/// Every other node of the cluster, in id order: any of them may know a decision.
fn peers(config: &Config) -> Vec<NodeId> {
    let mut all: Vec<NodeId> =
        config.acceptors.iter().chain(&config.proposers).chain(&config.learners).copied().collect();
    all.sort_unstable();
    all.dedup();
    all.retain(|&n| n != config.node);
    all
}

/// The answer to a `catchup`: the decisions known in its range, lowest first, at most
/// [`MAX_INSTANCES_PER_REQUEST`]. Live ones are sent at once; the retired ones are returned,
/// for the caller to look up in the archive and send.
pub fn answer(decisions: &Decisions, from: NodeId, m: &Catchup, fx: &mut Effects) -> Vec<InstanceId> {
    let to = m.to_instance.unwrap_or(InstanceId::MAX);
    let mut retired = Vec::new();
    for instance in decisions.known_in(m.from_instance, to, MAX_INSTANCES_PER_REQUEST as usize) {
        match decisions.get(instance) {
            Some(Known::Live(value)) => {
                fx.send(from, Msg::Decided(Decided { instance, value: value.to_string() }))
            }
            Some(Known::Retired) => retired.push(instance),
            None => unreachable!("known_in returns decided ids"),
        }
    }
    retired
}

impl CatchUp {
    /// Feeds the state to `h`, its tick relative to `now_us` (see `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, now_us: u64, h: &mut H) {
        self.lowest_seen.hash(h);
        self.max_seen.hash(h);
        self.contiguous.hash(h);
        self.last_holes.hash(h);
        self.probing.hash(h);
        self.next_us.map(|t| relative_us(t, now_us)).hash(h);
        self.next_peer.hash(h);
    }
}
