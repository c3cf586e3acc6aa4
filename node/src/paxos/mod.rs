//! The sans-IO Paxos core: one [`Node`] plays proposer, acceptor and learner for many
//! independent single-decree instances.
//!
//! Inputs are method calls (`handle_propose`, `handle_message`, `handle_timeout`) carrying the
//! current time in microseconds; effects come out of `poll_output` as values, in the order
//! they must be performed (see [`Output`]). Nothing in here touches a socket, a file, a
//! clock or a thread, so the same core runs in the node process, in property tests and in a
//! simulator.

pub mod acceptor;
pub mod ballot;
pub mod bug;
pub mod catchup;
pub mod config;
pub mod decisions;
pub mod fingerprint;
pub mod hash;
pub mod learner;
pub mod lookup;
pub mod msg;
pub mod output;
pub mod proposer;
pub mod ranges;
pub mod record;
mod record_de;
mod rename;
pub mod rng;

pub use ballot::{Ballot, InstanceId, NodeId};
pub use bug::Bug;
pub use config::{round_zero_owner, Config, Tuning, TuningError, MAX_DURATION_MS};
pub use msg::Msg;
pub use output::{OpId, Output, ProposeError};
pub use record::Record;

use acceptor::Acceptor;
use catchup::CatchUp;
use decisions::{Decisions, Known};
use learner::{Learn, Learner};
use lookup::{Lookups, Waiter};
use msg::{Decided, DecidedOk, Msg as M};
use output::Effects;
use proposer::Proposer;
use rng::Rng;

#[derive(Debug, Clone)]
pub struct Node {
    config: Config,
    rng: Rng,
    acceptor: Acceptor,
    proposer: Proposer,
    learner: Learner,
    /// Decisions this node knows of, as a proposer or a learner: a propose for a decided
    /// instance is answered at once, and a `catchup` from a learner that lacks them too. The
    /// oldest are retired to the archive (see [`decisions`]).
    decisions: Decisions,
    /// Requests for retired decisions, waiting for their values from the archive.
    lookups: Lookups,
    /// The learner's requests for the decisions it lacks.
    catchup: CatchUp,
    fx: Effects,
}

/// How many instances each part of a node holds in memory (what its memory grows with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    pub acceptor_slots: usize,
    pub learner_instances: usize,
    pub proposer_instances: usize,
    pub live_decisions: usize,
    pub retired_decisions: u64,
    /// Runs of consecutive retired ids: a few words each.
    pub retired_runs: usize,
    pub lookup_waiters: usize,
}

impl Node {
    /// A node whose durable state is `records` (empty on first start), replayed in order.
    pub fn new(config: Config, records: &[Record]) -> Node {
        let mut node = Node {
            rng: Self::first_rng(&config),
            acceptor: Acceptor::default(),
            proposer: Proposer::new(),
            learner: Learner::default(),
            decisions: Decisions::default(),
            lookups: Lookups::default(),
            catchup: CatchUp::default(),
            fx: Effects::default(),
            config,
        };
        // Retired ids first, wherever their records stand: every other record of a retired
        // instance (a lazy one written after the snapshot) is then skipped.
        for record in records {
            if let Record::Retired { from, to } = record {
                node.decisions.restore_retired(*from, *to);
                node.catchup.saw(*to);
            }
        }
        for record in records {
            if record.instance().is_some_and(|i| node.decisions.is_retired(i)) {
                continue;
            }
            node.acceptor.restore(&node.config, record);
            node.proposer.restore(record);
            node.learner.restore(record);
            if let Record::Learned { instance, value } = record {
                node.decisions.insert(*instance, value);
            }
            if let Some(instance) = record.instance() {
                node.catchup.saw(instance);
            }
        }
        if !records.is_empty() && node.config.is_learner() {
            node.catchup.restarted();
        }
        node.catchup.advance(&node.decisions);
        // The window holds after a restart too: decisions replayed beyond it retire now, not
        // one by one as new ones come (a quiet node would keep its whole log's decisions live,
        // and its first snapshot would keep them all).
        node.retire_old();
        node
    }

    /// A node's random generator as it starts: seeded by the tuning's seed and its id.
    fn first_rng(config: &Config) -> Rng {
        Rng::new(config.tuning.seed ^ (u64::from(config.node)).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn id(&self) -> NodeId {
        self.config.node
    }

    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    pub fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            acceptor_slots: self.acceptor.live_slots(),
            learner_instances: self.learner.live_instances(),
            proposer_instances: self.proposer.live_instances(),
            live_decisions: self.decisions.live_len(),
            retired_decisions: self.decisions.retired().count(),
            retired_runs: self.decisions.retired().runs(),
            lookup_waiters: self.lookups.waiters(),
        }
    }

    /// The records that rebuild this node's durable state, for a compacted log: the reserved
    /// round, the retired ids, each live acceptor slot, each live learned decision. Retired
    /// decisions are not in it: the runtime must have made every `Archive` output durable
    /// before it replaces the log with these. Call it only with no output left to poll.
    pub fn snapshot(&self) -> Vec<Record> {
        assert!(self.fx.is_empty(), "snapshot with outputs not yet performed (an Archive among them)");
        let mut out = Vec::new();
        self.proposer.snapshot(&self.config, &mut out);
        out.extend(self.decisions.retired().iter().map(|(from, to)| Record::Retired { from, to }));
        self.acceptor.snapshot(&self.config, &mut out);
        self.learner.snapshot(&mut out);
        out
    }

    /// The next effect to perform, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.fx.pop()
    }

    /// When `handle_timeout` must be called next (absolute, microseconds).
    pub fn next_timeout_us(&self) -> Option<u64> {
        let catchup = if self.config.is_learner() { self.catchup.next_timeout_us() } else { None };
        self.proposer.next_timeout_us().into_iter().chain(catchup).min()
    }

    /// Notes the time and an instance id this node has seen (for catch-up).
    fn saw(&mut self, now_us: u64, instance: Option<InstanceId>) {
        if self.config.is_learner() {
            self.catchup.arm(&self.config, now_us);
            if let Some(instance) = instance {
                self.catchup.saw(instance);
            }
        }
    }

    /// A client (the controller) asks this node to propose `value` for `instance`.
    pub fn handle_propose(&mut self, now_us: u64, op: OpId, instance: InstanceId, value: String) {
        self.saw(now_us, Some(instance));
        if !self.config.is_proposer() {
            let result = Err(ProposeError::NotProposer);
            self.fx.push(Output::ProposeDone { op, instance, result });
            return;
        }
        match self.decisions.get(instance) {
            Some(Known::Live(decided)) => {
                // Answer at once, and make sure every learner hears of it: a client that
                // proposes on a decided instance may be chasing a learner that missed it.
                let decided = decided.to_string();
                self.fx.push(Output::ProposeDone { op, instance, result: Ok(decided.clone()) });
                self.proposer.announce(now_us, &self.config, instance, &decided, &mut self.fx);
            }
            Some(Known::Retired) => self.park(instance, Waiter::Client(op)),
            None => self.proposer.propose(now_us, &self.config, op, instance, value, &mut self.fx),
        }
    }

    /// Waits for the value of a retired decision (see [`lookup`]).
    fn park(&mut self, instance: InstanceId, waiter: Waiter) {
        if let Err(Waiter::Client(op)) = self.lookups.park(instance, waiter, &mut self.fx) {
            self.fx.push(Output::ProposeDone { op, instance, result: Err(ProposeError::Busy) });
        }
    }

    /// The runtime's answer to `Output::Lookup`: the archived value of a retired decision.
    pub fn handle_lookup(&mut self, now_us: u64, instance: InstanceId, value: String) {
        self.saw(now_us, None);
        assert!(
            self.decisions.is_retired(instance),
            "a lookup answered for instance {instance}, never retired"
        );
        for waiter in self.lookups.take(instance) {
            match waiter {
                Waiter::Peer(to) => self.fx.send(to, M::Decided(Decided { instance, value: value.clone() })),
                Waiter::Client(op) => {
                    // As for a live decision: the client may be chasing a learner that missed
                    // it, one that has no hole to catch up on (it never heard of the instance).
                    self.fx.push(Output::ProposeDone { op, instance, result: Ok(value.clone()) });
                    self.proposer.announce(now_us, &self.config, instance, &value, &mut self.fx);
                }
                // A conflicting decision (only a mutant makes one) is reported, as
                // `Learner::learn` reports one, so the checker sees it.
                Waiter::Check { value: theirs } if theirs != value => {
                    self.fx.push(Output::Learned { instance, value: theirs })
                }
                Waiter::Check { .. } => {}
            }
        }
    }

    /// A message about a retired instance: the roles that forgot it do not see it.
    fn on_retired(&mut self, from: NodeId, msg: Msg) {
        let instance = msg.instance();
        match msg {
            M::Prepare(_) | M::Accept(_) if self.config.is_acceptor() => {
                self.park(instance, Waiter::Peer(from))
            }
            M::Decided(m) if self.config.is_learner() => {
                self.fx.send(from, M::DecidedOk(DecidedOk { instance }));
                self.park(instance, Waiter::Check { value: m.value });
            }
            M::DecidedOk(m) => self.proposer.on_decided_ok(from, m.instance),
            // Replies to ballots that ended long ago, and frames for roles this node lacks.
            _ => {}
        }
    }

    pub fn handle_message(&mut self, now_us: u64, from: NodeId, msg: Msg) {
        // A catch-up request names ids the asker lacks, which need not exist.
        let seen = (!matches!(msg, M::Catchup(_))).then(|| msg.instance());
        self.saw(now_us, seen);
        if seen.is_some_and(|i| self.decisions.is_retired(i)) {
            return self.on_retired(from, msg);
        }
        let cfg = &self.config;
        match msg {
            M::Prepare(m) if cfg.is_acceptor() => self.acceptor.on_prepare(cfg, from, m, &mut self.fx),
            M::Accept(m) if cfg.is_acceptor() => self.acceptor.on_accept(cfg, from, m, &mut self.fx),
            M::Promise(m) => self.proposer.on_promise(now_us, cfg, from, m, &mut self.fx),
            M::Nack(m) => self.proposer.on_nack(now_us, cfg, &mut self.rng, m),
            M::Accepted(m) => {
                let by_proposer = self.proposer.on_accepted(cfg, from, &m);
                let by_learner =
                    if cfg.is_learner() { self.learner.on_accepted(cfg, from, &m) } else { None };
                for value in by_proposer.into_iter().chain(by_learner) {
                    self.decide(now_us, m.instance, &value, true);
                }
            }
            M::Decided(m) => {
                let outcome = self.decide(now_us, m.instance, &m.value, false);
                if outcome == Some(Learn::Known) {
                    // A decision restored from disk is reported again once: the previous
                    // incarnation may have died between the fsync and the report.
                    self.learner.report_restored(m.instance, &mut self.fx);
                }
                if self.config.is_learner() {
                    self.fx.send(from, M::DecidedOk(DecidedOk { instance: m.instance }));
                }
            }
            M::DecidedOk(m) => self.proposer.on_decided_ok(from, m.instance),
            M::Catchup(m) => {
                for instance in catchup::answer(&self.decisions, from, &m, &mut self.fx) {
                    self.park(instance, Waiter::Peer(from));
                }
            }
            // A prepare or accept sent to a node that is not an acceptor.
            M::Prepare(_) | M::Accept(_) => {}
        }
    }

    pub fn handle_timeout(&mut self, now_us: u64) {
        self.proposer.on_timeout(now_us, &self.config, &mut self.rng, &mut self.fx);
        if self.config.is_learner() {
            self.catchup.on_tick(now_us, &self.config, &self.decisions, &mut self.fx);
        }
    }

    /// This node now knows `value` was chosen for `instance`: the learner records it, the
    /// proposer answers its ops (and, with `announce`, tells every learner).
    /// Returns what the learner made of it (`None` on a node that is not a learner).
    fn decide(&mut self, now_us: u64, instance: InstanceId, value: &str, announce: bool) -> Option<Learn> {
        if self.decisions.is_retired(instance) {
            // Decided and retired within this very step (a window of 0: the proposer and the
            // learner both completed a quorum with one `accepted`).
            return Some(Learn::Known);
        }
        let outcome = self.config.is_learner().then(|| self.learner.learn(instance, value, &mut self.fx));
        if outcome == Some(Learn::New) {
            let stored = self.learner.learned(instance);
            assert_eq!(stored, Some(value), "a learned value is stored as learned");
        }
        // A decided value never changes: the first one this node knows of stands.
        let decided = self.decisions.insert(instance, value).to_string();
        self.catchup.advance(&self.decisions);
        self.proposer.finish(now_us, &self.config, instance, &decided, announce, &mut self.fx);
        self.retire_old();
        outcome
    }

    /// Retires the decisions beyond the newest `retain_decided`: every role forgets them and
    /// the runtime archives their values.
    fn retire_old(&mut self) {
        let retain = self.config.tuning.retain_decided;
        while let Some((instance, value)) = self.decisions.retire_beyond(retain) {
            // A decision restored from disk and not yet reported by this incarnation is
            // reported now: once retired, no `decided` would bring it back to the learner.
            self.learner.report_restored(instance, &mut self.fx);
            self.acceptor.forget(instance);
            self.learner.forget(instance);
            self.proposer.forget(instance);
            self.fx.push(Output::Archive { instance, value });
        }
    }
}

#[cfg(test)]
mod tests;
