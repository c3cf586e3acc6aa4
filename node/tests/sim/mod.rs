//! A small in-test network of real nodes for the property tests of the core: random delivery
//! order, loss, duplication and crash-restarts, plus a client that proposes distinct values.
//! It records what a checker needs and checks agreement and validity as it goes.
//!
//! Each node is the node's own loop turn on the simulator's disk and archive,
//! `Host<SimDisk, SimArchive>`, booted and restarted through `runtime::Booting` (the log
//! opened through the real recovery path), exactly as `synod sim` runs it
//! (controller/src/sim/process.rs). So the group commit, the lazy records, the archive and the
//! compaction (by the host's own policy; the schedules set small thresholds so that it
//! happens often) are the node's code, not a model of it kept here. What this harness adds is
//! the schedule, drawn from one seed:
//!
//! - which in-flight message is delivered next, lost or duplicated (any order);
//! - crashes: between two events, after a turn's early frames and before its batch is synced,
//!   and after the sync before its late frames leave; and power cuts inside a turn's disk
//!   operations (`SimDisk::arm_power_cut`), which stop a node in the middle of an append or a
//!   compaction (after the archive was flushed, before or after the snapshot was renamed over
//!   the log). Every crash is a power loss of the `SimDisk` (unsynced writes and names lost,
//!   clean or with a torn write) and of the `SimArchive` (unflushed decisions lost);
//! - restarts, which reopen the log on the crashed disk. A log that refuses to open, an
//!   archive that lost a decision the log relies on, or any storage error but the power cut's
//!   is a violation, as are the safety breaches.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{Bug, Config, InstanceId, NodeId};
use synod_node::protocol::{Body, Envelope, CONTROLLER};
use synod_node::runtime::{ArchiveStore, BootError, Booting, Host, RuntimeError};
use synod_node::storage::{Crash, SimArchive, SimDisk};

/// Where each node keeps its log on its simulated disk.
const DATA_DIR: &str = "/synod-test/data";
/// Unsynced bytes a simulated disk holds at most (a compaction's file is written whole).
const PENDING_BYTES_MAX: u64 = 64 << 20;
/// Messages in flight at most; more are dropped when sent.
const MAX_NET: usize = 2_000;
/// Log sizes at which the hosts compact, one per schedule: small, so that compactions
/// happen within a few hundred steps (the node's default is 16 MiB).
const COMPACT_LOG_BYTES: [u64; 3] = [256, 1024, 4096];
/// Changing disk operations an armed power cut lets through at most: an append is two or
/// three (write, sync), a compaction five (create, write, sync, rename, directory sync).
const POWER_CUT_OPS: u64 = 6;

type SimHost = Host<SimDisk, SimArchive>;

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

/// A node: running, or crashed with its storage as the power loss left it.
enum Life {
    Up(Box<SimHost>),
    Down(Box<SimDisk>, SimArchive),
}

struct SimNode {
    config: Config,
    /// Never `None` between two calls of the simulator.
    life: Option<Life>,
}

pub struct Sim {
    p: Params,
    rng: Rng,
    nodes: Vec<SimNode>,
    net: Vec<Envelope>,
    now_us: u64,
    next_op: u64,
    proposed: HashMap<InstanceId, BTreeSet<String>>,
    /// (instance) -> (node, value) for every learn and every ok, in order.
    decided: BTreeMap<InstanceId, Vec<(String, NodeId, String)>>,
    learned_by: HashMap<InstanceId, BTreeSet<NodeId>>,
    pub violation: Option<String>,
    pub crashes: u32,
    /// Crashes that struck inside a disk operation sequence (armed power cuts that fired).
    pub power_cuts: u32,
    pub delivered: u64,
    pub dropped: u64,
    /// `catchup` requests delivered, and the `decided`s answering them went out with them.
    pub catchups: u64,
    /// Decisions retired to an archive, lookups answered from one, and log compactions.
    pub archived: u64,
    pub lookups: u64,
    pub compactions: u64,
}

impl Sim {
    pub fn new(p: Params) -> Sim {
        let ids: Vec<NodeId> = (1..=p.acceptors as NodeId).collect();
        let proposers: Vec<NodeId> = ids.iter().copied().take(p.proposers).collect();
        let mut violation = None;
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
                config.tuning.compact_log_bytes = COMPACT_LOG_BYTES[(p.seed / 4 % 3) as usize];
                let disk = SimDisk::new(PENDING_BYTES_MAX);
                let life = match boot(&config, disk, SimArchive::new()) {
                    Ok(host) => Life::Up(host),
                    Err(failed) => {
                        let e = &failed.error;
                        violation.get_or_insert(format!("n{id} cannot start on an empty disk: {e}"));
                        Life::Down(Box::new(SimDisk::new(PENDING_BYTES_MAX)), failed.archive)
                    }
                };
                SimNode { config, life: Some(life) }
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
            violation,
            crashes: 0,
            power_cuts: 0,
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

    fn host(&mut self, id: NodeId) -> Option<&mut SimHost> {
        match self.nodes[id as usize - 1].life.as_mut() {
            Some(Life::Up(host)) => Some(host),
            _ => None,
        }
    }

    fn is_up(&self, id: NodeId) -> bool {
        matches!(self.nodes[id as usize - 1].life, Some(Life::Up(_)))
    }

    /// Runs the random schedule, then (optionally) the fault-free final phase.
    pub fn run(&mut self) -> Result<(), String> {
        if self.violation.is_none() {
            for _ in 0..self.p.steps {
                self.step();
                if self.violation.is_some() {
                    break;
                }
            }
        }
        if self.p.check_liveness && self.violation.is_none() {
            self.final_phase();
        }
        self.lookups = self
            .nodes
            .iter()
            .map(|n| match n.life.as_ref().expect("a node has a life") {
                Life::Up(host) => host.archive().lookups(),
                Life::Down(_, archive) => archive.lookups(),
            })
            .sum();
        match &self.violation {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=69 if !self.net.is_empty() => self.deliver_random(),
            0..=79 => self.propose_random(),
            80..=91 => self.fire_timeouts(),
            _ => {
                let id = self.rng.below(self.nodes.len() as u64) as NodeId + 1;
                if !self.is_up(id) {
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
        let env = if dup { self.net[i].clone() } else { self.net.swap_remove(i) };
        self.now_us += self.rng.below(2_000);
        if lose {
            self.dropped += 1;
        } else {
            self.deliver(env);
        }
    }

    fn deliver(&mut self, env: Envelope) {
        let now = self.now_us;
        self.delivered += 1;
        if matches!(env.body, Body::Catchup(_)) {
            self.catchups += 1;
        }
        let id = env.dest;
        if let Some(host) = self.host(id) {
            host.handle_envelope(now, env);
            self.turn(id);
        }
    }

    fn propose_random(&mut self) {
        let id = self.rng.below(self.p.proposers as u64) as NodeId + 1;
        let instance = self.rng.below(self.p.instances);
        self.propose(id, instance);
    }

    /// The client proposes a new value for `instance` to `id`, as the controller does.
    fn propose(&mut self, id: NodeId, instance: InstanceId) {
        let now = self.now_us;
        self.next_op += 1;
        let op = self.next_op;
        let value = format!("i{instance}-op{op}-n{id}");
        if !self.is_up(id) {
            return;
        }
        self.proposed.entry(instance).or_default().insert(value.clone());
        let body = Body::Propose { msg_id: op, instance, value };
        self.host(id).expect("checked up").handle_envelope(now, Envelope { src: CONTROLLER, dest: id, body });
        self.turn(id);
    }

    /// Moves the clock to the earliest deadline of a running host (a core timeout or lazy
    /// records waiting) and fires every deadline due then.
    fn fire_timeouts(&mut self) {
        let next = (1..=self.nodes.len() as NodeId)
            .filter_map(|id| match self.nodes[id as usize - 1].life.as_ref() {
                Some(Life::Up(host)) => host.next_deadline_us(),
                _ => None,
            })
            .min();
        let Some(at) = next else { return };
        self.now_us = self.now_us.max(at);
        let now = self.now_us;
        for id in 1..=self.nodes.len() as NodeId {
            let Some(host) = self.host(id) else { continue };
            if host.next_deadline_us().is_some_and(|t| t <= now) {
                if let Err(e) = host.handle_deadline(now) {
                    self.stopped(id, e);
                    continue;
                }
                self.turn(id);
            }
        }
    }

    /// One turn of `id`, as the node process performs it (runtime/host.rs): the plan, its
    /// early frames, the batch under one sync, its late frames, then a compaction if due.
    /// A crash may strike after the early frames, after the sync, or (an armed power cut)
    /// inside the disk operations of the append or the compaction.
    fn turn(&mut self, id: NodeId) {
        let now = self.now_us;
        let crash_pm = self.p.crash_pm;
        // A power cut is armed more often when a compaction is due: the crash between the
        // archive's flush and the log's replacement is the one compaction must survive.
        let (cut_pm, cut_ops) = {
            let host = self.host(id).expect("a turn of a running node");
            let log_bytes = host.log().len_bytes();
            let due = host.driver().compaction_due(log_bytes, host.archive().pending_len());
            (if due { crash_pm * 10 } else { crash_pm / 2 }, self.rng.below(POWER_CUT_OPS))
        };
        let armed = crash_pm > 0 && self.chance(cut_pm);
        let host = self.host(id).expect("a turn of a running node");
        let pending_before = host.archive().pending_len();
        let plan = match host.plan(now) {
            Ok(plan) => plan,
            Err(e) => return self.stopped(id, e),
        };
        self.archived += host.archive().pending_len().saturating_sub(pending_before) as u64;
        let synced = plan.batch.is_some();
        self.send(plan.early);
        if synced && crash_pm > 0 && self.rng.below(2_000) < crash_pm {
            return self.crash(id);
        }
        let host = self.host(id).expect("a turn of a running node");
        if armed {
            host.disk_mut().arm_power_cut(cut_ops);
        }
        if let Err(e) = host.persist(plan.batch) {
            return self.stopped(id, e);
        }
        if synced && crash_pm > 0 && self.rng.below(2_000) < crash_pm {
            return self.crash(id);
        }
        self.send(plan.late);
        let host = self.host(id).expect("a turn of a running node");
        match host.maybe_compact() {
            Ok(compaction) => self.compactions += u64::from(compaction.is_some()),
            Err(e) => return self.stopped(id, e),
        }
        if armed {
            self.host(id).expect("still running").disk_mut().disarm_power_cut();
        }
    }

    /// Routes a turn's frames: the client's replies are recorded, peer messages go in flight.
    fn send(&mut self, frames: Vec<Envelope>) {
        for env in frames {
            if env.dest != CONTROLLER {
                if self.net.len() < MAX_NET {
                    self.net.push(env);
                }
                continue;
            }
            match env.body {
                Body::Learned { instance, value } => {
                    self.learned_by.entry(instance).or_default().insert(env.src);
                    self.record(instance, "learn", env.src, value);
                }
                Body::ProposeOk { instance, value, .. } => self.record(instance, "ok", env.src, value),
                _ => {}
            }
        }
    }

    /// A node's host returned an error: the armed power cut struck (the node dies there and
    /// the disk crashes), or the node stopped on its own, which is a violation: a log that
    /// fails, or an archive that lost a decision the log relied on.
    fn stopped(&mut self, id: NodeId, e: RuntimeError) {
        let cut = self.host(id).is_some_and(|host| host.log().disk().power_cut());
        if cut {
            self.power_cuts += 1;
        } else {
            self.violation.get_or_insert_with(|| format!("n{id} stopped: {e}"));
        }
        self.crash(id);
    }

    /// A crash is a power loss: the process is gone, its disk loses what was not synced
    /// (cleanly, or keeping a torn part of the oldest pending write) and its archive what was
    /// not flushed.
    fn crash(&mut self, id: NodeId) {
        let mode = if self.rng.below(2) == 0 { Crash::Clean } else { Crash::Torn };
        let node = &mut self.nodes[id as usize - 1];
        let Some(Life::Up(host)) = node.life.take() else { unreachable!("only a running node crashes") };
        let (log, mut archive) = host.into_parts();
        let mut disk = log.into_disk();
        disk.crash(&mut self.rng, mode);
        archive.crash();
        node.life = Some(Life::Down(Box::new(disk), archive));
        self.crashes += 1;
    }

    /// Restarts a node from its disk, as the process does, and performs what the restart put
    /// out (decisions replayed beyond the window retire at once) in a first turn.
    fn restart(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize - 1];
        let Some(Life::Down(disk, archive)) = node.life.take() else {
            unreachable!("only a crashed node restarts")
        };
        match boot(&node.config, *disk, archive) {
            Ok(host) => {
                node.life = Some(Life::Up(host));
                self.turn(id);
            }
            Err(failed) => {
                let e = &failed.error;
                node.life = Some(Life::Down(Box::new(SimDisk::new(PENDING_BYTES_MAX)), failed.archive));
                self.violation.get_or_insert_with(|| format!("n{id} cannot restart: {e}"));
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

    fn any_deadline(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(&n.life, Some(Life::Up(host)) if host.next_deadline_us().is_some()))
    }

    /// Every node up, a reliable network, and a client that re-proposes every instance that
    /// some learner has not learned, until all have (or a bounded number of rounds passed).
    fn final_phase(&mut self) {
        self.p.crash_pm = 0;
        for id in 1..=self.nodes.len() as NodeId {
            if !self.is_up(id) {
                self.restart(id);
            }
        }
        for round in 0..20u32 {
            if self.violation.is_some() {
                return;
            }
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
                    let env = self.net.remove(0);
                    self.now_us += 50;
                    self.deliver(env);
                } else if self.any_deadline() {
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

/// Opens a node's log on `disk` through the node's own recovery path and starts its host;
/// on failure, the error and the archive (the open consumed the disk: the run ends with a
/// violation, so it is not kept).
fn boot(
    config: &Config,
    disk: SimDisk,
    archive: SimArchive,
) -> Result<Box<SimHost>, Box<BootError<SimArchive>>> {
    match Booting::open(disk, archive, Path::new(DATA_DIR)) {
        Ok(booting) => Ok(Box::new(booting.start(config.clone()))),
        Err(failed) => Err(Box::new(failed)),
    }
}
