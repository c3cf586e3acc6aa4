//! The workload: a client that keeps `concurrency` instances in flight, each proposed by
//! `contention` distinct proposers with distinct values at nearly the same time, so that
//! proposers duel.
//!
//! An instance counts against the concurrency until it is decided (an `ok`, or a learn), not
//! until every op on it has returned: a proposer that is paused or dead must not hold the
//! whole workload up for an op timeout.
//!
//! It behaves like a real client: an op with no answer within the op timeout ends `info`
//! (its outcome is unknown); an instance whose ops all ended without a decision, or without
//! any client answered `ok`, is invoked again with a new op (at most MAX_REINVOKES times). A
//! client is bound to its node, as Jepsen's are: when the node crashes, the client waits for
//! it to come back (at most an op timeout) and retries the instance there, which is what
//! makes a restarted proposer take up its old instances (clients.rs); and in the final phase
//! every instance that some learner has not learned is invoked again until all have (a
//! proposer that knows the decision answers at once and re-announces it to the learners;
//! lacking.rs).
//!
//! Clients must be answered too, not only learners: liveness asks that every invoked
//! instance got at least one `ok`. So the workload keeps the instances no op was answered
//! `ok` for yet, and the final phase chases those as well; it ends early only when every
//! instance is both learned everywhere and answered. A reply that comes after its op ended
//! (timeout, crash) or a second reply to one op is a late reply: the run loop still records
//! it, and a late `ok` counts as an answer. To name the instance of a late error the
//! workload remembers the most recently closed ops, a bounded number of them (a soak runs
//! for hours; ops.rs).
//!
//! A share of the new ops (`--revisit`) are revisits instead: a fresh value proposed to an
//! instance that is already decided, at another proposer (revisit.rs says why and how they
//! are chosen). Being decided, a revisited instance holds no concurrency slot; revisits in
//! flight are bounded on their own ([`Workload::revisits_max`]). With `--revisit 0` the
//! workload draws nothing for them: its choices are those of a run from before revisits.
//!
//! Like the Paxos core (node/src/paxos), it is sans-IO, poll-style: what happened comes in
//! through `handle_*` (a reply, a late reply, a learn, a node up or exited, a tick at
//! `now_us`), the run loop asks it to `fill` (workload phase) or `chase` (final phase), and
//! what to do comes out of [`Workload::poll_ended`] (ops that ended without a reply, to
//! record) and [`Workload::poll_invoke`] (ops to send). The run loop drains both after every
//! call, the ended ops first: the history says how an op ended before what that caused.
//! Nothing in here touches a socket, a clock or the history, so every choice is testable
//! in-process and follows from the seed.

mod clients;
mod lacking;
mod ops;
mod revisit;
#[cfg(test)]
mod tests;

use lacking::Lacking;
use ops::{ClosedOps, Instance, Op};
use revisit::{bit, NodeSet, Sample};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{InstanceId, NodeId, OpId};

/// New ops one instance may get after its first ones ended undecided, at most.
pub const MAX_REINVOKES: u32 = 50;
/// Closed ops remembered to name the instance of a late reply, at most.
pub const CLOSED_OPS_KEPT: usize = 65_536;
/// Revisits in flight at once, at least (and at most `--concurrency` if that is more).
pub const REVISITS_IN_FLIGHT_MIN: usize = 16;
/// Mixed into the run's seed for the revisits' own generator ("revisit").
const REVISIT_SEED: u64 = 0x0072_6576_6973_6974;

#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub concurrency: usize,
    pub contention: usize,
    pub op_timeout_us: u64,
    /// Stop starting instances after this many (`--instances`).
    pub max_instances: Option<u64>,
    /// The share of new ops that are revisits (0 to 1).
    pub revisit: f64,
    pub proposers: Vec<NodeId>,
    pub learners: Vec<NodeId>,
}

/// An op to send: `propose {msg_id: op, instance, value}` to `node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoke {
    pub op: OpId,
    pub node: NodeId,
    pub instance: InstanceId,
    pub value: String,
    /// A revisit: `instance` was decided before this op.
    pub revisit: bool,
}

/// How an op ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    /// Definitely not done (the node refused it).
    Fail(String),
    /// Unknown (timeout, or the proposer gave up after its ballots may have been accepted).
    Info(String),
}

/// Why an op ended without a reply: its outcome is unknown (`info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No answer within the op timeout.
    Timeout,
    /// Its node's process exited.
    Crashed,
}

impl Cause {
    /// The `error` of the op's `info` event.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Crashed => "crashed",
        }
    }
}

/// An op that ended without a reply, to record as an `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub op: OpId,
    pub instance: InstanceId,
    pub node: NodeId,
    pub cause: Cause,
}

#[derive(Debug, Default, Clone)]
pub struct WorkloadStats {
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub instances_started: u64,
    /// Instances learned by every learner.
    pub learned_by_all: u64,
    /// Replies to ops that had ended already (any outcome).
    pub late: u64,
    /// Ops that were revisits (counted in `invoked` too).
    pub revisits: u64,
}

pub struct Workload {
    cfg: WorkloadConfig,
    rng: Rng,
    next_instance: InstanceId,
    next_op: OpId,
    /// Open ops, in op order, which is their deadlines' order (`invoke` asserts it): the
    /// tick, every turn of the run loop, looks at the first only.
    ops: BTreeMap<OpId, Op>,
    /// Instances with ops still running.
    in_flight: BTreeMap<InstanceId, Instance>,
    /// Those of them not yet decided (they count against the concurrency).
    undecided: usize,
    /// Instances whose last op ended because its node crashed: retried on that node when it
    /// is back, or anywhere after the deadline. (node, instance, deadline)
    waiting: Vec<(NodeId, InstanceId, u64)>,
    /// Instances invoked but not yet learned by every learner, with who learned them.
    unlearned: BTreeMap<InstanceId, Lacking>,
    /// The learners, as a set.
    learners: NodeSet,
    /// Instances invoked but not yet answered `ok` (in time or late) to any client.
    unanswered: BTreeSet<InstanceId>,
    closed: ClosedOps,
    /// Decided instances to revisit (filled only when revisits are on).
    sample: Sample,
    /// Revisit draws and choices: apart from `rng`, so that they do not shift its draws.
    revisit_rng: Rng,
    revisits_open: usize,
    /// Ops invoked and not yet polled: each is open (at most one per open op).
    invokes: VecDeque<Invoke>,
    /// Ops ended without a reply and not yet polled.
    ended: VecDeque<Ended>,
    pub stats: WorkloadStats,
}

impl Workload {
    pub fn new(cfg: WorkloadConfig, seed: u64) -> Workload {
        assert!(cfg.contention >= 1 && !cfg.proposers.is_empty());
        assert!((0.0..=1.0).contains(&cfg.revisit), "revisit {} is not a probability", cfg.revisit);
        let learners = cfg.learners.iter().fold(0, |set, &l| set | bit(l));
        Workload {
            cfg,
            rng: Rng::new(seed ^ 0x776f_726b),
            next_instance: 0,
            next_op: 0,
            ops: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            undecided: 0,
            waiting: Vec::new(),
            unlearned: BTreeMap::new(),
            learners,
            unanswered: BTreeSet::new(),
            closed: ClosedOps::default(),
            sample: Sample::default(),
            revisit_rng: Rng::new(seed ^ REVISIT_SEED),
            revisits_open: 0,
            invokes: VecDeque::new(),
            ended: VecDeque::new(),
            stats: WorkloadStats::default(),
        }
    }

    /// The next op to send, in the order they were invoked.
    pub fn poll_invoke(&mut self) -> Option<Invoke> {
        self.invokes.pop_front()
    }

    /// The next op that ended without a reply, in the order they ended.
    pub fn poll_ended(&mut self) -> Option<Ended> {
        self.ended.pop_front()
    }

    /// Instances started and not yet decided.
    pub fn in_flight(&self) -> usize {
        self.undecided
    }

    /// Instances some learner has not learned yet.
    pub fn unlearned(&self) -> usize {
        self.unlearned.len()
    }

    /// Instances no client has had an `ok` for yet.
    pub fn unanswered(&self) -> usize {
        self.unanswered.len()
    }

    /// Whether `--instances` were all started.
    pub fn exhausted(&self) -> bool {
        self.cfg.max_instances.is_some_and(|max| self.next_instance >= max)
    }

    /// Revisits in flight at once, at most: the concurrency, but at least
    /// [`REVISITS_IN_FLIGHT_MIN`] (revisits sent to a paused node wait for their timeout).
    pub fn revisits_max(&self) -> usize {
        self.cfg.concurrency.max(REVISITS_IN_FLIGHT_MIN)
    }

    /// Revisits in flight.
    #[cfg(test)]
    pub fn revisits_open(&self) -> usize {
        self.revisits_open
    }

    /// Starts new instances up to the concurrency. Each new op is instead, with probability
    /// `revisit`, a revisit (when some instance is decided); at the bound of revisits in
    /// flight, a revisit drawn waits for one to end, and so does the rest of this fill.
    pub fn fill(&mut self, now_us: u64) {
        while self.undecided < self.cfg.concurrency && !self.exhausted() {
            if self.draw_revisit() {
                if self.revisits_open >= self.revisits_max() {
                    break;
                }
                if let Some((instance, node)) = self.pick_revisit() {
                    self.invoke_revisit(now_us, instance, node);
                    continue;
                }
            }
            self.start_instance(now_us);
        }
    }

    /// A new instance, invoked at `contention` proposers.
    fn start_instance(&mut self, now_us: u64) {
        self.next_instance += 1;
        let instance = self.next_instance;
        self.stats.instances_started += 1;
        self.unlearned.insert(instance, Lacking::default());
        self.unanswered.insert(instance);
        let k = self.cfg.contention.min(self.cfg.proposers.len());
        for node in self.pick_proposers(instance, k) {
            self.invoke(now_us, instance, node);
        }
    }
}
