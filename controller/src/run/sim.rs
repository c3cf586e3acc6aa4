//! The run loop's waits in a simulated run (`synod sim`): instead of waiting for sockets,
//! timers and child processes, move the simulated clock to the next thing due and do it.
//!
//! Everything else is the real run loop: the phases call [`Runner::sim_wait`] where a real
//! run waits, and handle the same events. The things due are, in this order at equal times:
//! the net's delayed messages, the simulated world's (frames reaching the controller, node
//! turns, connections, exits), and the run loop's tick, which wakes it every TICK_MS as in a
//! real run. The nemesis's next action is due like a message (`next_due_us`).
//!
//! Interrupts are honoured: the run yields to the runtime now and then, so that a signal
//! handler can count a Ctrl-C.

use super::nodes::Nodes;
use super::phases::{Turns, Wake};
use super::runner::Runner;
use super::shutdown::Shutdown;
use super::{CONNECT_TIMEOUT_S, STARTUP_SETTLE_MS, STOP_GRACE_MS, TICK_MS};
use crate::net::conn::Event;
use crate::sim::SimWorld;
use anyhow::Result;
use nix::sys::signal::Signal;
use synod_node::paxos::NodeId;

/// The run loop yields to the runtime once every this many simulated turns.
const YIELD_EVERY_TURNS: u64 = 4096;

impl Runner<'_> {
    fn world(&mut self) -> &mut SimWorld {
        self.nodes.simulated().expect("a simulated run")
    }

    /// The simulated wait of the workload and final phases: does what is due next (at the
    /// latest, the tick).
    pub(super) async fn sim_wait(&mut self, turns: &mut Turns, shutdown: &Shutdown, interrupts: u32) -> Wake {
        if self.sim_interrupted(shutdown, interrupts).await {
            return Wake::Interrupted;
        }
        let tick_us = turns.next_tick_us;
        let at = self.sim_advance(Some(tick_us), self.next_due_us());
        if at >= tick_us {
            turns.next_tick_us = at + TICK_MS * 1000;
        }
        Wake::Turn
    }

    /// Whether the `interrupts`th interrupt has come; now and then it first yields to the
    /// runtime, so that the signal handler can count one (a simulation never waits).
    async fn sim_interrupted(&mut self, shutdown: &Shutdown, interrupts: u32) -> bool {
        self.sim_turns += 1;
        if self.sim_turns.is_multiple_of(YIELD_EVERY_TURNS) {
            tokio::task::yield_now().await;
        }
        shutdown.count() >= interrupts
    }

    /// Moves the clock to the next thing due (the world's, `run_due_us`: the run loop's
    /// messages and nemesis actions), at `limit_us` at the latest, and does the world's and
    /// the net's part of it. Returns the new time.
    fn sim_advance(&mut self, limit_us: Option<u64>, run_due_us: Option<u64>) -> u64 {
        let now = self.history.now_us();
        self.world().notice(now);
        let due = [run_due_us, self.world().next_event_us(), limit_us].into_iter().flatten().min();
        let Some(at) = due.map(|at| at.max(now)) else { return now };
        self.world().clock().set_us(at);
        if self.net.next_due_us().is_some_and(|due| due <= at) {
            self.net.deliver_due(&self.history);
            self.after_deliveries();
        }
        for ev in self.world().step(at) {
            self.handle(ev);
        }
        at
    }

    /// Start-up, simulated: every node started, then the world run until every node has
    /// connected and STARTUP_SETTLE_MS more have passed (or an interrupt: false). A node that exits in that time, or
    /// one not connected within CONNECT_TIMEOUT_S, aborts the run, as in a real one.
    pub(super) async fn sim_start_up(&mut self, shutdown: &Shutdown) -> Result<bool> {
        for node in 1..=self.cfg.nodes {
            if let Err(e) = self.start_node(node) {
                self.startup_failed = vec![node];
                return Err(e);
            }
        }
        let connect_by = self.history.now_us() + CONNECT_TIMEOUT_S * 1_000_000;
        let mut settled_at = None;
        loop {
            if self.sim_interrupted(shutdown, 1).await {
                self.interrupted = true;
                return Ok(false);
            }
            let limit = settled_at.unwrap_or(connect_by);
            // The nemesis starts with the workload: only messages are due before.
            let at = self.sim_advance(Some(limit), self.net.next_due_us());
            self.history.flush_batch();
            let up = self.nodes.up_nodes();
            let exits: Vec<NodeId> = (1..=self.cfg.nodes).filter(|n| !up.contains(n)).collect();
            if !exits.is_empty() {
                self.startup_failed = exits.clone();
                let names: Vec<String> = exits.iter().map(|n| format!("n{n}")).collect();
                anyhow::bail!(
                    "{} of {} nodes exited during start-up ({})",
                    exits.len(),
                    self.cfg.nodes,
                    names.join(", ")
                );
            }
            if at >= limit {
                if settled_at.is_some() {
                    return Ok(true);
                }
                self.startup_failed = (1..=self.cfg.nodes).filter(|&n| !self.net.is_connected(n)).collect();
                anyhow::bail!("only {} of {} nodes connected", self.net.connected(), self.cfg.nodes);
            }
            if settled_at.is_none() && self.net.connected() == self.cfg.nodes as usize {
                settled_at = Some(at + STARTUP_SETTLE_MS * 1000);
            }
        }
    }

    /// The stop, simulated: SIGCONT and SIGTERM to every node (a clean exit), then the world
    /// run until their exits are seen; SIGKILL for any still up after STOP_GRACE_MS.
    pub(super) fn sim_stop(&mut self) {
        for node in self.nodes.up_nodes() {
            let _ = self.nodes.signal(node, Signal::SIGCONT);
            let _ = self.nodes.signal(node, Signal::SIGTERM);
        }
        self.sim_await_exits();
        for node in self.nodes.up_nodes() {
            let _ = self.nodes.signal(node, Signal::SIGKILL);
        }
        self.sim_await_exits();
        self.power_cut_unfinished();
    }

    /// Runs the world (only: the net is gone) until no node is up or STOP_GRACE_MS passed,
    /// handling what a real stop handles: exits, and frames to the controller.
    fn sim_await_exits(&mut self) {
        let deadline = self.history.now_us() + STOP_GRACE_MS * 1000;
        while !self.nodes.up_nodes().is_empty() {
            let Some(at) = self.world().next_event_us().filter(|&at| at <= deadline) else { break };
            let at = at.max(self.history.now_us());
            self.world().clock().set_us(at);
            for ev in self.world().step(at) {
                self.handle_while_stopping(ev);
            }
            self.history.flush_batch();
        }
    }

    /// What the stop handles of an event: exits, and replies and learns to the controller.
    /// Paxos frames between nodes are ignored: the net is gone, nobody would deliver them,
    /// and no node could act on them any more.
    pub(super) fn handle_while_stopping(&mut self, ev: Event) {
        match ev {
            exit @ Event::Exited { .. } => self.handle(exit),
            Event::Frame { node, env } if env.dest == 0 => self.frame(node, env),
            _ => {}
        }
    }
}

impl Nodes {
    /// A simulated world for a run of `nodes` nodes.
    pub(crate) fn simulated_world(world: SimWorld) -> Nodes {
        Nodes::Simulated(Box::new(world))
    }
}
