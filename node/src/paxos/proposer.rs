//! The proposer: drives one proposal per instance through phase 1 (prepare/promise) and
//! phase 2 (accept/accepted), retrying with a higher ballot after a randomised exponential
//! backoff when a phase fails (a nack, or no quorum before the phase timeout). Once it knows
//! the decision it answers the waiting client ops and announces the decision to every learner,
//! re-sending `decided` until each acknowledges it.
//!
//! Round 0 (the fast round). Phase 1 exists to learn what lower ballots may have chosen; the
//! lowest ballot of an instance has nothing below it, so its proposer may skip phase 1
//! (Lamport, "Fast Paxos", section 2.2.1: "the coordinator of round 0 can skip phase 1").
//! That is safe only if exactly one proposer ever uses that ballot, with one value. So round
//! 0 of instance `i` belongs to one proposer, [`Config::round_zero_owner`], every other
//! ballot has a round of at least 1, and the owner uses `[0, owner]` at most once per
//! instance: only in an incarnation that started with no `Round` record on disk, only after
//! this incarnation's first `Round` record is durable, and only for an instance it has not
//! used round 0 for in this incarnation (a proposal that gave up leaves its instance in
//! `round_zero_used`, so a re-invoke with another value prepares instead). A node that
//! restarts finds the record and never uses round 0 again, since it cannot know for which
//! instances its previous incarnation sent a round-0 `accept`.
//!
//! Rounds are reserved in blocks of [`ROUND_RESERVATION`]: one durable `Round` record covers
//! that many ballots, so a proposal does not wait for an fdatasync of its own before its
//! first message. After a restart the proposer starts above the whole reserved block.

use super::ballot::{Ballot, InstanceId, NodeId};
use super::bug::Bug;
use super::config::Config;
use super::fingerprint::{relative_us, sorted_keys};
use super::hash::FastSet;
use super::msg::{Accept, Accepted, AcceptedValue, Decided, Msg, Prepare, Promise};
use super::output::{Effects, OpId, Output, ProposeError};
use super::record::Record;
use super::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

/// Client ops waiting on one proposal, at most (a re-invoked op joins the open proposal).
pub const MAX_WAITERS: usize = 64;
/// Rounds reserved by one durable `Round` record.
pub const ROUND_RESERVATION: u64 = 1024;
/// Rounds seen in nacks are believed up to this; a higher one (only a faulty peer sends it)
/// would leave no ballot above it.
pub const MAX_SEEN_ROUND: u64 = u64::MAX / 4;

#[derive(Debug, Clone, Hash)]
enum Phase {
    /// Phase 1: promises so far, in arrival order.
    Preparing { promises: Vec<(NodeId, Option<AcceptedValue>)> },
    /// Phase 2: the value being proposed and the acceptors that accepted it.
    Accepting { value: String, accepted: BTreeSet<NodeId> },
    /// Between ballots: the next one starts at the deadline.
    Backoff,
}

#[derive(Debug, Clone)]
struct Proposal {
    own_value: String,
    waiters: Vec<OpId>,
    ballot: Ballot,
    /// Ballots used so far.
    attempts: u32,
    /// Highest round seen from other proposers in this instance (from nacks).
    seen_round: u64,
    phase: Phase,
    deadline_us: u64,
}

impl Proposal {
    /// The proposal's next ballot: above every ballot it used.
    fn take_ballot(&mut self, ballot: Ballot) {
        assert!(ballot > self.ballot, "a proposal's ballots must increase");
        self.ballot = ballot;
        self.attempts += 1;
    }

    /// Phase 2a: `value` at the current ballot, to every acceptor.
    fn begin_accept(
        &mut self,
        now_us: u64,
        config: &Config,
        instance: InstanceId,
        value: String,
        fx: &mut Effects,
    ) {
        let accept = Msg::Accept(Accept { instance, ballot: self.ballot, value: value.clone() });
        self.phase = Phase::Accepting { value, accepted: BTreeSet::new() };
        self.deadline_us = now_us.saturating_add(ms_to_us(config.tuning.phase_timeout_ms));
        fx.broadcast(&config.acceptors, &accept);
    }
}

/// A decision being announced to learners that have not acknowledged it yet.
#[derive(Debug, Clone)]
struct Announcement {
    value: String,
    pending: BTreeSet<NodeId>,
    retries: u32,
    next_us: u64,
}

#[derive(Debug, Clone)]
pub struct Proposer {
    proposals: BTreeMap<InstanceId, Proposal>,
    announcements: BTreeMap<InstanceId, Announcement>,
    /// The highest round this node used (or, after a restart, reserved before it).
    max_round: u64,
    /// Every round up to this one is covered by a durable (or queued) `Round` record.
    reserved_round: u64,
    /// Whether this incarnation may use round 0: no `Round` record was restored.
    fresh: bool,
    /// Instances whose round 0 this incarnation has used: never again, whatever the value.
    round_zero_used: FastSet<InstanceId>,
}

impl Proposer {
    pub fn new() -> Proposer {
        Proposer {
            proposals: BTreeMap::new(),
            announcements: BTreeMap::new(),
            max_round: 0,
            reserved_round: 0,
            fresh: true,
            round_zero_used: FastSet::default(),
        }
    }

    pub fn restore(&mut self, record: &Record) {
        if let Record::Round { round } = record {
            self.max_round = self.max_round.max(*round);
            self.reserved_round = self.max_round;
            self.fresh = false;
        }
    }

    /// Makes sure a `Round` record covering `round` is queued (before anything the caller
    /// sends next, so the runtime makes it durable first).
    fn reserve(&mut self, config: &Config, round: u64, fx: &mut Effects) {
        assert!(round >= 1, "rounds used by a proposer's counter start at 1");
        if round <= self.reserved_round {
            return;
        }
        self.reserved_round = round + ROUND_RESERVATION - 1;
        if !config.has_bug(Bug::BallotReuseAfterRestart) {
            fx.persist(Record::Round { round: self.reserved_round });
        }
    }

    /// Whether the next ballot for `instance` may be round 0, without phase 1.
    fn may_use_round_zero(&self, config: &Config, instance: InstanceId) -> bool {
        config.tuning.fast_round
            && self.fresh
            && !self.round_zero_used.contains(&instance)
            && !config.has_bug(Bug::NonUniqueBallots)
            && config.round_zero_owner(instance) == Some(config.node)
    }

    pub fn max_round(&self) -> u64 {
        self.max_round
    }

    /// Forgets a retired instance: its announcement stops (a learner that still lacks the
    /// decision catches up from the archive).
    pub fn forget(&mut self, instance: InstanceId) {
        assert!(!self.proposals.contains_key(&instance), "a decided instance has no open proposal");
        self.announcements.remove(&instance);
        self.round_zero_used.remove(&instance);
    }

    /// Instances with proposer state in memory (open proposals and announcements).
    pub fn live_instances(&self) -> usize {
        self.proposals.len() + self.announcements.len() + self.round_zero_used.len()
    }

    /// The record that rebuilds this proposer: its reserved round, if it ever reserved one
    /// (none under the ballot-reuse mutant, which persists none).
    pub fn snapshot(&self, config: &Config, out: &mut Vec<Record>) {
        if self.reserved_round > 0 && !config.has_bug(Bug::BallotReuseAfterRestart) {
            out.push(Record::Round { round: self.reserved_round });
        }
    }

    pub fn open_proposals(&self) -> usize {
        self.proposals.len()
    }

    pub fn ballot_of(&self, instance: InstanceId) -> Option<Ballot> {
        self.proposals.get(&instance).map(|p| p.ballot)
    }

    pub fn next_timeout_us(&self) -> Option<u64> {
        let p = self.proposals.values().map(|p| p.deadline_us).min();
        let a = self.announcements.values().map(|a| a.next_us).min();
        p.into_iter().chain(a).min()
    }

    /// A client asks this node to propose `value` for `instance`.
    pub fn propose(
        &mut self,
        now_us: u64,
        config: &Config,
        op: OpId,
        instance: InstanceId,
        value: String,
        fx: &mut Effects,
    ) {
        if let Some(p) = self.proposals.get_mut(&instance) {
            if p.waiters.len() < MAX_WAITERS {
                p.waiters.push(op);
            } else {
                fx.push(done(op, instance, Err(ProposeError::Busy)));
            }
            return;
        }
        if self.proposals.len() >= config.tuning.max_proposals {
            fx.push(done(op, instance, Err(ProposeError::Busy)));
            return;
        }
        let proposal = Proposal {
            own_value: value,
            waiters: vec![op],
            ballot: Ballot::ZERO,
            attempts: 0,
            seen_round: 0,
            phase: Phase::Backoff,
            deadline_us: now_us,
        };
        self.proposals.insert(instance, proposal);
        self.start_ballot(now_us, config, instance, fx);
    }

    /// The next ballot: round 0 straight to phase 2 when this node owns it (see the module
    /// docs), otherwise phase 1a with a round above every round this node used or saw.
    fn start_ballot(&mut self, now_us: u64, config: &Config, instance: InstanceId, fx: &mut Effects) {
        if self.may_use_round_zero(config, instance) {
            // The reservation is this incarnation's mark on disk: it is queued before the
            // accepts, so a restart can never find an empty log after a round-0 accept left.
            self.reserve(config, self.max_round + 1, fx);
            self.round_zero_used.insert(instance);
            let p = self.proposals.get_mut(&instance).expect("start_ballot on an open proposal");
            p.take_ballot(Ballot::new(0, config.node));
            let value = p.own_value.clone();
            p.begin_accept(now_us, config, instance, value, fx);
            return;
        }
        let seen_round = self.proposals.get(&instance).expect("start_ballot on an open proposal").seen_round;
        let round = self.max_round.max(seen_round) + 1;
        self.max_round = round;
        self.reserve(config, round, fx);
        let p = self.proposals.get_mut(&instance).expect("start_ballot on an open proposal");
        let node = if config.has_bug(Bug::NonUniqueBallots) { 0 } else { config.node };
        let ballot = Ballot::new(round, node);
        p.take_ballot(ballot);
        p.phase = Phase::Preparing { promises: Vec::new() };
        p.deadline_us = now_us.saturating_add(ms_to_us(config.tuning.phase_timeout_ms));
        fx.broadcast(&config.acceptors, &Msg::Prepare(Prepare { instance, ballot }));
    }

    pub fn on_promise(&mut self, now_us: u64, config: &Config, from: NodeId, m: Promise, fx: &mut Effects) {
        let Some(p) = self.proposals.get_mut(&m.instance) else {
            return;
        };
        if m.ballot != p.ballot || !config.acceptors.contains(&from) {
            return; // stale: a promise for an older ballot of ours
        }
        let Phase::Preparing { promises } = &mut p.phase else {
            return;
        };
        if promises.iter().any(|(n, _)| *n == from) {
            return; // duplicate
        }
        promises.push((from, m.accepted));
        if promises.len() < config.quorum() {
            return;
        }
        let value = choose_value(config, &p.own_value, promises);
        p.begin_accept(now_us, config, m.instance, value, fx);
    }

    /// Returns the decided value when this `accepted` completes a quorum for our ballot and
    /// value (an `accepted` of our ballot with another value is not ours to count).
    pub fn on_accepted(&mut self, config: &Config, from: NodeId, m: &Accepted) -> Option<String> {
        let p = self.proposals.get_mut(&m.instance)?;
        if m.ballot != p.ballot || !config.acceptors.contains(&from) {
            return None;
        }
        let Phase::Accepting { value, accepted } = &mut p.phase else {
            return None;
        };
        if *value != m.value {
            return None;
        }
        accepted.insert(from);
        (accepted.len() >= config.quorum()).then(|| value.clone())
    }

    pub fn on_nack(&mut self, now_us: u64, config: &Config, rng: &mut Rng, m: super::msg::Nack) {
        let Some(p) = self.proposals.get_mut(&m.instance) else {
            return;
        };
        p.seen_round = p.seen_round.max(m.promised.round.min(MAX_SEEN_ROUND));
        if m.ballot != p.ballot || matches!(p.phase, Phase::Backoff) {
            return; // stale, or already backing off
        }
        p.phase = Phase::Backoff;
        p.deadline_us = now_us.saturating_add(backoff_us(config, rng, p.attempts));
    }

    /// The decision for `instance` is known: answer the waiting ops. With `announce`, also
    /// tell every learner until each acknowledges.
    pub fn finish(
        &mut self,
        now_us: u64,
        config: &Config,
        instance: InstanceId,
        value: &str,
        announce: bool,
        fx: &mut Effects,
    ) {
        // Decided: never proposed again here (a propose is answered from the decision), so
        // the round-0 guard for it is no longer needed.
        self.round_zero_used.remove(&instance);
        let Some(p) = self.proposals.remove(&instance) else {
            return;
        };
        for op in p.waiters {
            fx.push(done(op, instance, Ok(value.to_string())));
        }
        if announce {
            self.announce(now_us, config, instance, value, fx);
        }
    }

    /// Tells every learner the decision, and keeps re-sending it to those that have not
    /// acknowledged it. A no-op while an announcement of `instance` is under way.
    pub fn announce(
        &mut self,
        now_us: u64,
        config: &Config,
        instance: InstanceId,
        value: &str,
        fx: &mut Effects,
    ) {
        if self.announcements.contains_key(&instance) {
            return;
        }
        let decided = Msg::Decided(Decided { instance, value: value.to_string() });
        fx.broadcast(&config.learners, &decided);
        self.announcements.insert(
            instance,
            Announcement {
                value: value.to_string(),
                pending: config.learners.iter().copied().collect(),
                retries: 0,
                next_us: now_us.saturating_add(ms_to_us(config.tuning.decided_retry_ms)),
            },
        );
    }

    pub fn on_decided_ok(&mut self, from: NodeId, instance: InstanceId) {
        if let Some(a) = self.announcements.get_mut(&instance) {
            a.pending.remove(&from);
            if a.pending.is_empty() {
                self.announcements.remove(&instance);
            }
        }
    }

    pub fn on_timeout(&mut self, now_us: u64, config: &Config, rng: &mut Rng, fx: &mut Effects) {
        let due: Vec<InstanceId> =
            self.proposals.iter().filter(|(_, p)| p.deadline_us <= now_us).map(|(i, _)| *i).collect();
        for instance in due {
            let p = self.proposals.get_mut(&instance).expect("due proposal");
            if p.attempts >= config.tuning.max_attempts {
                // Out of ballots, whether the last phase timed out or was nacked.
                let p = self.proposals.remove(&instance).expect("due proposal");
                for op in p.waiters {
                    fx.push(done(op, instance, Err(ProposeError::GaveUp)));
                }
            } else if matches!(p.phase, Phase::Backoff) {
                self.start_ballot(now_us, config, instance, fx);
            } else {
                // The phase timed out without a quorum.
                p.phase = Phase::Backoff;
                p.deadline_us = now_us.saturating_add(backoff_us(config, rng, p.attempts));
                if p.deadline_us <= now_us {
                    self.start_ballot(now_us, config, instance, fx);
                }
            }
        }
        let mut finished = Vec::new();
        for (&instance, a) in self.announcements.iter_mut().filter(|(_, a)| a.next_us <= now_us) {
            if a.retries >= config.tuning.decided_max_retries {
                finished.push(instance);
                continue;
            }
            a.retries += 1;
            a.next_us = now_us.saturating_add(decided_retry_us(config, a.retries));
            let decided = Msg::Decided(Decided { instance, value: a.value.clone() });
            for &learner in &a.pending {
                fx.send(learner, decided.clone());
            }
        }
        for instance in finished {
            self.announcements.remove(&instance);
        }
    }
}

/// The wait before re-send number `retries + 1` of `decided`: doubling from
/// `decided_retry_ms`, capped at `decided_retry_max_ms`, so a learner that is down for long
/// is not flooded.
fn decided_retry_us(config: &Config, retries: u32) -> u64 {
    let t = &config.tuning;
    let doubled = t.decided_retry_ms.saturating_mul(1u64 << retries.min(20));
    ms_to_us(doubled.min(t.decided_retry_max_ms.max(t.decided_retry_ms)))
}

/// Milliseconds as microseconds, saturating (init bounds them: `Tuning::validate`).
fn ms_to_us(ms: u64) -> u64 {
    ms.saturating_mul(1000)
}

impl Default for Proposer {
    fn default() -> Proposer {
        Proposer::new()
    }
}

fn done(op: OpId, instance: InstanceId, result: Result<String, ProposeError>) -> Output {
    Output::ProposeDone { op, instance, result }
}

/// The value phase 2 must propose, given a quorum of promises: the value accepted at the
/// highest ballot, or the proposer's own value if no acceptor of the quorum accepted any.
fn choose_value(config: &Config, own: &str, promises: &[(NodeId, Option<AcceptedValue>)]) -> String {
    let reported = promises.iter().filter_map(|(_, acc)| acc.as_ref());
    let adopted = match config.bug() {
        Some(Bug::IgnorePromisedValue) => None,
        Some(Bug::FirstNotHighest) => reported.into_iter().next(),
        _ => reported.max_by_key(|acc| acc.ballot),
    };
    adopted.map_or_else(|| own.to_string(), |acc| acc.value.clone())
}

/// Randomised exponential backoff with full jitter: uniform in [base, base + cap], where the
/// cap doubles with every attempt up to `backoff_max_ms`. Zero when backoff is switched off.
fn backoff_us(config: &Config, rng: &mut Rng, attempts: u32) -> u64 {
    let t = &config.tuning;
    if !t.backoff {
        return 0;
    }
    let base_us = ms_to_us(t.backoff_base_ms);
    let cap_us = base_us.saturating_mul(1 << attempts.min(20)).min(ms_to_us(t.backoff_max_ms));
    base_us.saturating_add(rng.below(cap_us.saturating_add(1)))
}

impl Proposer {
    /// Names every other node `n` `map(n)` (see `rename.rs`): the acceptors whose promises
    /// and votes it counts, the learners it waits on.
    pub(crate) fn rename(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        for p in self.proposals.values_mut() {
            match &mut p.phase {
                Phase::Preparing { promises } => promises.iter_mut().for_each(|(from, _)| *from = map(*from)),
                Phase::Accepting { accepted, .. } => *accepted = accepted.iter().map(|&n| map(n)).collect(),
                Phase::Backoff => {}
            }
        }
        for a in self.announcements.values_mut() {
            a.pending = a.pending.iter().map(|&n| map(n)).collect();
        }
    }

    /// Feeds the state to `h` in a fixed order, deadlines relative to `now_us` (see
    /// `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, now_us: u64, h: &mut H) {
        h.write_usize(self.proposals.len());
        for (instance, p) in &self.proposals {
            instance.hash(h);
            p.own_value.hash(h);
            p.waiters.hash(h);
            p.ballot.hash(h);
            p.attempts.hash(h);
            p.seen_round.hash(h);
            p.phase.hash(h);
            relative_us(p.deadline_us, now_us).hash(h);
        }
        h.write_usize(self.announcements.len());
        for (instance, a) in &self.announcements {
            instance.hash(h);
            a.value.hash(h);
            a.pending.hash(h);
            a.retries.hash(h);
            relative_us(a.next_us, now_us).hash(h);
        }
        self.max_round.hash(h);
        self.reserved_round.hash(h);
        self.fresh.hash(h);
        sorted_keys(self.round_zero_used.iter()).hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promise_from(node: NodeId, acc: Option<(u64, &str)>) -> (NodeId, Option<AcceptedValue>) {
        let acc = acc.map(|(r, v)| AcceptedValue { ballot: Ballot::new(r, 9), value: v.into() });
        (node, acc)
    }

    #[test]
    fn choose_value_takes_highest_ballot_then_own() {
        let c = Config::all_roles(1, &[1, 2, 3]);
        let ps =
            [promise_from(1, Some((1, "low"))), promise_from(2, Some((5, "high"))), promise_from(3, None)];
        assert_eq!(choose_value(&c, "mine", &ps), "high");
        assert_eq!(choose_value(&c, "mine", &[promise_from(1, None), promise_from(2, None)]), "mine");
    }

    #[test]
    fn mutants_choose_the_wrong_value() {
        let ps = [promise_from(1, Some((1, "low"))), promise_from(2, Some((5, "high")))];
        let mut c = Config::all_roles(1, &[1, 2, 3]);
        c.tuning.bug = Some(Bug::FirstNotHighest);
        assert_eq!(choose_value(&c, "mine", &ps), "low");
        c.tuning.bug = Some(Bug::IgnorePromisedValue);
        assert_eq!(choose_value(&c, "mine", &ps), "mine");
    }

    #[test]
    fn backoff_grows_is_capped_and_can_be_off() {
        let mut c = Config::all_roles(1, &[1, 2, 3]);
        let mut rng = Rng::new(1);
        let max_us = (c.tuning.backoff_base_ms + c.tuning.backoff_max_ms) * 1000;
        for attempts in 0..40 {
            let b = backoff_us(&c, &mut rng, attempts);
            assert!(b >= c.tuning.backoff_base_ms * 1000 && b <= max_us, "{b}");
        }
        let early: u64 = (0..200).map(|_| backoff_us(&c, &mut rng, 1)).max().unwrap();
        let late: u64 = (0..200).map(|_| backoff_us(&c, &mut rng, 12)).max().unwrap();
        assert!(late > early, "backoff must grow with attempts: {early} vs {late}");
        c.tuning.backoff = false;
        assert_eq!(backoff_us(&c, &mut rng, 7), 0);
    }
}
