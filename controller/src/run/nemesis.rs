//! Applying the nemesis's actions to the net and the node processes, and the final heal.
//!
//! Each action is recorded as a `nemesis` event before it takes effect, with the targets it
//! really acted on (a kill of a node that is already down acts on nobody, and says so in an
//! `error` event). Process starts and exits follow as `process` events.

use super::Runner;
use crate::cluster::ProcState;
use crate::nemesis::{Action, FaultKind, MatchPoint, Timed};
use crate::net::faults::{Delay, Faults, Reorder};
use nix::sys::signal::Signal;
use serde_json::Value;
use synod_checker::history as schema;
use synod_node::paxos::NodeId;
use synod_node::protocol::Envelope;

impl Runner<'_> {
    /// Applies every scheduled action that is due `now_us` (history clock).
    pub(super) fn apply_due(&mut self, now_us: u64) {
        let elapsed_us = now_us.saturating_sub(self.workload_start_us);
        while self.schedule.front().is_some_and(|a| a.at_us <= elapsed_us) {
            let timed = self.schedule.pop_front().expect("peeked");
            self.apply(timed.action);
        }
    }

    fn apply(&mut self, action: Action) {
        let in_state = |r: &Self, nodes: &[NodeId], states: &[ProcState]| -> Vec<NodeId> {
            nodes.iter().copied().filter(|&n| states.contains(&r.cluster.state(n))).collect()
        };
        // The nodes the schedule named, before the state filters them.
        let scheduled = match &action {
            Action::Kill { nodes }
            | Action::Restart { nodes }
            | Action::Stop { nodes }
            | Action::Cont { nodes } => Some(nodes.clone()),
            _ => None,
        };
        // What the action really does, given the processes' states now.
        let action = match action {
            Action::Kill { nodes } => {
                Action::Kill { nodes: in_state(self, &nodes, &[ProcState::Running, ProcState::Stopped]) }
            }
            Action::KillAll { .. } => {
                let all: Vec<NodeId> = (1..=self.cfg.nodes).collect();
                Action::KillAll { nodes: in_state(self, &all, &[ProcState::Running, ProcState::Stopped]) }
            }
            Action::Restart { nodes } => {
                Action::Restart { nodes: in_state(self, &nodes, &[ProcState::Down, ProcState::Dying]) }
            }
            Action::PowerLossAll { torn, .. } => {
                Action::PowerLossAll { nodes: (1..=self.cfg.nodes).collect(), torn }
            }
            Action::Stop { nodes } => Action::Stop { nodes: in_state(self, &nodes, &[ProcState::Running]) },
            Action::Cont { nodes } => Action::Cont { nodes: in_state(self, &nodes, &[ProcState::Stopped]) },
            other => other,
        };
        if let Some(kind) = FaultKind::started_by(&action) {
            *self.exercised.entry(kind).or_default() += 1;
        }
        // A node the state left out is still in the record, as a target: a replay asks for
        // what the schedule asked for, whatever the processes' timing makes of it.
        let event = action.to_event(self.history.now_us(), scheduled.as_deref());
        self.history.record(&schema::Event::Nemesis(event));
        let faults = &mut self.net.faults;
        match action {
            Action::Loss { p } => faults.loss = p,
            Action::LossOff => faults.loss = 0.0,
            Action::Delay { dist, mean_ms } => faults.delay = Delay::from_flags(dist, mean_ms),
            Action::DelayOff => faults.delay = Delay::None,
            Action::Duplicate { p } => faults.duplicate = p,
            Action::DuplicateOff => faults.duplicate = 0.0,
            Action::Reorder { p, max_ms } => faults.reorder = Some(Reorder { p, max_ms }),
            Action::ReorderOff => faults.reorder = None,
            Action::Partition { components, cut, .. } => {
                faults.cut = Action::cut_links(&components, &cut).into_iter().collect();
            }
            Action::Heal => faults.cut.clear(),
            Action::Kill { nodes } | Action::KillAll { nodes } => self.signal_all(&nodes, Signal::SIGKILL),
            // Every listed node loses its unsynced writes, a node already down too.
            Action::PowerLoss { nodes, torn } | Action::PowerLossAll { nodes, torn } => {
                self.cut_power(&nodes, torn)
            }
            Action::Stop { nodes } => self.signal_all(&nodes, Signal::SIGSTOP),
            Action::Cont { nodes } => self.signal_all(&nodes, Signal::SIGCONT),
            Action::Restart { nodes } => {
                for node in nodes {
                    if self.crash_victim == Some(node) {
                        self.crash_victim = None;
                    }
                    self.restart(node);
                }
            }
            Action::HealAll => {
                self.heal_everything();
            }
            Action::CrashPoint { msg, p, down_ms } => self.crash_point = Some((msg, p, down_ms)),
            Action::CrashPointOff => self.crash_point = None,
            Action::Hold { nodes } => self.net.hold(&nodes),
            Action::HoldOff { nodes } => self.net.release(&self.history, &nodes),
            // Only meaningful on a trigger at send, where `route` handles it.
            Action::DropMessage => {}
        }
    }

    /// Routes a peer message through the triggers: a `drop-message` trigger loses it; other
    /// triggered actions follow its sending or, once it is delivered, its delivery.
    pub(super) fn route(&mut self, env: Envelope) {
        let kind = env.body.type_name();
        let instance = env.body.instance();
        let mut drop = false;
        let mut after_send = Vec::new();
        let msg_id = self.net.next_msg_id();
        for (trigger, seen) in &mut self.triggers {
            if !trigger.on.matches(env.src, env.dest, kind, instance) || *seen >= trigger.on.nth {
                continue;
            }
            *seen += 1;
            if *seen < trigger.on.nth {
                continue;
            }
            match (trigger.on.at, &trigger.action) {
                (MatchPoint::Send, Action::DropMessage) => drop = true,
                (MatchPoint::Send, action) => after_send.push(action.clone()),
                (MatchPoint::Delivery, action) => {
                    self.net.watch(msg_id);
                    self.on_delivery.insert(msg_id, action.clone());
                }
            }
        }
        if drop {
            self.net.route_dropped(&self.history, &env, "nemesis");
            let mut event = Action::DropMessage.to_event(self.history.now_us(), None);
            event.params.insert("msg".into(), msg_id.into());
            self.history.record(&schema::Event::Nemesis(event));
        } else {
            self.net.route(&self.history, &env);
            self.maybe_crash(env.src, kind);
        }
        for action in after_send {
            self.apply(action);
        }
        self.after_deliveries();
    }

    /// Takes the actions waiting for messages that have now been delivered.
    pub(super) fn after_deliveries(&mut self) {
        for msg in self.net.take_watched_deliveries() {
            if let Some(action) = self.on_delivery.remove(&msg) {
                self.apply(action);
            }
        }
    }

    /// A crash point: `node` just sent a `body_type` message; maybe it dies right now, and
    /// comes back after the crash point's down time.
    pub(super) fn maybe_crash(&mut self, node: NodeId, body_type: &str) {
        let Some((msg, p, down_ms)) = &self.crash_point else { return };
        if msg != body_type || self.crash_victim.is_some() || self.cluster.state(node) != ProcState::Running {
            return;
        }
        if crate::net::faults::uniform(&mut self.rng) >= *p {
            return;
        }
        let (trigger, down_us) = (msg.clone(), (*down_ms * 1000.0) as u64);
        self.crash_victim = Some(node);
        *self.exercised.entry(FaultKind::CrashPoint).or_default() += 1;
        let now_us = self.history.now_us();
        let mut event = Action::Kill { nodes: vec![node] }.to_event(now_us, None);
        event.params.insert("trigger".into(), trigger.into());
        self.history.record(&schema::Event::Nemesis(event));
        self.signal_all(&[node], Signal::SIGKILL);
        let at_us = now_us.saturating_sub(self.workload_start_us) + down_us;
        let pos = self.schedule.partition_point(|t| t.at_us <= at_us);
        self.schedule.insert(pos, Timed { at_us, action: Action::Restart { nodes: vec![node] } });
    }

    fn signal_all(&mut self, nodes: &[NodeId], signal: Signal) {
        for &node in nodes {
            if let Err(e) = self.cluster.signal(node, signal) {
                self.nemesis_error(format!("{e:#}"));
            }
        }
    }

    /// Starts `node` again now, or once the exit of its killed process has been seen.
    pub(super) fn restart(&mut self, node: NodeId) {
        match self.cluster.state(node) {
            ProcState::Down => {
                if let Err(e) = self.start_node(node) {
                    self.nemesis_error(format!("cannot restart n{node}: {e:#}"));
                }
            }
            ProcState::Dying => {
                self.restart_pending.insert(node);
            }
            ProcState::Running | ProcState::Stopped => {}
        }
    }

    pub(super) fn nemesis_error(&mut self, error: String) {
        tracing::warn!("nemesis: {error}");
        self.record_error(None, &format!("nemesis: {error}"));
        if self.final_started {
            self.final_errors.push(error);
        }
    }

    /// Every link healed and held message delivered; every paused node resumed, every dead
    /// one restarted. Returns (resumed, restarted).
    fn heal_everything(&mut self) -> (Vec<NodeId>, Vec<NodeId>) {
        self.net.faults = Faults::default();
        self.net.flush_delayed(&self.history);
        self.net.release_all(&self.history);
        self.after_deliveries();
        self.crash_point = None;
        self.crash_victim = None;
        let (stopped, down) = self.targets_to_heal();
        self.signal_all(&stopped, Signal::SIGCONT);
        for &node in &down {
            self.restart(node);
        }
        (stopped, down)
    }

    /// The nodes paused now, and those down or dying.
    fn targets_to_heal(&self) -> (Vec<NodeId>, Vec<NodeId>) {
        let all = 1..=self.cfg.nodes;
        let stopped = all.clone().filter(|&n| self.cluster.state(n) == ProcState::Stopped).collect();
        let down =
            all.filter(|&n| matches!(self.cluster.state(n), ProcState::Down | ProcState::Dying)).collect();
        (stopped, down)
    }

    /// The final phase begins: everything healed, resumed and restarted, recorded as a
    /// `heal-all` with `"final": true` (which a replay leaves out: it has its own).
    pub(super) fn heal_all(&mut self) {
        self.final_started = true;
        self.schedule.clear();
        let (stopped, down) = self.targets_to_heal();
        let mut event = Action::HealAll.to_event(self.history.now_us(), None);
        let ids = |nodes: Vec<NodeId>| Value::from(nodes.into_iter().map(u64::from).collect::<Vec<_>>());
        event.params.insert("final".into(), true.into());
        event.params.insert("resumed".into(), ids(stopped));
        event.params.insert("restarted".into(), ids(down));
        self.history.record(&schema::Event::Nemesis(event));
        self.heal_everything();
    }

    /// At the end of the final phase every node should be running: report those that are not
    /// (a restart that failed, a node that crashed on its own).
    pub(super) fn check_final_state(&mut self) {
        for node in 1..=self.cfg.nodes {
            let state = self.cluster.state(node);
            if state != ProcState::Running {
                let state = format!("{state:?}").to_lowercase();
                let what =
                    format!("n{node} is {state} at the end of the final phase (see its process events)");
                self.record_error(Some(node), &what);
                self.final_errors.push(what);
            }
        }
    }

    /// What is in force now, for the progress line.
    pub(super) fn active_faults(&self) -> String {
        let f = &self.net.faults;
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
        if let Some((msg, _, _)) = &self.crash_point {
            parts.push(format!("crash after {msg}"));
        }
        for node in 1..=self.cfg.nodes {
            match self.cluster.state(node) {
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
