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
//! any client answered `ok`, is invoked again with a new op (at most MAX_REINVOKES times). A client is bound to its node, as Jepsen's are: when the node
//! crashes, the client waits for it to come back (at most an op timeout) and retries the
//! instance there, which is what makes a restarted proposer take up its old instances; and in the final phase every instance that some learner has not
//! learned is invoked again until all have (a proposer that knows the decision answers at
//! once and re-announces it to the learners). Like the core, it performs no I/O: the run
//! loop sends its invocations and feeds it the answers.
//!
//! Clients must be answered too, not only learners: liveness asks that every invoked
//! instance got at least one `ok`. So the workload keeps the instances no op was answered
//! `ok` for yet, and the final phase chases those as well; it ends early only when every
//! instance is both learned everywhere and answered. A reply that comes after its op ended
//! (timeout, crash) or a second reply to one op is a late reply: the run loop still records
//! it, and a late `ok` counts as an answer. To name the instance of a late error the
//! workload remembers the most recently closed ops, a bounded number of them (a soak runs
//! for hours).
//!
//! A share of the new ops (`--revisit`) are revisits instead: a fresh value proposed to an
//! instance that is already decided, at another proposer (revisit.rs says why and how they
//! are chosen). Being decided, a revisited instance holds no concurrency slot; revisits in
//! flight are bounded on their own ([`Workload::revisits_max`]). With `--revisit 0` the
//! workload draws nothing for them: its choices are those of a run from before revisits.

mod revisit;

use revisit::{bit, NodeSet, Prefer, Sample};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{round_zero_owner, InstanceId, NodeId, OpId};

/// New ops one instance may get after its first ones ended undecided, at most.
pub const MAX_REINVOKES: u32 = 50;
/// Closed ops remembered to name the instance of a late reply, at most.
pub const CLOSED_OPS_KEPT: usize = 65_536;
/// Revisits in flight at once, at least (and at most `--concurrency` if that is more).
pub const REVISITS_IN_FLIGHT_MIN: usize = 16;
/// Mixed into the run's seed for the revisits' own generator ("revisit").
const REVISIT_SEED: u64 = 0x0072_6576_6973_6974;
/// Instances looked at to find one some proposer has not learned, per revisit, at most.
const UNLEARNED_SCAN_MAX: usize = 256;

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

struct Op {
    instance: InstanceId,
    node: NodeId,
    deadline_us: u64,
    revisit: bool,
}

#[derive(Default)]
struct Instance {
    open_ops: u32,
    decided: bool,
    reinvokes: u32,
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

/// An instance invoked and not yet learned by every learner.
#[derive(Default)]
struct Lacking {
    /// The learners that learned it.
    learned: NodeSet,
    /// The proposers it was invoked at.
    proposed_by: NodeSet,
    /// A learn or an `ok` was seen for it: it is decided, and was offered to the sample.
    seen_decided: bool,
}

/// The ops that ended most recently, oldest first out: op -> (instance, node).
#[derive(Default)]
struct ClosedOps {
    order: VecDeque<OpId>,
    ops: HashMap<OpId, (InstanceId, NodeId)>,
}

impl ClosedOps {
    fn insert(&mut self, op: OpId, instance: InstanceId, node: NodeId) {
        if self.ops.insert(op, (instance, node)).is_none() {
            self.order.push_back(op);
        }
        while self.order.len() > CLOSED_OPS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.ops.remove(&old);
            }
        }
    }
}

pub struct Workload {
    cfg: WorkloadConfig,
    rng: Rng,
    next_instance: InstanceId,
    next_op: OpId,
    ops: HashMap<OpId, Op>,
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
            ops: HashMap::new(),
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
            stats: WorkloadStats::default(),
        }
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
    pub fn fill(&mut self, now_us: u64, out: &mut Vec<Invoke>) {
        while self.undecided < self.cfg.concurrency && !self.exhausted() {
            if self.draw_revisit() {
                if self.revisits_open >= self.revisits_max() {
                    break;
                }
                if let Some((instance, node)) = self.pick_revisit() {
                    self.invoke_revisit(now_us, instance, node, out);
                    continue;
                }
            }
            self.next_instance += 1;
            let instance = self.next_instance;
            self.stats.instances_started += 1;
            self.unlearned.insert(instance, Lacking::default());
            self.unanswered.insert(instance);
            let k = self.cfg.contention.min(self.cfg.proposers.len());
            for node in self.pick_proposers(instance, k) {
                self.invoke(now_us, instance, node, out);
            }
        }
    }

    /// The owner of the instance's round 0 (docs/protocol.md), then `k - 1` other
    /// proposers at random: the owner's one-phase ballot races the others' prepares.
    fn pick_proposers(&mut self, instance: InstanceId, k: usize) -> Vec<NodeId> {
        let mut pool = self.cfg.proposers.clone();
        let owner = round_zero_owner(&pool, instance).expect("a run has proposers");
        pool.retain(|&n| n != owner);
        let mut chosen = Vec::with_capacity(k);
        chosen.push(owner);
        for _ in 1..k {
            let i = self.rng.below(pool.len() as u64) as usize;
            chosen.push(pool.swap_remove(i));
        }
        chosen
    }

    fn random_proposer(&mut self) -> NodeId {
        let proposers = &self.cfg.proposers;
        proposers[self.rng.below(proposers.len() as u64) as usize]
    }

    /// Whether the next new op is a revisit: drawn with probability `revisit` (nothing is
    /// drawn when it is 0).
    fn draw_revisit(&mut self) -> bool {
        if self.cfg.revisit <= 0.0 {
            return false;
        }
        // 53 random bits as a number in [0, 1).
        let unit = (self.revisit_rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.cfg.revisit
    }

    /// A decided instance and the proposer to revisit it at, if any instance is decided: half
    /// the time one that some proposer has not learned (sent to such a proposer), else one
    /// from the sample of all decided instances (sent to a proposer that did not propose it);
    /// each falls back on the other.
    fn pick_revisit(&mut self) -> Option<(InstanceId, NodeId)> {
        if self.revisit_rng.below(2) == 0 {
            self.pick_unlearned().or_else(|| self.pick_sampled())
        } else {
            self.pick_sampled().or_else(|| self.pick_unlearned())
        }
    }

    /// A decided instance some proposer has not learned yet: the first such one at or after
    /// a random point of the unlearned instances (looking at UNLEARNED_SCAN_MAX at most).
    fn pick_unlearned(&mut self) -> Option<(InstanceId, NodeId)> {
        let (&first, _) = self.unlearned.first_key_value()?;
        let (&last, _) = self.unlearned.last_key_value()?;
        let start = first + self.revisit_rng.below(last - first + 1);
        let proposers = &self.cfg.proposers;
        let found = self
            .unlearned
            .range(start..)
            .chain(self.unlearned.range(..start))
            .take(UNLEARNED_SCAN_MAX)
            .find(|(_, l)| l.seen_decided && proposers.iter().any(|&p| l.learned & bit(p) == 0))
            .map(|(&instance, l)| (instance, l.proposed_by, l.learned));
        let (instance, proposed_by, learned) = found?;
        let node =
            revisit::proposer(&mut self.revisit_rng, proposers, proposed_by, learned, Prefer::Unlearned);
        Some((instance, node))
    }

    /// A decided instance from the sample, at a proposer that did not propose it.
    fn pick_sampled(&mut self) -> Option<(InstanceId, NodeId)> {
        let (instance, proposed_by) = self.sample.pick(&mut self.revisit_rng)?;
        // Not among the unlearned: every learner learned it.
        let learned = self.unlearned.get(&instance).map_or(self.learners, |l| l.learned);
        let node = revisit::proposer(
            &mut self.revisit_rng,
            &self.cfg.proposers,
            proposed_by,
            learned,
            Prefer::Other,
        );
        Some((instance, node))
    }

    fn invoke_revisit(&mut self, now_us: u64, instance: InstanceId, node: NodeId, out: &mut Vec<Invoke>) {
        self.invoke(now_us, instance, node, out);
        let inv = out.last_mut().expect("just invoked");
        inv.revisit = true;
        self.ops.get_mut(&inv.op).expect("just invoked").revisit = true;
        self.revisits_open += 1;
        self.stats.revisits += 1;
        assert!(self.in_flight.get(&instance).is_some_and(|i| i.decided), "a revisit holds no slot");
        assert!(self.revisits_open <= self.revisits_max());
    }

    /// `instance` was decided (a learn or an `ok`): offered to the revisit sample, once.
    fn seen_decided(&mut self, instance: InstanceId) {
        // An instance no longer among the unlearned was learned by every learner: seen.
        let Some(lacking) = self.unlearned.get_mut(&instance) else { return };
        if lacking.seen_decided {
            return;
        }
        lacking.seen_decided = true;
        if self.cfg.revisit > 0.0 {
            self.sample.offer(&mut self.revisit_rng, instance, lacking.proposed_by);
        }
    }

    fn invoke(&mut self, now_us: u64, instance: InstanceId, node: NodeId, out: &mut Vec<Invoke>) {
        self.next_op += 1;
        let op = self.next_op;
        let deadline_us = now_us + self.cfg.op_timeout_us;
        self.ops.insert(op, Op { instance, node, deadline_us, revisit: false });
        if let Some(lacking) = self.unlearned.get_mut(&instance) {
            lacking.proposed_by |= bit(node);
        }
        self.sample.proposed(instance, node);
        if !self.in_flight.contains_key(&instance) {
            // Decided already if some learner has it or a client was answered (a final-phase
            // chase).
            let learned = self.unlearned.get(&instance).is_none_or(|l| l.learned != 0);
            let decided = learned || !self.unanswered.contains(&instance);
            self.undecided += usize::from(!decided);
            self.in_flight.insert(instance, Instance { decided, ..Instance::default() });
        }
        self.in_flight.get_mut(&instance).expect("just inserted").open_ops += 1;
        self.stats.invoked += 1;
        out.push(Invoke { op, node, instance, value: format!("i{instance}-op{op}"), revisit: false });
    }

    /// The node answered op `op`. Returns the op's instance and node if the op was open.
    pub fn complete(
        &mut self,
        now_us: u64,
        op: OpId,
        outcome: &Outcome,
        out: &mut Vec<Invoke>,
    ) -> Option<(InstanceId, NodeId)> {
        let Op { instance, node, revisit, .. } = self.ops.remove(&op)?;
        self.closed.insert(op, instance, node);
        if revisit {
            self.revisits_open -= 1;
        }
        match outcome {
            Outcome::Ok(_) => self.stats.ok += 1,
            Outcome::Fail(_) => self.stats.fail += 1,
            Outcome::Info(_) => self.stats.info += 1,
        }
        if matches!(outcome, Outcome::Ok(_)) {
            self.mark_decided(instance);
            self.seen_decided(instance);
            self.unanswered.remove(&instance);
        }
        let inst = self.in_flight.get_mut(&instance).expect("an open op's instance is in flight");
        inst.open_ops -= 1;
        if inst.open_ops == 0 {
            if matches!(outcome, Outcome::Info(e) if e == "crashed") && self.undecided_and_unlearned(instance)
            {
                // The client waits for its node to come back, then tries again there.
                self.waiting.push((node, instance, now_us + self.cfg.op_timeout_us));
            } else {
                self.retry(now_us, instance, None, out);
            }
        }
        Some((instance, node))
    }

    /// A reply to op `op`, which is not open (it ended already, or was never invoked): for
    /// an `ok`, `instance` (from the reply) is answered and decided. Returns the op's
    /// instance and node if the op ended recently enough to be remembered.
    pub fn late(&mut self, op: OpId, ok_instance: Option<InstanceId>) -> Option<(InstanceId, NodeId)> {
        self.stats.late += 1;
        if let Some(instance) = ok_instance {
            self.mark_decided(instance);
            self.seen_decided(instance);
            self.unanswered.remove(&instance);
        }
        self.closed.ops.get(&op).copied()
    }

    /// The instance op `op` was invoked on, if it is open or ended recently enough to be
    /// remembered: what a reply to it answers, whatever instance the reply names.
    pub fn op_instance(&self, op: OpId) -> Option<InstanceId> {
        self.ops.get(&op).map(|o| o.instance).or_else(|| self.closed.ops.get(&op).map(|c| c.0))
    }

    /// Nobody knows a decision for `instance`.
    fn undecided_and_unlearned(&self, instance: InstanceId) -> bool {
        let decided = self.in_flight.get(&instance).is_none_or(|i| i.decided);
        !decided && self.unlearned.get(&instance).is_some_and(|l| l.learned == 0)
    }

    /// An instance whose ops all ended: invoked again (on `node`, or a random proposer) if it
    /// has retries left and either nobody knows a decision or no client was answered `ok` for
    /// it yet; retired otherwise. A learned but unanswered instance is invoked again at once
    /// (its proposer answers with the decided value), not left to the final phase: else the
    /// checker holds its record all run long and the final phase chases thousands at once.
    /// Being decided, it holds no concurrency slot.
    fn retry(&mut self, now_us: u64, instance: InstanceId, node: Option<NodeId>, out: &mut Vec<Invoke>) {
        let retries_left = self.in_flight.get(&instance).is_some_and(|i| i.reinvokes < MAX_REINVOKES);
        let lacking = self.undecided_and_unlearned(instance) || self.unanswered.contains(&instance);
        if lacking && retries_left {
            self.in_flight.get_mut(&instance).expect("checked").reinvokes += 1;
            let node = node.unwrap_or_else(|| self.random_proposer());
            self.invoke(now_us, instance, node, out);
        } else if let Some(inst) = self.in_flight.remove(&instance) {
            if !inst.decided {
                self.undecided -= 1;
            }
        }
    }

    /// `node` is up again (connected and initialised): retry the instances its clients were
    /// waiting to retry there.
    pub fn node_up(&mut self, now_us: u64, node: NodeId, out: &mut Vec<Invoke>) {
        let (mine, others): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|w| w.0 == node);
        self.waiting = others;
        for (_, instance, _) in mine {
            self.retry(now_us, instance, Some(node), out);
        }
    }

    fn mark_decided(&mut self, instance: InstanceId) {
        if let Some(inst) = self.in_flight.get_mut(&instance) {
            if !inst.decided {
                inst.decided = true;
                self.undecided -= 1;
            }
        }
    }

    /// A learner learned `instance`.
    pub fn learned(&mut self, instance: InstanceId, node: NodeId) {
        self.mark_decided(instance);
        self.seen_decided(instance);
        let Some(lacking) = self.unlearned.get_mut(&instance) else { return };
        lacking.learned |= bit(node);
        if lacking.learned & self.learners == self.learners {
            self.unlearned.remove(&instance);
            self.stats.learned_by_all += 1;
        }
    }

    /// `node`'s process exited: its open ops end `info` now (a client sees the connection
    /// close; whether the op took effect is unknown), as (op, instance).
    pub fn node_exited(
        &mut self,
        now_us: u64,
        node: NodeId,
        out: &mut Vec<Invoke>,
    ) -> Vec<(OpId, InstanceId)> {
        let mut ops: Vec<OpId> = self.ops.iter().filter(|(_, o)| o.node == node).map(|(op, _)| *op).collect();
        ops.sort();
        let mut ended = Vec::with_capacity(ops.len());
        for op in ops {
            if let Some((instance, _)) = self.complete(now_us, op, &Outcome::Info("crashed".into()), out) {
                ended.push((op, instance));
            }
        }
        ended
    }

    /// Ops past their deadline end `info`; returns them as (op, instance, node).
    pub fn expire(&mut self, now_us: u64, out: &mut Vec<Invoke>) -> Vec<(OpId, InstanceId, NodeId)> {
        let mut due: Vec<OpId> =
            self.ops.iter().filter(|(_, o)| o.deadline_us <= now_us).map(|(op, _)| *op).collect();
        // In op order, not the map's: the retries' random draws then follow from the seed.
        due.sort_unstable();
        let mut expired = Vec::with_capacity(due.len());
        for op in due {
            if let Some((instance, node)) = self.complete(now_us, op, &Outcome::Info("timeout".into()), out) {
                expired.push((op, instance, node));
            }
        }
        // Clients whose node did not come back in time try elsewhere.
        let (late, waiting): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|w| w.2 <= now_us);
        self.waiting = waiting;
        for (_, instance, _) in late {
            self.retry(now_us, instance, None, out);
        }
        expired
    }

    /// Final phase: invokes again every instance that some learner has not learned or no
    /// client has had an `ok` for, and that has no op running.
    pub fn chase(&mut self, now_us: u64, out: &mut Vec<Invoke>) {
        let lacking: BTreeSet<InstanceId> =
            self.unlearned.keys().chain(self.unanswered.iter()).copied().collect();
        let idle: Vec<InstanceId> = lacking.into_iter().filter(|i| !self.in_flight.contains_key(i)).collect();
        for instance in idle {
            let node = self.random_proposer();
            self.invoke(now_us, instance, node, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WorkloadConfig {
        WorkloadConfig {
            concurrency: 3,
            contention: 2,
            op_timeout_us: 1_000,
            max_instances: Some(5),
            revisit: 0.0,
            proposers: vec![1, 2, 3],
            learners: vec![1, 2, 3],
        }
    }

    #[test]
    fn fills_concurrency_with_contended_distinct_proposers() {
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        assert_eq!(w.in_flight(), 3);
        assert_eq!(out.len(), 6);
        for pair in out.chunks(2) {
            assert_eq!(pair[0].instance, pair[1].instance);
            assert_ne!(pair[0].node, pair[1].node, "contention uses distinct proposers");
            assert_ne!(pair[0].value, pair[1].value);
        }
    }

    #[test]
    fn timeouts_become_info_and_undecided_instances_are_invoked_again() {
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        out.clear();
        let expired = w.expire(1_000, &mut out);
        assert_eq!(expired.len(), 6);
        assert_eq!(w.stats.info, 6);
        assert_eq!(out.len(), 3, "one new op per undecided instance");
        assert_eq!(w.in_flight(), 3);
    }

    #[test]
    fn decided_and_learned_instances_retire_and_stop_at_the_limit() {
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        for _ in 0..10 {
            w.fill(0, &mut out);
            for inv in std::mem::take(&mut out) {
                w.complete(0, inv.op, &Outcome::Ok("v".into()), &mut out);
                for l in 1..=3 {
                    w.learned(inv.instance, l);
                }
            }
        }
        assert!(w.exhausted());
        assert_eq!(w.stats.instances_started, 5);
        assert_eq!(w.stats.learned_by_all, 5);
        assert_eq!(w.in_flight(), 0);
        assert_eq!(w.unlearned(), 0);
    }

    #[test]
    fn a_decided_instance_frees_its_slot_while_a_slow_op_is_still_open() {
        let mut w = Workload::new(WorkloadConfig { max_instances: None, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        let first = out[0].clone();
        let other = out.iter().find(|i| i.instance == first.instance && i.op != first.op).unwrap().clone();
        out.clear();
        w.complete(10, first.op, &Outcome::Ok("v".into()), &mut out);
        assert_eq!(w.in_flight(), 2, "decided: no longer in flight");
        w.fill(10, &mut out);
        assert_eq!(w.in_flight(), 3, "a new instance took the slot");
        assert_eq!(out.len(), 2);
        // The slow op still ends, as info, at its deadline.
        let expired = w.expire(1_000, &mut Vec::new());
        assert!(expired.iter().any(|&(op, _, _)| op == other.op));
        // A learn also counts as decided.
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        w.learned(out[0].instance, 1);
        assert_eq!(w.in_flight(), 2);
    }

    #[test]
    fn ops_on_a_node_that_exited_end_info_at_once() {
        let mut w = Workload::new(WorkloadConfig { contention: 1, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        let node = out[0].node;
        let on_node = out.iter().filter(|i| i.node == node).count();
        let mut again = Vec::new();
        let ended = w.node_exited(5, node, &mut again);
        assert_eq!(ended.len(), on_node);
        assert_eq!(w.stats.info as usize, on_node);
        assert!(w.node_exited(6, node, &mut again).is_empty(), "each op ends once");
        // The instances only that node was proposing wait for it, then are retried there.
        let alone: Vec<InstanceId> = out
            .iter()
            .filter(|i| i.node == node && out.iter().filter(|j| j.instance == i.instance).count() == 1)
            .map(|i| i.instance)
            .collect();
        assert!(!alone.is_empty());
        assert!(again.is_empty(), "nothing retried while the node is down");
        w.node_up(10, node, &mut again);
        assert_eq!(again.iter().map(|i| i.instance).collect::<Vec<_>>(), alone);
        assert!(again.iter().all(|i| i.node == node));
    }

    #[test]
    fn a_client_whose_node_stays_down_retries_elsewhere_after_the_op_timeout() {
        let mut w = Workload::new(WorkloadConfig { contention: 1, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        let node = out[0].node;
        let mut again = Vec::new();
        w.node_exited(5, node, &mut again);
        assert!(again.is_empty());
        w.expire(5 + 1_000, &mut again);
        assert!(again.iter().any(|i| i.instance == out[0].instance), "retried after the deadline");
    }

    #[test]
    fn final_phase_chases_instances_a_learner_missed() {
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        for inv in std::mem::take(&mut out) {
            w.complete(0, inv.op, &Outcome::Ok("v".into()), &mut out);
            w.learned(inv.instance, 1);
        }
        w.chase(5, &mut out);
        assert_eq!(out.len(), 3);
        w.chase(5, &mut out);
        assert_eq!(out.len(), 3, "no second op while one is running");
        assert_eq!(w.in_flight(), 0, "chased instances are decided: they hold no slot");
        for inv in std::mem::take(&mut out) {
            w.learned(inv.instance, 2);
            w.complete(6, inv.op, &Outcome::Ok("v".into()), &mut out);
        }
        assert_eq!(w.in_flight(), 0);
    }
    #[test]
    fn learned_instances_whose_ops_all_ended_without_an_ok_are_invoked_again_at_once() {
        let mut w = Workload::new(WorkloadConfig { contention: 1, max_instances: None, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        for inv in &out {
            for l in 1..=3 {
                w.learned(inv.instance, l);
            }
        }
        assert_eq!(w.in_flight(), 0, "learned: decided");
        // Every op times out: nobody was answered, so each instance gets a new op now.
        let mut again = Vec::new();
        w.expire(1_000, &mut again);
        let mut instances: Vec<InstanceId> = again.iter().map(|i| i.instance).collect();
        instances.sort_unstable();
        assert_eq!(instances, vec![1, 2, 3], "{again:?}");
        assert_eq!(w.in_flight(), 0, "a decided instance's new op holds no slot");
        // An ok ends it: no more ops once answered.
        let mut more = Vec::new();
        for inv in &again {
            w.complete(1_100, inv.op, &Outcome::Ok("v".into()), &mut more);
        }
        assert!(more.is_empty() && w.unanswered() == 0, "{more:?}");
        // Retries stay bounded: an instance nobody ever answers gets at most MAX_REINVOKES.
        let mut w = Workload::new(WorkloadConfig { contention: 1, max_instances: Some(1), ..cfg() }, 1);
        let mut ops = Vec::new();
        w.fill(0, &mut ops);
        for l in 1..=3 {
            w.learned(1, l);
        }
        let mut now = 0;
        let mut invoked = 1;
        while !ops.is_empty() {
            now += 1_000;
            ops.clear();
            w.expire(now, &mut ops);
            invoked += ops.len() as u32;
        }
        assert_eq!(invoked, 1 + MAX_REINVOKES);
        // A learned instance whose node crashed is retried elsewhere at once, not waited for.
        let mut w = Workload::new(WorkloadConfig { contention: 1, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        w.learned(out[0].instance, 1);
        let mut again = Vec::new();
        w.node_exited(5, out[0].node, &mut again);
        assert!(again.iter().any(|i| i.instance == out[0].instance), "{again:?}");
    }

    #[test]
    fn a_late_ok_answers_and_decides_its_instance() {
        let mut w = Workload::new(WorkloadConfig { contention: 1, ..cfg() }, 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        let first = out[0].clone();
        assert_eq!(w.unanswered(), 3);
        let mut again = Vec::new();
        w.expire(1_000, &mut again);
        assert_eq!(again.len(), 3, "every timed-out instance is invoked again");
        // The first op's answer comes after its timeout: late, but an answer all the same.
        let known = w.late(first.op, Some(first.instance));
        assert_eq!(known, Some((first.instance, first.node)), "the closed op is remembered");
        assert_eq!(w.stats.late, 1);
        assert_eq!(w.unanswered(), 2);
        assert_eq!(w.in_flight(), 2, "a late ok decides the instance: it frees its slot");
        // Its retry then times out too: the instance is decided, so it is not invoked again.
        let retry = again.iter().find(|i| i.instance == first.instance).unwrap().op;
        let mut more = Vec::new();
        w.complete(1_500, retry, &Outcome::Info("timeout".into()), &mut more);
        assert!(more.is_empty(), "{more:?}");
        // A second reply to an op answered in time is late too; an unknown op is not known.
        let other = again.iter().find(|i| i.instance != first.instance).unwrap();
        assert!(w.complete(1_500, other.op, &Outcome::Ok("v".into()), &mut more).is_some());
        assert_eq!(w.late(other.op, None), Some((other.instance, other.node)));
        assert_eq!(w.late(999_999, None), None);
        assert_eq!(w.stats.late, 3);
    }

    #[test]
    fn closed_ops_are_remembered_in_a_bounded_window() {
        let mut closed = ClosedOps::default();
        for op in 1..=CLOSED_OPS_KEPT as u64 + 10 {
            closed.insert(op, op, 1);
        }
        assert_eq!(closed.ops.len(), CLOSED_OPS_KEPT);
        assert_eq!(closed.order.len(), CLOSED_OPS_KEPT);
        assert!(!closed.ops.contains_key(&10), "the oldest are forgotten");
        assert!(closed.ops.contains_key(&11));
    }

    #[test]
    fn final_phase_chases_instances_no_client_was_answered_for() {
        let mut w = Workload::new(cfg(), 1);
        let mut out = Vec::new();
        w.fill(0, &mut out);
        // Every learner learns every instance, but no op is answered: they all time out.
        for inv in &out {
            for l in 1..=3 {
                w.learned(inv.instance, l);
            }
        }
        // Each is invoked again at once, up to MAX_REINVOKES times; all of those time out too.
        let mut now = 1_000;
        let mut retried = Vec::new();
        w.expire(now, &mut retried);
        while !retried.is_empty() {
            now += 1_000;
            retried.clear();
            w.expire(now, &mut retried);
        }
        assert_eq!((w.unlearned(), w.unanswered()), (0, 3));
        let now = now + 1_000;
        let mut chased = Vec::new();
        w.chase(now, &mut chased);
        assert_eq!(chased.len(), 3, "each unanswered instance is invoked again");
        w.chase(now, &mut chased);
        assert_eq!(chased.len(), 3, "no second op while one is running");
        for inv in std::mem::take(&mut chased) {
            w.complete(now + 100, inv.op, &Outcome::Ok("v".into()), &mut chased);
        }
        assert_eq!((w.unlearned(), w.unanswered()), (0, 0));
        w.chase(now + 200, &mut chased);
        assert!(chased.is_empty());
    }

    /// Runs `rounds` rounds of fill, each op answered `ok` at once, each new instance
    /// learned by `learners`; then fills once more. Returns the last fill's ops and every op
    /// invoked before it.
    fn rounds(w: &mut Workload, rounds: u64, learners: &[NodeId]) -> (Vec<Invoke>, Vec<Invoke>) {
        let mut before = Vec::new();
        let mut out = Vec::new();
        for round in 0..rounds {
            w.fill(round, &mut out);
            for inv in std::mem::take(&mut out) {
                let value =
                    if inv.revisit { format!("i{}-decided", inv.instance) } else { inv.value.clone() };
                w.complete(round, inv.op, &Outcome::Ok(value), &mut out);
                if !inv.revisit {
                    for &l in learners {
                        w.learned(inv.instance, l);
                    }
                }
                before.push(inv);
            }
            assert!(out.is_empty(), "an op answered ok is not retried: {out:?}");
        }
        w.fill(rounds, &mut out);
        (out, before)
    }

    fn revisiting(revisit: f64) -> Workload {
        Workload::new(WorkloadConfig { contention: 1, max_instances: None, revisit, ..cfg() }, 7)
    }

    #[test]
    fn with_revisit_1_every_new_op_after_some_decisions_revisits_a_decided_instance_elsewhere() {
        let mut w = revisiting(1.0);
        let (out, before) = rounds(&mut w, 5, &[1, 2, 3]);
        // Round 0 had nothing decided: new instances. Every op since is a revisit.
        let started = w.stats.instances_started;
        assert_eq!(started, 3);
        assert!(before.iter().take(3).all(|i| !i.revisit));
        assert!(before.len() > 3 && before.iter().skip(3).all(|i| i.revisit), "{before:?}");
        assert_eq!(out.len(), w.revisits_max(), "revisits up to their bound, and nothing else");
        assert_eq!(w.revisits_open(), w.revisits_max());
        let mut proposed_at: BTreeMap<InstanceId, BTreeSet<NodeId>> = BTreeMap::new();
        let mut values: BTreeSet<String> = BTreeSet::new();
        for inv in before.iter().chain(&out) {
            assert!(values.insert(inv.value.clone()), "a value twice: {}", inv.value);
            let at = proposed_at.entry(inv.instance).or_default();
            if inv.revisit {
                assert!(inv.instance <= started, "{inv:?}: not a decided instance");
                // Three proposers, one op each per instance before: another is always free
                // until all three proposed it.
                assert!(at.len() == 3 || !at.contains(&inv.node), "{inv:?}: proposed at {at:?} before");
                assert!(!inv.value.contains("decided"), "a fresh value, not the decided one: {inv:?}");
            }
            at.insert(inv.node);
        }
        assert_eq!(w.in_flight(), 0, "revisits hold no concurrency slot");
        assert_eq!(w.stats.revisits, w.stats.invoked - started);
        // At the bound nothing more starts, not even a new instance, until a revisit ends.
        let mut more = Vec::new();
        w.fill(10, &mut more);
        assert!(more.is_empty(), "{more:?}");
        let mut after = Vec::new();
        w.complete(11, out[0].op, &Outcome::Ok("i1-decided".into()), &mut after);
        assert!(after.is_empty(), "a revisit answered ok leaves its instance alone: {after:?}");
        w.fill(11, &mut more);
        assert_eq!(more.len(), 1);
        assert!(more[0].revisit);
        // A revisit that ends info or fail, or whose node crashed, leaves nothing lacking:
        // its instance is decided, learned and answered. Nothing is retried or chased.
        for (i, inv) in out[1..].iter().enumerate() {
            let outcome =
                if i % 2 == 0 { Outcome::Info("timeout".into()) } else { Outcome::Fail("busy".into()) };
            w.complete(12, inv.op, &outcome, &mut after);
        }
        let ended = w.node_exited(13, more[0].node, &mut after);
        assert_eq!(ended, vec![(more[0].op, more[0].instance)]);
        w.node_up(14, more[0].node, &mut after);
        w.expire(100_000, &mut after);
        assert!(after.is_empty(), "no revisit is retried: {after:?}");
        assert_eq!((w.unanswered(), w.unlearned(), w.revisits_open(), w.in_flight()), (0, 0, 0, 0));
        let mut chased = Vec::new();
        w.chase(15, &mut chased);
        assert!(chased.is_empty(), "nothing for the final phase to chase: {chased:?}");
    }

    #[test]
    fn with_revisit_0_no_op_is_a_revisit_and_nothing_is_drawn_for_them() {
        let mut w = revisiting(0.0);
        let (out, before) = rounds(&mut w, 20, &[1, 2, 3]);
        assert_eq!(w.stats.revisits, 0);
        assert_eq!(w.sample.len(), 0, "no sample kept");
        assert!(out.iter().chain(&before).all(|i| !i.revisit));
        // New instances in order, one op each, as before revisits existed.
        assert_eq!(w.stats.invoked, w.stats.instances_started);
        let instances: Vec<InstanceId> = before.iter().map(|i| i.instance).collect();
        assert_eq!(instances, (1..=before.len() as u64).collect::<Vec<_>>());
        assert_eq!(
            w.revisit_rng.clone().next_u64(),
            Rng::new(7 ^ REVISIT_SEED).next_u64(),
            "nothing drawn for revisits"
        );
    }

    #[test]
    fn a_share_of_new_ops_are_revisits_and_the_sample_stays_bounded() {
        let mut w = revisiting(0.1);
        rounds(&mut w, 5_000, &[1, 2, 3]);
        assert!(w.stats.instances_started > 3 * revisit::SAMPLE_MAX as u64);
        assert_eq!(w.sample.len(), revisit::SAMPLE_MAX, "more decided than the sample holds");
        let share = w.stats.revisits as f64 / w.stats.invoked as f64;
        assert!((0.08..0.12).contains(&share), "{share} of {} ops", w.stats.invoked);
    }

    #[test]
    fn half_the_revisits_go_to_a_proposer_that_has_not_learned_the_instance() {
        // Every instance is decided and learned by n1 and n2 only: n3 has not learned them.
        let mut w = revisiting(1.0);
        let (out, before) = rounds(&mut w, 100, &[1, 2]);
        assert!(before.len() > 1_000);
        let revisits: Vec<&Invoke> = before.iter().chain(&out).filter(|i| i.revisit).collect();
        let to_n3 = revisits.iter().filter(|i| i.node == 3).count();
        // Half of them are sent to n3; of the other half, those whose instance was not yet
        // proposed at n3 go there too (n3 is another proposer that has not learned it).
        let share = to_n3 as f64 / revisits.len() as f64;
        assert!(share >= 0.5, "{to_n3} of {} revisits at n3", revisits.len());
        // Chosen among the unlearned: always at n3. From the sample: at a node that did not
        // propose it, if there is one.
        for _ in 0..100 {
            let (instance, node) = w.pick_unlearned().expect("decided and not learned everywhere");
            assert_eq!(node, 3, "instance {instance}");
            let (instance, node) = w.pick_sampled().unwrap();
            let proposed_by = w.unlearned[&instance].proposed_by;
            assert!(proposed_by == 0b111 || proposed_by & bit(node) == 0, "{instance} at n{node}");
        }
        // Once every learner has them, none is chosen among the unlearned.
        let decided: Vec<InstanceId> = w.unlearned.keys().copied().collect();
        for i in decided {
            w.learned(i, 3);
        }
        assert_eq!(w.unlearned(), 0);
        assert_eq!(w.pick_unlearned(), None);
        assert!(w.pick_revisit().is_some());
    }
}
