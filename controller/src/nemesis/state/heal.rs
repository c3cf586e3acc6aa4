//! Healing (a `heal-all` action, and the start of the final phase) and what is in force.
//!
//! A heal is two steps because delivering what the net held or delayed may fire triggers
//! whose actions change the processes (a kill on delivery, say): the net is healed first,
//! the run loop delivers, and only then are the nodes that are paused or down, as they are
//! then, resumed and restarted.

use super::{Effect, Nemesis};
use crate::cluster::ProcState;
use crate::net::faults::{Delay, Faults};
use synod_node::paxos::NodeId;

impl Nemesis {
    /// The final phase begins: no scheduled action is taken any more.
    pub fn begin_final(&mut self) {
        self.final_started = true;
        self.schedule.clear();
    }

    /// The first step of a heal: no fault on any link, every delayed and held message
    /// delivered.
    pub fn heal_net(&mut self) -> Vec<Effect> {
        self.faults = Faults::default();
        vec![Effect::SetFaults(self.faults.clone()), Effect::FlushNet]
    }

    /// The second step of a heal: no crash point; every paused node resumed, every dead one
    /// restarted (at once, or once its exit is seen).
    pub fn heal_nodes(&mut self, procs: impl Fn(NodeId) -> ProcState) -> Vec<Effect> {
        self.crash_point = None;
        self.crash_victim = None;
        let (stopped, down) = self.to_heal(&procs);
        let mut fx = vec![Effect::Cont(stopped)];
        for node in down {
            self.restart(node, procs(node), &mut fx);
        }
        fx
    }

    /// The nodes paused now, and those down or dying.
    pub fn to_heal(&self, procs: impl Fn(NodeId) -> ProcState) -> (Vec<NodeId>, Vec<NodeId>) {
        let stopped = self.all().into_iter().filter(|&n| procs(n) == ProcState::Stopped).collect();
        let down = self.all().into_iter().filter(|&n| matches!(procs(n), ProcState::Down | ProcState::Dying));
        (stopped, down.collect())
    }

    /// What is in force now, for the progress line: the net's faults, the crash point, the
    /// nodes down or paused; `calm` if nothing.
    pub fn in_force(&self, procs: impl Fn(NodeId) -> ProcState) -> String {
        let f = &self.faults;
        let mut parts = Vec::new();
        if f.loss > 0.0 {
            parts.push(format!("loss {:.2}", f.loss));
        }
        if f.delay != Delay::None {
            parts.push("delay".to_string());
        }
        if f.duplicate > 0.0 {
            parts.push("duplicate".to_string());
        }
        if f.reorder.is_some() {
            parts.push("reorder".to_string());
        }
        if !f.cut.is_empty() {
            parts.push("partition".to_string());
        }
        if let Some(crash_point) = &self.crash_point {
            parts.push(format!("crash after {}", crash_point.msg));
        }
        for node in self.all() {
            match procs(node) {
                ProcState::Down | ProcState::Dying => parts.push(format!("n{node} down")),
                ProcState::Stopped => parts.push(format!("n{node} paused")),
                ProcState::Running => {}
            }
        }
        if parts.is_empty() {
            "calm".into()
        } else {
            parts.join(", ")
        }
    }
}
