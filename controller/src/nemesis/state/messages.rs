//! The nemesis's reactions to messages between nodes: the triggers (an action that waits for
//! the nth matching message, at its sending or its delivery) and the crash point (a node
//! killed right after it sent a message of some type).
//!
//! Apart from the timed schedule because they follow the run's own traffic, one message at
//! a time, where the schedule follows the clock.

use super::{CrashPoint, Effect, Nemesis};
use crate::cluster::ProcState;
use crate::nemesis::{event, Action, FaultKind, MatchPoint, Timed};
use crate::net::faults::uniform;
use synod_node::paxos::NodeId;

/// What becomes of a message sent between nodes, as the triggers say.
#[derive(Debug, Default, PartialEq)]
pub struct Routing {
    /// A `drop-message` trigger fired: the message is lost.
    pub drop: bool,
    /// A trigger waits for its delivery: the net must report it.
    pub watch: bool,
    /// Actions to apply once the message has been sent (or dropped).
    pub after_send: Vec<Action>,
}

/// A message between nodes, as the triggers match it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The id the net gives it.
    pub id: u64,
    pub src: NodeId,
    pub dest: NodeId,
    /// Its body's type (`prepare`, `accept`, ...).
    pub kind: &'a str,
    pub instance: Option<u64>,
}

impl Nemesis {
    /// Message `msg` is being sent: each trigger it is the nth match of fires. A
    /// `drop-message` at send loses it; other actions follow its sending or, once it is
    /// delivered, its delivery ([`Nemesis::on_delivered`]).
    pub fn on_send(&mut self, msg: &Message<'_>) -> Routing {
        let mut routing = Routing::default();
        for (trigger, seen) in &mut self.triggers {
            if !trigger.on.matches(msg.src, msg.dest, msg.kind, msg.instance) || *seen >= trigger.on.nth {
                continue;
            }
            *seen += 1;
            if *seen < trigger.on.nth {
                continue;
            }
            match (trigger.on.at, &trigger.action) {
                (MatchPoint::Send, Action::DropMessage) => routing.drop = true,
                (MatchPoint::Send, action) => routing.after_send.push(action.clone()),
                (MatchPoint::Delivery, action) => {
                    routing.watch = true;
                    self.on_delivery.insert(msg.id, action.clone());
                }
            }
        }
        routing
    }

    /// Message `msg_id`, watched for a trigger, was delivered: the action waiting for it.
    pub fn on_delivered(&mut self, msg_id: u64) -> Option<Action> {
        self.on_delivery.remove(&msg_id)
    }

    /// A crash point: `node` (in `state`) just sent a `body_type` message at `now_us`; maybe
    /// it dies right now (one victim at a time), and comes back after the crash point's down
    /// time (a restart put on the schedule).
    pub fn on_sent(&mut self, now_us: u64, node: NodeId, body_type: &str, state: ProcState) -> Vec<Effect> {
        let Some(CrashPoint { msg, p, down_ms }) = &self.crash_point else { return Vec::new() };
        if msg != body_type || self.crash_victim.is_some() || state != ProcState::Running {
            return Vec::new();
        }
        if uniform(&mut self.rng) >= *p {
            return Vec::new();
        }
        let event = event::crash_point_kill(now_us, node, msg);
        let down_us = (*down_ms * 1000.0) as u64;
        self.crash_victim = Some(node);
        *self.exercised.entry(FaultKind::CrashPoint).or_default() += 1;
        let at_us = now_us.saturating_sub(self.start_us) + down_us;
        let pos = self.schedule.partition_point(|t| t.at_us <= at_us);
        self.schedule.insert(pos, Timed { at_us, action: Action::Restart { nodes: vec![node] } });
        vec![Effect::Record(event), Effect::Kill(vec![node])]
    }

    /// Whether `node` (in `state`) was killed by a crash point and is not back: what it
    /// still sent is discarded, as if it had died before writing it.
    pub fn is_crash_victim(&self, node: NodeId, state: ProcState) -> bool {
        self.crash_victim == Some(node) && matches!(state, ProcState::Dying | ProcState::Down)
    }
}
