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
pub mod learner;
pub mod msg;
pub mod output;
pub mod proposer;
pub mod record;
pub mod rng;

pub use ballot::{Ballot, InstanceId, NodeId};
pub use bug::Bug;
pub use config::{round_zero_owner, Config, Tuning, TuningError, MAX_DURATION_MS};
pub use msg::Msg;
pub use output::{OpId, Output, ProposeError};
pub use record::Record;

use acceptor::Acceptor;
use catchup::CatchUp;
use learner::{Learn, Learner};
use msg::{DecidedOk, Msg as M};
use output::Effects;
use proposer::Proposer;
use rng::Rng;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Node {
    config: Config,
    rng: Rng,
    acceptor: Acceptor,
    proposer: Proposer,
    learner: Learner,
    /// Decisions this node knows of, as a proposer or a learner: a propose for a decided
    /// instance is answered at once, and a `catchup` from a learner that lacks them too.
    decisions: BTreeMap<InstanceId, String>,
    /// The learner's requests for the decisions it lacks.
    catchup: CatchUp,
    fx: Effects,
}

impl Node {
    /// A node whose durable state is `records` (empty on first start), replayed in order.
    pub fn new(config: Config, records: &[Record]) -> Node {
        let seed = config.tuning.seed ^ (u64::from(config.node)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut node = Node {
            rng: Rng::new(seed),
            acceptor: Acceptor::default(),
            proposer: Proposer::new(),
            learner: Learner::default(),
            decisions: BTreeMap::new(),
            catchup: CatchUp::default(),
            fx: Effects::default(),
            config,
        };
        for record in records {
            node.acceptor.restore(&node.config, record);
            node.proposer.restore(record);
            node.learner.restore(record);
            if let Record::Learned { instance, value } = record {
                node.decisions.entry(*instance).or_insert_with(|| value.clone());
            }
            if let Some(instance) = record.instance() {
                node.catchup.saw(instance);
            }
        }
        if !records.is_empty() && node.config.is_learner() {
            node.catchup.restarted();
        }
        node.catchup.advance(&node.decisions);
        node
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
        } else if let Some(decided) = self.decisions.get(&instance).cloned() {
            // Answer at once, and make sure every learner hears of it: a client that proposes
            // on a decided instance may be chasing a learner that missed the decision.
            self.fx.push(Output::ProposeDone { op, instance, result: Ok(decided.clone()) });
            self.proposer.announce(now_us, &self.config, instance, &decided, &mut self.fx);
        } else {
            self.proposer.propose(now_us, &self.config, op, instance, value, &mut self.fx);
        }
    }

    pub fn handle_message(&mut self, now_us: u64, from: NodeId, msg: Msg) {
        // A catch-up request names ids the asker lacks, which need not exist.
        let seen = (!matches!(msg, M::Catchup(_))).then(|| msg.instance());
        self.saw(now_us, seen);
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
            M::Catchup(m) => catchup::answer(&self.decisions, from, &m, &mut self.fx),
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
        let outcome = self.config.is_learner().then(|| self.learner.learn(instance, value, &mut self.fx));
        if outcome == Some(Learn::New) {
            let stored = self.learner.learned(instance);
            assert_eq!(stored, Some(value), "a learned value is stored as learned");
        }
        // A decided value never changes: the first one this node knows of stands.
        let decided = self.decisions.entry(instance).or_insert_with(|| value.to_string()).clone();
        self.catchup.advance(&self.decisions);
        self.proposer.finish(now_us, &self.config, instance, &decided, announce, &mut self.fx);
        outcome
    }
}

#[cfg(test)]
mod tests;
