//! Carrying out the nemesis's effects on the net, the node processes and the history, and
//! the final heal.
//!
//! The decisions are the nemesis state machine's (`nemesis::state`): the run loop hands it
//! the time, the event and the processes' states, and performs the effects it returns, in
//! order, at once (a later step may read the processes those effects changed). Each action
//! is recorded as a `nemesis` event before it takes effect, with the targets it really acted
//! on (a kill of a node that is already down acts on nobody, and says so in an `error`
//! event). Process starts and exits follow as `process` events.

use super::Runner;
use crate::cluster::ProcState;
use crate::nemesis::event;
use crate::nemesis::state::{Effect, Message};
use crate::nemesis::Action;
use nix::sys::signal::Signal;
use synod_checker::history as schema;
use synod_node::paxos::NodeId;
use synod_node::protocol::Envelope;

impl Runner<'_> {
    /// Applies every scheduled action that is due `now_us` (history clock).
    pub(super) fn apply_due(&mut self, now_us: u64) {
        while let Some(action) = self.nemesis.poll_due(now_us) {
            self.apply(action);
        }
    }

    fn apply(&mut self, action: Action) {
        let nodes = &self.nodes;
        let effects = self.nemesis.apply(self.history.now_us(), action, |n| nodes.state(n));
        self.perform(effects);
    }

    /// Carries out the nemesis's effects, in order.
    fn perform(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Record(event) => self.history.record(&schema::Event::Nemesis(event)),
                Effect::SetFaults(faults) => self.net.faults = faults,
                Effect::Kill(nodes) => self.signal_all(&nodes, Signal::SIGKILL),
                Effect::Stop(nodes) => self.signal_all(&nodes, Signal::SIGSTOP),
                Effect::Cont(nodes) => self.signal_all(&nodes, Signal::SIGCONT),
                Effect::Start(node) => {
                    if let Err(e) = self.start_node(node) {
                        self.nemesis_error(format!("cannot restart n{node}: {e:#}"));
                    }
                }
                Effect::CutPower { nodes, torn } => self.cut_power(&nodes, torn),
                Effect::Hold(nodes) => self.net.hold(&nodes),
                Effect::Release(nodes) => self.net.release(&self.history, &nodes),
                Effect::FlushNet => {
                    self.net.flush_delayed(&self.history);
                    self.net.release_all(&self.history);
                }
                Effect::HealAll => self.heal_everything(),
            }
        }
    }

    /// Routes a peer message through the triggers: a `drop-message` trigger loses it; other
    /// triggered actions follow its sending or, once it is delivered, its delivery.
    pub(super) fn route(&mut self, env: Envelope) {
        let kind = env.body.type_name();
        let msg_id = self.net.next_msg_id();
        let msg = Message { id: msg_id, src: env.src, dest: env.dest, kind, instance: env.body.instance() };
        let routing = self.nemesis.on_send(&msg);
        if routing.watch {
            self.net.watch(msg_id);
        }
        if routing.drop {
            self.net.route_dropped(&self.history, &env, "nemesis");
            let event = event::dropped_message(self.history.now_us(), msg_id);
            self.history.record(&schema::Event::Nemesis(event));
        } else {
            let src = env.src;
            self.net.route(&self.history, env);
            let state = self.nodes.state(src);
            let effects = self.nemesis.on_sent(self.history.now_us(), src, kind, state);
            self.perform(effects);
        }
        for action in routing.after_send {
            self.apply(action);
        }
        self.after_deliveries();
    }

    /// Takes the actions waiting for messages that have now been delivered.
    pub(super) fn after_deliveries(&mut self) {
        for msg in self.net.take_watched_deliveries() {
            if let Some(action) = self.nemesis.on_delivered(msg) {
                self.apply(action);
            }
        }
    }

    /// `node`'s process has gone: a restart waiting for it happens now.
    pub(super) fn restart_if_pending(&mut self, node: NodeId) {
        let effects = self.nemesis.on_exited(node, self.nodes.state(node));
        self.perform(effects);
    }

    fn signal_all(&mut self, nodes: &[NodeId], signal: Signal) {
        for &node in nodes {
            if let Err(e) = self.nodes.signal(node, signal) {
                self.nemesis_error(format!("{e:#}"));
            }
        }
    }

    pub(super) fn nemesis_error(&mut self, error: String) {
        tracing::warn!("nemesis: {error}");
        self.record_error(None, &format!("nemesis: {error}"));
        if self.nemesis.final_started() {
            self.final_errors.push(error);
        }
    }

    /// Every link healed and held message delivered; every paused node resumed, every dead
    /// one restarted.
    fn heal_everything(&mut self) {
        let effects = self.nemesis.heal_net();
        self.perform(effects);
        self.after_deliveries();
        let nodes = &self.nodes;
        let effects = self.nemesis.heal_nodes(|n| nodes.state(n));
        self.perform(effects);
    }

    /// The final phase begins: everything healed, resumed and restarted, recorded as a
    /// `heal-all` with `"final": true` (which a replay leaves out: it has its own).
    pub(super) fn heal_all(&mut self) {
        self.nemesis.begin_final();
        let nodes = &self.nodes;
        let (stopped, down) = self.nemesis.to_heal(|n| nodes.state(n));
        let event = event::final_heal_all(self.history.now_us(), &stopped, &down);
        self.history.record(&schema::Event::Nemesis(event));
        self.heal_everything();
    }

    /// At the end of the final phase every node should be running: report those that are not
    /// (a restart that failed, a node that crashed on its own).
    pub(super) fn check_final_state(&mut self) {
        for node in 1..=self.cfg.nodes {
            let state = self.nodes.state(node);
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
        self.nemesis.in_force(|n| self.nodes.state(n))
    }
}
