//! A small in-test network for the sans-IO core: random delivery order, loss, duplication
//! and crash-restarts (a crash loses whatever the node had not persisted), plus a client that
//! proposes distinct values. Nodes retire old decisions to an archive and compact their logs
//! as the runtime does (archive made durable, then the log replaced by the core's snapshot),
//! with crashes between the two. It records what a checker needs and checks agreement and
//! validity as it goes.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{Bug, Config, InstanceId, Msg, Node, NodeId, Output, Record};

#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub acceptors: usize,
    pub proposers: usize,
    pub instances: u64,
    pub steps: usize,
    /// Probabilities in per-mille.
    pub loss_pm: u64,
    pub dup_pm: u64,
    pub crash_pm: u64,
    pub bug: Option<Bug>,
    /// Decisions each node keeps live (`Tuning::retain_decided`); older ones are retired.
    pub retain_decided: usize,
    /// Run a fault-free final phase and require every learner to learn every instance.
    pub check_liveness: bool,
}

struct Flight {
    from: NodeId,
    to: NodeId,
    msg: Msg,
}

struct SimNode {
    config: Config,
    core: Option<Node>,
    disk: Vec<Record>,
    /// Lazy records at the end of `disk`, written after its last synced one.
    unsynced: usize,
    /// Archived decisions: durable, and not yet durable (lost by a crash).
    archive: BTreeMap<InstanceId, String>,
    archive_pending: BTreeMap<InstanceId, String>,
}

pub struct Sim {
    p: Params,
    rng: Rng,
    nodes: Vec<SimNode>,
    net: Vec<Flight>,
    now_us: u64,
    next_op: u64,
    proposed: HashMap<InstanceId, BTreeSet<String>>,
    /// (instance) -> (node, value) for every learn and every ok, in order.
    decided: BTreeMap<InstanceId, Vec<(String, NodeId, String)>>,
    learned_by: HashMap<InstanceId, BTreeSet<NodeId>>,
    pub violation: Option<String>,
    pub crashes: u32,
    pub delivered: u64,
    pub dropped: u64,
    /// `catchup` requests delivered, and the `decided`s answering them went out with them.
    pub catchups: u64,
    /// Decisions retired to an archive, lookups answered from one, and log compactions.
    pub archived: u64,
    pub lookups: u64,
    pub compactions: u64,
}

const MAX_NET: usize = 2_000;

impl Sim {
    pub fn new(p: Params) -> Sim {
        let ids: Vec<NodeId> = (1..=p.acceptors as NodeId).collect();
        let proposers: Vec<NodeId> = ids.iter().copied().take(p.proposers).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut config = Config::all_roles(id, &ids);
                config.proposers = proposers.clone();
                config.tuning.seed = p.seed;
                config.tuning.bug = p.bug;
                // Few ballots in some schedules, so that proposals give up and are re-invoked
                // with new values (the path where an owner must not reuse round 0).
                config.tuning.max_attempts = [1, 2, 5, 20][(p.seed % 4) as usize];
                config.tuning.retain_decided = p.retain_decided;
                SimNode {
                    core: Some(Node::new(config.clone(), &[])),
                    config,
                    disk: Vec::new(),
                    unsynced: 0,
                    archive: BTreeMap::new(),
                    archive_pending: BTreeMap::new(),
                }
            })
            .collect();
        Sim {
            rng: Rng::new(p.seed),
            p,
            nodes,
            net: Vec::new(),
            now_us: 0,
            next_op: 0,
            proposed: HashMap::new(),
            decided: BTreeMap::new(),
            learned_by: HashMap::new(),
            violation: None,
            crashes: 0,
            delivered: 0,
            dropped: 0,
            catchups: 0,
            archived: 0,
            lookups: 0,
            compactions: 0,
        }
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.rng.below(1000) < per_mille
    }

    /// Runs the random schedule, then (optionally) the fault-free final phase.
    pub fn run(&mut self) -> Result<(), String> {
        for _ in 0..self.p.steps {
            self.step();
            if let Some(v) = &self.violation {
                return Err(v.clone());
            }
        }
        if self.p.check_liveness {
            self.final_phase();
        }
        match &self.violation {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=69 if !self.net.is_empty() => self.deliver_random(),
            0..=79 => self.propose_random(),
            80..=89 => self.fire_timeouts(),
            90..=91 => {
                let id = self.rng.below(self.nodes.len() as u64) as NodeId + 1;
                self.compact(id);
            }
            _ => {
                let id = self.rng.below(self.nodes.len() as u64) as NodeId + 1;
                if self.nodes[id as usize - 1].core.is_none() {
                    self.restart(id);
                } else if self.chance(self.p.crash_pm * 10) {
                    self.crash(id);
                }
            }
        }
    }

    fn deliver_random(&mut self) {
        let i = self.rng.below(self.net.len() as u64) as usize;
        let lose = self.chance(self.p.loss_pm);
        let dup = self.chance(self.p.dup_pm);
        let flight = if dup {
            let f = &self.net[i];
            Flight { from: f.from, to: f.to, msg: f.msg.clone() }
        } else {
            self.net.swap_remove(i)
        };
        self.now_us += self.rng.below(2_000);
        if lose {
            self.dropped += 1;
        } else {
            self.deliver(flight);
        }
    }

    fn deliver(&mut self, f: Flight) {
        let now = self.now_us;
        self.delivered += 1;
        if matches!(f.msg, Msg::Catchup(_)) {
            self.catchups += 1;
        }
        if let Some(core) = self.nodes[f.to as usize - 1].core.as_mut() {
            core.handle_message(now, f.from, f.msg);
            self.drain(f.to);
        }
    }

    fn propose_random(&mut self) {
        let id = self.rng.below(self.p.proposers as u64) as NodeId + 1;
        let instance = self.rng.below(self.p.instances);
        self.propose(id, instance);
    }

    fn propose(&mut self, id: NodeId, instance: InstanceId) {
        let now = self.now_us;
        self.next_op += 1;
        let op = self.next_op;
        let value = format!("i{instance}-op{op}-n{id}");
        let Some(core) = self.nodes[id as usize - 1].core.as_mut() else { return };
        self.proposed.entry(instance).or_default().insert(value.clone());
        core.handle_propose(now, op, instance, value);
        self.drain(id);
    }

    fn fire_timeouts(&mut self) {
        let next = self.nodes.iter().filter_map(|n| n.core.as_ref()?.next_timeout_us()).min();
        let Some(at) = next else { return };
        self.now_us = self.now_us.max(at);
        for id in 1..=self.nodes.len() as NodeId {
            let now = self.now_us;
            let due = self.nodes[id as usize - 1]
                .core
                .as_ref()
                .and_then(|c| c.next_timeout_us())
                .is_some_and(|t| t <= now);
            if due {
                self.nodes[id as usize - 1].core.as_mut().expect("due node is up").handle_timeout(now);
                self.drain(id);
            }
        }
    }

    /// Compacts a node's log as the runtime does: its archive is made durable, then (unless
    /// a crash strikes in between) its log is replaced by the core's snapshot, atomically.
    fn compact(&mut self, id: NodeId) {
        let n = &mut self.nodes[id as usize - 1];
        if n.core.is_none() {
            return;
        }
        let pending = std::mem::take(&mut n.archive_pending);
        for (instance, value) in pending {
            n.archive.entry(instance).or_insert(value);
        }
        if self.p.crash_pm > 0 && self.rng.below(100) < self.p.crash_pm {
            self.crash(id);
            return;
        }
        let n = &mut self.nodes[id as usize - 1];
        n.disk = n.core.as_ref().expect("checked above").snapshot();
        n.unsynced = 0;
        self.compactions += 1;
    }

    /// A crash is a power cut: lazy records after the last synced one may be lost.
    fn crash(&mut self, id: NodeId) {
        let lose = self.rng.below(2) == 0;
        let n = &mut self.nodes[id as usize - 1];
        n.core = None;
        if lose {
            let keep = n.disk.len() - n.unsynced;
            n.disk.truncate(keep);
        }
        n.unsynced = 0;
        n.archive_pending.clear();
        self.crashes += 1;
    }

    /// Restarts a node from its disk and performs what the restart put out (decisions replayed
    /// beyond the window retire at once), as the runtime's first turn does.
    fn restart(&mut self, id: NodeId) {
        let n = &mut self.nodes[id as usize - 1];
        n.core = Some(Node::new(n.config.clone(), &n.disk));
        self.drain(id);
    }

    /// Performs a node's outputs in order; a crash may strike between any two of them, losing
    /// the rest (unpersisted state and unsent messages alike).
    fn drain(&mut self, id: NodeId) {
        loop {
            // A crash between two outputs: rarer than a crash between two events.
            if self.p.crash_pm > 0 && self.rng.below(10_000) < self.p.crash_pm {
                self.crash(id);
                return;
            }
            let node = &mut self.nodes[id as usize - 1];
            let Some(out) = node.core.as_mut().and_then(|c| c.poll_output()) else { return };
            match out {
                Output::Persist(r) => {
                    node.disk.push(r);
                    node.unsynced = 0;
                }
                Output::PersistLazy(r) => {
                    node.disk.push(r);
                    node.unsynced += 1;
                }
                Output::Send { to, msg } => {
                    if self.net.len() < MAX_NET {
                        self.net.push(Flight { from: id, to, msg });
                    }
                }
                Output::Learned { instance, value } => {
                    self.learned_by.entry(instance).or_default().insert(id);
                    self.record(instance, "learn", id, value);
                }
                Output::ProposeDone { instance, result: Ok(value), .. } => {
                    self.record(instance, "ok", id, value)
                }
                Output::ProposeDone { result: Err(_), .. } => {}
                Output::Archive { instance, value } => {
                    node.archive_pending.entry(instance).or_insert(value);
                    self.archived += 1;
                }
                Output::Lookup { instance } => {
                    let found = node.archive_pending.get(&instance).or_else(|| node.archive.get(&instance));
                    let Some(value) = found.cloned() else {
                        self.violation.get_or_insert_with(|| {
                            format!(
                                "archive: n{id} looked up instance {instance}, retired but never archived"
                            )
                        });
                        return;
                    };
                    self.lookups += 1;
                    let now = self.now_us;
                    node.core
                        .as_mut()
                        .expect("a node with outputs is up")
                        .handle_lookup(now, instance, value);
                }
            }
        }
    }

    /// Instances learned by at least one learner.
    pub fn instances_learned(&self) -> usize {
        self.learned_by.len()
    }

    /// Instances some op ended `ok` on, or learned, before the final phase.
    pub fn decisions(&self) -> usize {
        self.decided.len()
    }

    fn record(&mut self, instance: InstanceId, kind: &str, node: NodeId, value: String) {
        let valid = self.proposed.get(&instance).is_some_and(|vs| vs.contains(&value));
        if !valid && self.violation.is_none() {
            self.violation =
                Some(format!("validity: n{node} {kind} {value:?} for instance {instance}, never proposed"));
        }
        let events = self.decided.entry(instance).or_default();
        if let Some((k0, n0, v0)) = events.first() {
            if *v0 != value && self.violation.is_none() {
                self.violation = Some(format!(
                    "agreement: instance {instance}: n{n0} {k0} {v0:?} but n{node} {kind} {value:?}"
                ));
            }
        }
        events.push((kind.to_string(), node, value));
    }

    fn not_learned_by_all(&self) -> Vec<InstanceId> {
        let all = self.nodes.len();
        self.proposed
            .keys()
            .copied()
            .filter(|i| self.learned_by.get(i).map_or(0, |s| s.len()) < all)
            .collect()
    }

    /// Every node up, a reliable network, and a client that re-proposes every instance that
    /// some learner has not learned, until all have (or a bounded number of rounds passed).
    fn final_phase(&mut self) {
        self.p.crash_pm = 0;
        for id in 1..=self.nodes.len() as NodeId {
            if self.nodes[id as usize - 1].core.is_none() {
                self.restart(id);
            }
        }
        for round in 0..20u32 {
            let missing = self.not_learned_by_all();
            if missing.is_empty() {
                return;
            }
            for (k, instance) in missing.into_iter().enumerate() {
                let proposer = ((k as u32 + round) % self.p.proposers as u32) as NodeId + 1;
                self.propose(proposer, instance);
            }
            for _ in 0..20_000 {
                if !self.net.is_empty() {
                    let f = self.net.remove(0);
                    self.now_us += 50;
                    self.deliver(f);
                } else if self
                    .nodes
                    .iter()
                    .any(|n| n.core.as_ref().is_some_and(|c| c.next_timeout_us().is_some()))
                {
                    self.fire_timeouts();
                } else {
                    break;
                }
            }
        }
        let missing = self.not_learned_by_all();
        if !missing.is_empty() && self.violation.is_none() {
            self.violation =
                Some(format!("liveness: instances {missing:?} not learned by all after the final phase"));
        }
    }
}
