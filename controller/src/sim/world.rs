//! The simulated world: every node's process, disk and archive, the latencies between them
//! and the controller, and one queue of what is due, ordered by (time, sequence number).
//!
//! The run loop (run/sim.rs) owns the net, the workload, the nemesis and the history, as in a
//! real run; this world stands in for the processes and sockets. It answers what a real
//! run's cluster answers (start a node, signal it, its state), and between the run loop's
//! turns it says when it next has something to do ([`SimWorld::next_event_us`]) and does it
//! ([`SimWorld::step`]), handing back the same [`Event`]s a real run's connections and
//! process waiters send: a node connected, a frame from it, its exit.
//!
//! Nothing here reads a clock or the OS's randomness: the time is the run's simulated clock,
//! every latency is drawn from the world's own generator, seeded from the run's seed, and
//! ties are broken by sequence number. So a run is a function of its config and seed.

use super::process::SimProcess;
use super::timing::SimTiming;
use crate::cluster::ProcState;
use crate::due::DueQueue;
use crate::history::Clock;
use crate::net::conn::{ConnId, Event, NODE_QUEUE_FRAMES};
use anyhow::{bail, Result};
use nix::sys::signal::Signal;
use std::path::PathBuf;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;
use synod_node::protocol::Envelope;
use synod_node::storage::{Crash, CrashLoss, SimArchive, SimDisk};
use tokio::sync::mpsc;

/// Things due in the world, at most (a bound, not a tuning: a run holds a few per node).
const QUEUE_MAX: usize = 1 << 22;

/// The first simulated pid: simulated pids are start numbers, not the OS's.
const FIRST_PID: u32 = 1000;

/// What comes due.
#[derive(Debug)]
enum What {
    /// A started process has connected.
    Connect { node: NodeId, pid: u32 },
    /// A process should take a turn: frames wait on its link, or its sync ended.
    Wake { node: NodeId, pid: u32 },
    /// A frame from a node reaches the controller.
    Frame { node: NodeId, env: Envelope },
    /// A process's exit is seen (its connection closed first).
    Exit { node: NodeId, pid: u32, conn: Option<ConnId>, status: String },
}

/// One node's place in the world: its disk and archive (held by its process while it runs),
/// and what the controller knows of its process.
struct Slot {
    node: NodeId,
    disk: Option<SimDisk>,
    archive: Option<SimArchive>,
    process: Option<SimProcess>,
    /// The process the controller knows of, until its exit is seen.
    pid: Option<u32>,
    conn: Option<ConnId>,
    stopped: bool,
    killed: bool,
    /// A wake is queued for the process.
    wake_queued: bool,
    /// When its last frame reaches the controller: frames arrive in the order sent (TCP).
    last_frame_us: u64,
}

pub struct SimWorld {
    clock: Clock,
    rng: Rng,
    timing: SimTiming,
    slots: Vec<Slot>,
    queue: DueQueue<What>,
    next_pid: u32,
    next_conn: ConnId,
    /// Where each node keeps its log on its simulated disk.
    data_dir: PathBuf,
}

impl SimWorld {
    /// `nodes` nodes with empty disks, on `clock` (the run's history clock).
    pub fn new(nodes: u32, seed: u64, clock: Clock, timing: SimTiming) -> SimWorld {
        let slots = (1..=nodes)
            .map(|node| Slot {
                node,
                disk: Some(SimDisk::new(timing.disk_pending_bytes_max)),
                archive: Some(SimArchive::new()),
                process: None,
                pid: None,
                conn: None,
                stopped: false,
                killed: false,
                wake_queued: false,
                last_frame_us: 0,
            })
            .collect();
        SimWorld {
            clock,
            rng: Rng::new(seed ^ 0x7369_6d5f_776f_726c),
            timing,
            slots,
            queue: DueQueue::default(),
            next_pid: FIRST_PID,
            next_conn: 0,
            data_dir: PathBuf::from("/synod-sim/data"),
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    fn slot(&mut self, node: NodeId) -> &mut Slot {
        &mut self.slots[node as usize - 1]
    }

    fn push(&mut self, at_us: u64, what: What) {
        assert!(self.queue.len() < QUEUE_MAX, "the simulated world's queue is beyond its bound");
        self.queue.push(at_us, what);
    }

    /// Starts `node`'s process: it opens its log now and connects after the start-up time
    /// (or exits, if its log cannot be read). Returns its (simulated) pid.
    pub fn spawn(&mut self, node: NodeId) -> Result<u32> {
        let now = self.now_us();
        let pid = self.next_pid;
        let (data_dir, connect_us) = (self.data_dir.clone(), self.timing.start_us(&mut self.rng));
        let slot = self.slot(node);
        if slot.pid.is_some() {
            bail!("n{node} is already running");
        }
        let disk = slot.disk.clone().expect("a node that is down holds its disk");
        let archive = slot.archive.take().expect("a node that is down holds its archive");
        slot.pid = Some(pid);
        match SimProcess::boot(pid, node, disk, archive, &data_dir) {
            Ok(process) => {
                slot.disk = None;
                slot.process = Some(process);
                self.push(now + connect_us, What::Connect { node, pid });
            }
            Err(failure) => {
                tracing::warn!(node, error = %failure.error, "simulated node cannot start");
                slot.archive = Some(failure.archive);
                self.push(now + connect_us, What::Exit { node, pid, conn: None, status: failure.status });
            }
        }
        self.next_pid += 1;
        Ok(pid)
    }

    pub fn state(&self, node: NodeId) -> ProcState {
        match &self.slots[node as usize - 1] {
            Slot { pid: None, .. } => ProcState::Down,
            Slot { killed: true, .. } => ProcState::Dying,
            Slot { stopped: true, .. } => ProcState::Stopped,
            _ => ProcState::Running,
        }
    }

    /// What a signal does to a process: SIGKILL ends it now (its exit is seen a moment
    /// later), SIGTERM ends it cleanly (its waiting records written), SIGSTOP and SIGCONT
    /// pause and resume it (a pause takes effect between turns).
    pub fn signal(&mut self, node: NodeId, signal: Signal) -> Result<()> {
        let slot = self.slot(node);
        let Some(pid) = slot.pid else { bail!("n{node} is not running") };
        match signal {
            Signal::SIGSTOP => slot.stopped = true,
            Signal::SIGCONT => slot.stopped = false,
            Signal::SIGKILL => {
                if !slot.killed {
                    slot.killed = true;
                    self.end_process(node, pid, format!("signal {}", signal.as_str()));
                }
            }
            Signal::SIGTERM => {
                if let Some(process) = &mut slot.process {
                    let status = process.terminate().unwrap_or_else(|| "exit 0".into());
                    self.end_process(node, pid, status);
                }
            }
            other => bail!("the simulation has no use for {other} (n{node})"),
        }
        Ok(())
    }

    /// `node`'s process has gone: its storage back in its slot, its exit due a moment later,
    /// after the frames it already sent.
    fn end_process(&mut self, node: NodeId, pid: u32, status: String) {
        let now = self.now_us();
        let exit_us = self.timing.exit_us(&mut self.rng);
        let slot = self.slot(node);
        let Some(process) = slot.process.take() else { return };
        // A wake queued for the process is void (its pid no longer matches).
        slot.wake_queued = false;
        let (disk, archive) = process.into_storage();
        slot.disk = Some(disk);
        slot.archive = Some(archive);
        let at = (now + exit_us).max(slot.last_frame_us + 1);
        let conn = slot.conn.take();
        self.push(at, What::Exit { node, pid, conn, status });
    }

    /// The exit of `node`'s process `pid` was seen by the controller.
    pub fn exited(&mut self, node: NodeId, pid: u32) {
        let slot = self.slot(node);
        if slot.pid == Some(pid) {
            slot.pid = None;
            slot.stopped = false;
            slot.killed = false;
        }
    }

    pub fn up_nodes(&self) -> Vec<NodeId> {
        self.slots.iter().filter(|s| s.pid.is_some()).map(|s| s.node).collect()
    }

    /// A power loss on `node`'s disk (its process has gone): what was not synced is lost,
    /// keeping a torn part of the oldest pending write if `torn`; the archive's unflushed
    /// decisions are lost with it.
    pub fn power_loss(&mut self, node: NodeId, torn: bool) -> CrashLoss {
        let mode = if torn { Crash::Torn } else { Crash::Clean };
        let slot = &mut self.slots[node as usize - 1];
        let disk = slot.disk.as_mut().expect("power is cut once the process has gone");
        let loss = disk.crash(&mut self.rng, mode);
        slot.archive.as_mut().expect("an archive with the disk").crash();
        loss
    }

    /// Queues a turn for every running process with frames on its link (after the time a
    /// frame takes to be read) or late frames to release, and none queued yet. The run loop
    /// calls it after each of its turns, since it puts frames on the links.
    pub fn notice(&mut self, now_us: u64) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let Some(process) = &slot.process else { continue };
            if slot.stopped || slot.wake_queued || (!process.has_input() && process.late.is_empty()) {
                continue;
            }
            let (node, pid, busy_until) = (slot.node, process.pid, process.busy_until_us);
            let at = (now_us + self.timing.hop_us(&mut self.rng)).max(busy_until);
            self.slots[i].wake_queued = true;
            self.push(at, What::Wake { node, pid });
        }
    }

    /// When the world next has something to do: a queued thing, or a process's deadline.
    pub fn next_event_us(&self) -> Option<u64> {
        let queued = self.queue.next_at_us();
        let deadlines = self
            .slots
            .iter()
            .filter(|s| !s.stopped)
            .filter_map(|s| s.process.as_ref().and_then(SimProcess::next_deadline_us));
        queued.into_iter().chain(deadlines).min()
    }

    /// Does everything due at `now_us`, in order: queued things first, then the deadlines of
    /// the processes, in node order. Returns the events for the run loop.
    pub fn step(&mut self, now_us: u64) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(what) = self.queue.pop_due(now_us) {
            self.perform(now_us, what, &mut events);
        }
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let due = !slot.stopped
                && slot
                    .process
                    .as_ref()
                    .and_then(SimProcess::next_deadline_us)
                    .is_some_and(|at| at <= now_us);
            if due {
                self.take_turn(slot.node, now_us);
            }
        }
        events
    }

    fn perform(&mut self, now_us: u64, what: What, events: &mut Vec<Event>) {
        match what {
            What::Connect { node, pid } => {
                self.next_conn += 1;
                let conn = self.next_conn;
                let slot = self.slot(node);
                let Some(process) = slot.process.as_mut().filter(|p| p.pid == pid) else { return };
                let (tx, rx) = mpsc::channel(NODE_QUEUE_FRAMES);
                process.link = Some(rx);
                slot.conn = Some(conn);
                events.push(Event::Connected { node, conn, tx });
            }
            What::Frame { node, env } => events.push(Event::Frame { node, env }),
            What::Exit { node, pid, conn, status } => {
                if let Some(conn) = conn {
                    events.push(Event::Disconnected { node, conn });
                }
                events.push(Event::Exited { node, pid, status });
            }
            What::Wake { node, pid } => {
                let slot = self.slot(node);
                if slot.process.as_ref().is_some_and(|p| p.pid == pid) {
                    slot.wake_queued = false;
                    if !slot.stopped {
                        self.take_turn(node, now_us);
                    }
                }
            }
        }
    }

    /// `node`'s process takes a turn at `now_us`, unless its sync is still under way: then
    /// it is woken when the sync ends. Late frames whose sync is over leave first.
    fn take_turn(&mut self, node: NodeId, now_us: u64) {
        let sync_us = self.timing.sync_us(&mut self.rng);
        let slot = self.slot(node);
        let Some(process) = slot.process.as_mut() else { return };
        if process.busy_until_us > now_us {
            if !slot.wake_queued {
                slot.wake_queued = true;
                let (pid, at) = (process.pid, process.busy_until_us);
                self.push(at, What::Wake { node, pid });
            }
            return;
        }
        let late = std::mem::take(&mut process.late);
        let out = process.turn(now_us, sync_us);
        let pid = process.pid;
        for env in late.into_iter().chain(out.early) {
            self.send(node, now_us, env);
        }
        if let Some(status) = out.exit {
            self.end_process(node, pid, status);
        }
    }

    /// A frame from `node` to the controller, arriving after a hop, after the frames before it.
    fn send(&mut self, node: NodeId, now_us: u64, env: Envelope) {
        let hop = self.timing.hop_us(&mut self.rng);
        let slot = self.slot(node);
        let at = (now_us + hop).max(slot.last_frame_us);
        slot.last_frame_us = at;
        self.push(at, What::Frame { node, env });
    }
}

#[cfg(test)]
mod tests;
