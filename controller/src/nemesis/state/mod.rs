//! The nemesis at run time, as a state machine: what the run has yet to do of its schedule,
//! which faults are in force, the crash point armed and its victim, the restarts waiting for
//! a process to be reaped, how often each fault kind was started.
//!
//! Why apart from the run loop: the nemesis's decisions (which targets an action really
//! acts on, when a crash point fires, what a heal resumes and restarts) are the subtle part
//! of a run, and here they can be tested in-process, a schedule in and effects out, without
//! processes or sockets. It is sans-IO like the workload and the Paxos core: its methods
//! take the time, the event and the processes' states (`procs`, read by the run loop from
//! the cluster), and return [`Effect`]s as values, in the order the run loop must carry them
//! out (signals, starts, the net's faults, the history). A method that needs the processes'
//! states after some effects took place is a separate step (a heal is `heal_net`, then the
//! deliveries that released, then `heal_nodes`).

mod heal;
mod messages;
#[cfg(test)]
mod tests;

pub use messages::{Message, Routing};

use super::{Action, FaultKind, Schedule, Timed, Trigger};
use crate::cluster::ProcState;
use crate::net::faults::{Delay, Faults, Reorder};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use synod_checker::history::Nemesis as Event;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;

/// Mixed into the run's seed for the nemesis's own choices at run time ("crash!").
const RNG_SEED: u64 = 0x6372_6173_6870_7421;

/// What the run loop must do for the nemesis, in order.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Record this `nemesis` event.
    Record(Event<'static>),
    /// The net's faults are these from now on.
    SetFaults(Faults),
    /// SIGKILL these nodes.
    Kill(Vec<NodeId>),
    /// SIGSTOP these nodes.
    Stop(Vec<NodeId>),
    /// SIGCONT these nodes.
    Cont(Vec<NodeId>),
    /// Start this node (it is down) again.
    Start(NodeId),
    /// Cut these nodes' power (`torn`: keep a torn prefix of the last unsynced write).
    CutPower { nodes: Vec<NodeId>, torn: bool },
    /// Hold every message to these nodes.
    Hold(Vec<NodeId>),
    /// Deliver what was held for these nodes, and stop holding.
    Release(Vec<NodeId>),
    /// Deliver every delayed and held message now.
    FlushNet,
    /// Heal everything: `heal_net`, the deliveries, then `heal_nodes` (a `heal-all` action).
    HealAll,
}

/// A crash point in force.
#[derive(Debug, Clone, PartialEq)]
struct CrashPoint {
    msg: String,
    p: f64,
    down_ms: f64,
}

pub struct Nemesis {
    nodes: u32,
    /// Actions still to come, timed from the workload's start.
    schedule: VecDeque<Timed>,
    /// Actions waiting for a message, with how many matching messages were seen.
    triggers: Vec<(Trigger, u32)>,
    /// Actions to take when the message with this id is delivered.
    on_delivery: HashMap<u64, Action>,
    /// When the workload started (history clock): the schedule's zero.
    start_us: u64,
    /// Nodes to start again as soon as the exit of their killed process is seen.
    restart_pending: BTreeSet<NodeId>,
    /// The final phase began: the schedule is over.
    final_started: bool,
    /// How many times each fault kind was started.
    exercised: BTreeMap<FaultKind, u64>,
    crash_point: Option<CrashPoint>,
    /// The node a crash point killed, until its restart: what it still sent is discarded.
    crash_victim: Option<NodeId>,
    /// The nemesis's own random choices at run time (crash points).
    rng: Rng,
    /// The net's faults in force.
    faults: Faults,
}

impl Nemesis {
    pub fn new(nodes: u32, schedule: Schedule, seed: u64) -> Nemesis {
        Nemesis {
            nodes,
            schedule: schedule.timed.into(),
            triggers: schedule.triggers.into_iter().map(|t| (t, 0)).collect(),
            on_delivery: HashMap::new(),
            start_us: 0,
            restart_pending: BTreeSet::new(),
            final_started: false,
            exercised: BTreeMap::new(),
            crash_point: None,
            crash_victim: None,
            rng: Rng::new(seed ^ RNG_SEED),
            faults: Faults::default(),
        }
    }

    /// The workload starts at `now_us`: the schedule's times count from here.
    pub fn start(&mut self, now_us: u64) {
        self.start_us = now_us;
    }

    /// When the next scheduled action is due (history clock); none once the final phase began.
    pub fn next_action_us(&self) -> Option<u64> {
        let next = self.schedule.front().filter(|_| !self.final_started);
        next.map(|a| a.at_us + self.start_us)
    }

    /// The next scheduled action due at `now_us`, taken off the schedule.
    pub fn poll_due(&mut self, now_us: u64) -> Option<Action> {
        let elapsed_us = now_us.saturating_sub(self.start_us);
        let due = self.schedule.front().is_some_and(|a| a.at_us <= elapsed_us) && !self.final_started;
        due.then(|| self.schedule.pop_front().expect("peeked").action)
    }

    /// Applies `action` at `now_us`: recorded first, with the targets it really acts on
    /// given the processes' states (the schedule's own targets too, when they differ), then
    /// its effects.
    pub fn apply(&mut self, now_us: u64, action: Action, procs: impl Fn(NodeId) -> ProcState) -> Vec<Effect> {
        // The nodes the schedule named, before the state filters them.
        let scheduled = match &action {
            Action::Kill { nodes }
            | Action::Restart { nodes }
            | Action::Stop { nodes }
            | Action::Cont { nodes } => Some(nodes.clone()),
            _ => None,
        };
        let action = self.resolve(action, &procs);
        if let Some(kind) = FaultKind::started_by(&action) {
            *self.exercised.entry(kind).or_default() += 1;
        }
        // A node the state left out is still in the record, as a target: a replay asks for
        // what the schedule asked for, whatever the processes' timing makes of it.
        let mut effects = vec![Effect::Record(action.to_event(now_us, scheduled.as_deref()))];
        self.take_effect(action, &procs, &mut effects);
        effects
    }

    /// What `action` really does, given the processes' states now.
    fn resolve(&self, action: Action, procs: &impl Fn(NodeId) -> ProcState) -> Action {
        let in_state = |nodes: &[NodeId], states: &[ProcState]| -> Vec<NodeId> {
            nodes.iter().copied().filter(|&n| states.contains(&procs(n))).collect()
        };
        let alive = [ProcState::Running, ProcState::Stopped];
        match action {
            Action::Kill { nodes } => Action::Kill { nodes: in_state(&nodes, &alive) },
            Action::KillAll { .. } => Action::KillAll { nodes: in_state(&self.all(), &alive) },
            Action::Restart { nodes } => {
                Action::Restart { nodes: in_state(&nodes, &[ProcState::Down, ProcState::Dying]) }
            }
            Action::PowerLossAll { torn, .. } => Action::PowerLossAll { nodes: self.all(), torn },
            Action::Stop { nodes } => Action::Stop { nodes: in_state(&nodes, &[ProcState::Running]) },
            Action::Cont { nodes } => Action::Cont { nodes: in_state(&nodes, &[ProcState::Stopped]) },
            other => other,
        }
    }

    /// The effects of a resolved action, after its record.
    fn take_effect(&mut self, action: Action, procs: &impl Fn(NodeId) -> ProcState, fx: &mut Vec<Effect>) {
        match action {
            net @ (Action::Loss { .. }
            | Action::LossOff
            | Action::Delay { .. }
            | Action::DelayOff
            | Action::Duplicate { .. }
            | Action::DuplicateOff
            | Action::Reorder { .. }
            | Action::ReorderOff
            | Action::Partition { .. }
            | Action::Heal) => {
                self.set_faults(&net);
                fx.push(Effect::SetFaults(self.faults.clone()));
            }
            Action::Kill { nodes } | Action::KillAll { nodes } => fx.push(Effect::Kill(nodes)),
            // Every listed node loses its unsynced writes, a node already down too.
            Action::PowerLoss { nodes, torn } | Action::PowerLossAll { nodes, torn } => {
                fx.push(Effect::CutPower { nodes, torn })
            }
            Action::Stop { nodes } => fx.push(Effect::Stop(nodes)),
            Action::Cont { nodes } => fx.push(Effect::Cont(nodes)),
            Action::Restart { nodes } => {
                for node in nodes {
                    if self.crash_victim == Some(node) {
                        self.crash_victim = None;
                    }
                    self.restart(node, procs(node), fx);
                }
            }
            Action::HealAll => fx.push(Effect::HealAll),
            Action::CrashPoint { msg, p, down_ms } => self.crash_point = Some(CrashPoint { msg, p, down_ms }),
            Action::CrashPointOff => self.crash_point = None,
            Action::Hold { nodes } => fx.push(Effect::Hold(nodes)),
            Action::HoldOff { nodes } => fx.push(Effect::Release(nodes)),
            // Only meaningful on a trigger at send, where `on_send` handles it.
            Action::DropMessage => {}
        }
    }

    /// Sets the faults in force for `action`, which is about the net's links.
    fn set_faults(&mut self, action: &Action) {
        let f = &mut self.faults;
        match action {
            Action::Loss { p } => f.loss = *p,
            Action::LossOff => f.loss = 0.0,
            Action::Delay { dist, mean_ms } => f.delay = Delay::from_flags(*dist, *mean_ms),
            Action::DelayOff => f.delay = Delay::None,
            Action::Duplicate { p } => f.duplicate = *p,
            Action::DuplicateOff => f.duplicate = 0.0,
            Action::Reorder { p, max_ms } => f.reorder = Some(Reorder { p: *p, max_ms: *max_ms }),
            Action::ReorderOff => f.reorder = None,
            Action::Partition { components, cut, .. } => {
                f.cut = Action::cut_links(components, cut).into_iter().collect();
            }
            Action::Heal => f.cut.clear(),
            other => unreachable!("{other:?} is not about the net's links"),
        }
    }

    /// Starts `node` again now (it is down), or once the exit of its killed process has
    /// been seen (it is dying).
    fn restart(&mut self, node: NodeId, state: ProcState, fx: &mut Vec<Effect>) {
        match state {
            ProcState::Down => fx.push(Effect::Start(node)),
            ProcState::Dying => {
                self.restart_pending.insert(node);
            }
            ProcState::Running | ProcState::Stopped => {}
        }
    }

    /// `node`'s process has gone (now in `state`): a restart waiting for it happens now.
    pub fn on_exited(&mut self, node: NodeId, state: ProcState) -> Vec<Effect> {
        let mut fx = Vec::new();
        if state == ProcState::Down && self.restart_pending.remove(&node) {
            self.restart(node, state, &mut fx);
        }
        fx
    }

    fn all(&self) -> Vec<NodeId> {
        (1..=self.nodes).collect()
    }

    /// Whether the run began its final phase (what fails from then on is a final error).
    pub fn final_started(&self) -> bool {
        self.final_started
    }

    /// How many times each fault kind was started.
    pub fn exercised(&self) -> &BTreeMap<FaultKind, u64> {
        &self.exercised
    }

    /// The net's faults in force.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}
