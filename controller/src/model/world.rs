//! The search's world: every node state, message, net and ghost met so far, interned, and
//! each transition of a node computed once.
//!
//! Why: a global state is a combination of node states that recur in many combinations
//! (a node's state changes only when it handles something), and a node in a given state
//! handling a given input always does the same thing, since the core is deterministic. So
//! the real core runs once per distinct (node state, input), on a clone of the node's
//! state, and its outcome (the next node state, the messages sent, what the invariants are
//! told) is remembered. A global state is then a [`Packed`] of a few numbers; a successor
//! costs a few table lookups, not a clone of every node.
//!
//! A node state's identity is the canonical encoding of its core (`Node::fingerprint`, fed
//! into [`Bytes`]) and its records, so two states with the same encoding are one. Its
//! `view` leaves the records out: once the crash budget is spent, nothing reads them, and
//! states that differ only there are merged (as the reference search's fingerprint does).
//!
//! Its `class` names the records by what they rebuild instead: the core a restart from them
//! would have, with the writes a power cut would lose (lazy, unfsynced) as they are. Only a
//! restart reads the records, and it folds them into a core record by record (a promise
//! raises the promised ballot, an accept overwrites the accepted value, ...), so two lists
//! that rebuild the same core rebuild the same one after any further appends too. With
//! [`World::new`]'s `by_class`, states of one class are one state: an acceptor that promised
//! ballot 1 then 2 and one that promised 2 directly are alike. The model's tests hold the
//! searches with and without this to the same combinations of classes.

use super::intern::{Bytes, Interner};
use super::invariants::{Ghost, Violation};
use super::proposals::Proposals;
use super::renamings::Symmetry;
use super::spec::Spec;
pub use super::spec::MAX_NODES;
use super::state::{Envelope, NodeState};
use super::step::{crash, persist};
use std::hash::Hash;
use synod_node::paxos::hash::FastMap;
use synod_node::paxos::{InstanceId, Node, NodeId, Output};

/// Client proposals a packed state tracks at most (proposers times instances): two bits each.
pub const MAX_PROPOSALS: usize = 32;

/// A global state: each node's state, the net, the ghost (all by number), the client
/// proposals made (a bit each) and the crashes spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Packed {
    pub locals: [u32; MAX_NODES],
    pub net: u32,
    pub ghost: u32,
    pub proposed: Proposals,
    pub crashes: u32,
}

/// One transition of the search (the reference search's [`super::Action`], with messages
/// named by their number rather than their place in the net).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Propose { node: NodeId, instance: InstanceId },
    Timeout { node: NodeId },
    Crash { node: NodeId },
    Deliver { msg: u32 },
}

/// What a node handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Input {
    /// The `k`th ask (from 0) in this instance.
    Propose(InstanceId, u8),
    Timeout,
    Crash,
    Deliver(u32),
}

/// What the invariants are told of one node step, in the order the core produced it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum GhostEvent {
    Send { from: NodeId, msg: u32 },
    Decision { node: NodeId, instance: InstanceId, value: String, ok: bool },
}

/// The outcome of one node handling one input.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalStep {
    pub next: u32,
    /// The list of messages sent (0: none).
    pub sends: u32,
    /// The list of ghost events (0: none).
    pub events: u32,
}

pub(super) struct Local {
    pub(super) state: NodeState,
    view: u32,
    class: u32,
    has_timeout: bool,
}

/// One node's states and transitions.
#[derive(Default)]
pub(super) struct NodeTable {
    /// States of one class are one state (see the module docs).
    by_class: bool,
    pub(super) locals: Vec<Local>,
    by_encoding: FastMap<Box<[u8]>, u32>,
    views: Interner<Box<[u8]>>,
    classes: Interner<Box<[u8]>>,
    steps: FastMap<(u32, Input), LocalStep>,
}

/// No message removed from the net.
const NONE: u32 = u32::MAX;

pub struct World<'s> {
    pub(super) spec: &'s Spec,
    pub(super) nodes: Vec<NodeTable>,
    pub msgs: Interner<Envelope>,
    /// Lists of message numbers (a step's sends); number 0 is the empty list.
    pub(super) sends: Interner<Box<[u32]>>,
    /// Lists of ghost events; number 0 is the empty list.
    pub(super) events: Interner<Box<[GhostEvent]>>,
    /// Nets: sorted message numbers, a set with duplication and a multiset without.
    pub(super) nets: Interner<Box<[u32]>>,
    pub(super) ghosts: Interner<Ghost>,
    /// The renamings of interchangeable nodes, once [`World::use_symmetry`] turned them on.
    pub(super) symmetry: Option<Symmetry>,
    ghost_steps: FastMap<(u32, Proposals, u32), Result<u32, Violation>>,
    net_steps: FastMap<(u32, u32, u32), u32>,
}

impl<'s> World<'s> {
    /// The world of `spec` and its initial state; with `by_class`, node states whose records
    /// rebuild the same core are one (see the module docs).
    pub fn new(spec: &'s Spec, by_class: bool) -> (World<'s>, Packed) {
        assert!(spec.nodes as usize <= MAX_NODES, "at most {MAX_NODES} nodes");
        assert!(spec.proposals() <= MAX_PROPOSALS, "at most {MAX_PROPOSALS} proposals");
        let mut world = World {
            spec,
            nodes: (0..spec.nodes).map(|_| NodeTable { by_class, ..NodeTable::default() }).collect(),
            msgs: Interner::default(),
            sends: Interner::default(),
            events: Interner::default(),
            nets: Interner::default(),
            ghosts: Interner::default(),
            ghost_steps: FastMap::default(),
            net_steps: FastMap::default(),
            symmetry: None,
        };
        world.sends.intern(Box::new([]));
        world.events.intern(Box::new([]));
        let mut locals = [0; MAX_NODES];
        for node in spec.node_ids() {
            let state = NodeState {
                core: Node::new(spec.config(node), &[]),
                clock_us: 0,
                records: Vec::new(),
                unsynced: Vec::new(),
                lazy: Vec::new(),
            };
            locals[node as usize - 1] = world.nodes[node as usize - 1].intern(state);
        }
        let net = world.nets.intern(Box::new([]));
        let ghost = world.ghosts.intern(Ghost::default());
        (world, Packed { locals, net, ghost, proposed: Proposals::default(), crashes: 0 })
    }

    /// Turns on the renamings of interchangeable nodes (`super::symmetry`) where the spec
    /// has any; returns how many there are (1: none, the identity).
    pub fn use_symmetry(&mut self) -> usize {
        self.symmetry = Symmetry::of(self.spec);
        self.symmetry.as_ref().map_or(1, Symmetry::size)
    }

    /// What identifies `state` in the visited set: with crashes left, every node's whole
    /// state; with none, the nodes' views (their records no longer matter).
    pub fn key(&self, state: &Packed) -> Packed {
        if state.crashes < self.spec.crashes {
            return *state;
        }
        let mut key = *state;
        for (i, table) in self.nodes.iter().enumerate() {
            key.locals[i] = table.locals[state.locals[i] as usize].view;
        }
        key
    }

    /// Every move enabled in `state`, in a fixed order.
    pub fn moves(&self, state: &Packed, out: &mut Vec<Move>) {
        out.clear();
        let spec = self.spec;
        for node in spec.proposer_ids() {
            for instance in 1..=spec.instances {
                if state.proposed.may_ask(spec, node, instance, state.crashes) {
                    out.push(Move::Propose { node, instance });
                }
            }
        }
        for (i, table) in self.nodes.iter().enumerate() {
            if table.locals[state.locals[i] as usize].has_timeout {
                out.push(Move::Timeout { node: i as NodeId + 1 });
            }
        }
        if state.crashes < spec.crashes {
            out.extend(spec.node_ids().into_iter().map(|node| Move::Crash { node }));
        }
        out.extend(self.nets.get(state.net).iter().map(|&msg| Move::Deliver { msg }));
    }

    /// The state `mv` leads to from `state`, or the rule it broke.
    pub fn step(&mut self, state: &Packed, mv: Move) -> Result<Packed, Violation> {
        let mut next = *state;
        let (node, input) = match mv {
            Move::Propose { node, instance } => {
                let k = next.proposed.ask(self.spec, node, instance);
                (node, Input::Propose(instance, k))
            }
            Move::Timeout { node } => (node, Input::Timeout),
            Move::Crash { node } => {
                next.crashes += 1;
                (node, Input::Crash)
            }
            Move::Deliver { msg } => (self.msgs.get(msg).to, Input::Deliver(msg)),
        };
        let i = node as usize - 1;
        let step = self.local_step(node, state.locals[i], input);
        next.locals[i] = step.next;
        if step.events != 0 {
            next.ghost = self.ghost_step(state.ghost, next.proposed, step.events)?;
        }
        let removed = match input {
            Input::Deliver(msg) if !self.spec.duplicate => msg,
            _ => NONE,
        };
        if removed != NONE || step.sends != 0 {
            next.net = self.net_step(state.net, removed, step.sends);
        }
        Ok(next)
    }

    /// Whether `mv` leads from `state` to another state (or breaks a rule): what
    /// [`World::step`] would tell, without making the next net, which a walk would otherwise
    /// make for every move it does not take.
    pub fn changes(&mut self, state: &Packed, mv: Move) -> bool {
        let (node, input) = match mv {
            // An ask and a crash are counted in the state.
            Move::Propose { .. } | Move::Crash { .. } => return true,
            // Without duplication a delivery consumes its copy.
            Move::Deliver { .. } if !self.spec.duplicate => return true,
            Move::Timeout { node } => (node, Input::Timeout),
            Move::Deliver { msg } => (self.msgs.get(msg).to, Input::Deliver(msg)),
        };
        let local = state.locals[node as usize - 1];
        let step = self.local_step(node, local, input);
        if step.next != local {
            return true;
        }
        let net = self.nets.get(state.net);
        if self.sends.get(step.sends).iter().any(|m| net.binary_search(m).is_err()) {
            return true;
        }
        step.events != 0 && self.ghost_step(state.ghost, state.proposed, step.events) != Ok(state.ghost)
    }

    /// Node `node` in state `local` handling `input`: remembered, or run on the core.
    pub(super) fn local_step(&mut self, node: NodeId, local: u32, input: Input) -> LocalStep {
        let i = node as usize - 1;
        if let Some(&step) = self.nodes[i].steps.get(&(local, input)) {
            return step;
        }
        let spec = self.spec;
        let mut n = self.nodes[i].locals[local as usize].state.clone();
        match input {
            Input::Propose(instance, k) => {
                let (op, value) = (spec.op(node, instance, k), Spec::value(node, instance, k));
                n.core.handle_propose(n.clock_us, op, instance, value);
            }
            Input::Timeout => {
                let due = n.core.next_timeout_us().expect("a timeout move on a node with a timeout");
                n.clock_us = n.clock_us.max(due);
                n.core.handle_timeout(n.clock_us);
            }
            Input::Crash => crash(&mut n),
            Input::Deliver(msg) => {
                let env = self.msgs.get(msg);
                n.core.handle_message(n.clock_us, env.from, env.msg.clone());
            }
        }
        let (mut sends, mut events) = (Vec::new(), Vec::new());
        while let Some(output) = n.core.poll_output() {
            match output {
                Output::Persist(record) => persist(spec, &mut n, record),
                Output::PersistLazy(record) => n.lazy.push(record),
                Output::Send { to, msg } => {
                    let msg = self.msgs.intern(Envelope { to, from: node, msg });
                    sends.push(msg);
                    if Ghost::reads(&self.msgs.get(msg).msg) {
                        events.push(GhostEvent::Send { from: node, msg });
                    }
                }
                Output::Learned { instance, value } => {
                    events.push(GhostEvent::Decision { node, instance, value, ok: false });
                }
                Output::ProposeDone { instance, result: Ok(value), .. } => {
                    events.push(GhostEvent::Decision { node, instance, value, ok: true });
                }
                // A failed proposal tells the invariants nothing; decisions are never
                // retired under the model's tuning, so nothing is archived or looked up.
                Output::ProposeDone { .. } | Output::Archive { .. } | Output::Lookup { .. } => {}
            }
        }
        let step = LocalStep {
            next: self.nodes[i].intern(n),
            sends: self.sends.intern(sends.into_boxed_slice()),
            events: self.events.intern(events.into_boxed_slice()),
        };
        self.nodes[i].steps.insert((local, input), step);
        if self.symmetry.is_some() {
            self.check_renamed_step(node, local, input, step);
        }
        step
    }

    /// The ghost after `events`, with the proposals `proposed` made.
    fn ghost_step(&mut self, ghost: u32, proposed: Proposals, events: u32) -> Result<u32, Violation> {
        if let Some(known) = self.ghost_steps.get(&(ghost, proposed, events)) {
            return known.clone();
        }
        let spec = self.spec;
        let mut g = self.ghosts.get(ghost).clone();
        let mut judge = || -> Result<(), Violation> {
            for event in self.events.get(events).iter() {
                match event {
                    GhostEvent::Send { from, msg } => g.on_send(spec, *from, &self.msgs.get(*msg).msg)?,
                    GhostEvent::Decision { node, instance, value, ok } => {
                        let who = Ghost::decider(*node, *ok);
                        let was_proposed = |v: &str| proposed.was_proposed(spec, *instance, v);
                        g.on_decision(spec, was_proposed, &who, *instance, value)?;
                    }
                }
            }
            Ok(())
        };
        let result = judge().map(|()| self.ghosts.intern(g));
        self.ghost_steps.insert((ghost, proposed, events), result.clone());
        result
    }

    /// The net after removing `removed` (unless [`NONE`]) and adding the list `sends`.
    fn net_step(&mut self, net: u32, removed: u32, sends: u32) -> u32 {
        if let Some(&known) = self.net_steps.get(&(net, removed, sends)) {
            return known;
        }
        let mut msgs = self.nets.get(net).to_vec();
        if removed != NONE {
            let at = msgs.binary_search(&removed).expect("a delivered message is in flight");
            msgs.remove(at);
        }
        for &msg in self.sends.get(sends).iter() {
            match msgs.binary_search(&msg) {
                Ok(_) if self.spec.duplicate => {}
                Ok(at) | Err(at) => msgs.insert(at, msg),
            }
        }
        let next = self.nets.intern(msgs.into_boxed_slice());
        self.net_steps.insert((net, removed, sends), next);
        next
    }

    /// The messages of net `net`, sorted.
    pub(super) fn net(&self, net: u32) -> &[u32] {
        self.nets.get(net)
    }

    /// The number of the net holding `msgs` (sorted).
    pub(super) fn intern_net(&mut self, msgs: Box<[u32]>) -> u32 {
        self.nets.intern(msgs)
    }

    /// The number of the view of `node`'s state `local` (see [`World::key`]).
    pub(super) fn view_of(&self, node: NodeId, local: u32) -> u32 {
        self.nodes[node as usize - 1].locals[local as usize].view
    }

    /// `state`'s nodes by class while crashes are left, by view after: what a search that
    /// merges states of one class keeps apart (the searches' tests compare these).
    pub fn classes(&self, state: &Packed) -> [u32; MAX_NODES] {
        let mut out = [0; MAX_NODES];
        let crashes_left = state.crashes < self.spec.crashes;
        for (i, table) in self.nodes.iter().enumerate() {
            let local = &table.locals[state.locals[i] as usize];
            out[i] = if crashes_left { local.class } else { local.view };
        }
        out
    }

    pub fn spec(&self) -> &'s Spec {
        self.spec
    }

    pub(super) fn has_timeout(&self, node: NodeId, local: u32) -> bool {
        self.nodes[node as usize - 1].locals[local as usize].has_timeout
    }

    /// Distinct node states met, over every node.
    pub fn node_states(&self) -> usize {
        self.nodes.iter().map(|t| t.locals.len()).sum()
    }

    /// Distinct values held: node states, messages, nets and ghosts (what a world's memory
    /// grows with).
    pub fn values(&self) -> usize {
        self.node_states() + self.msgs.len() + self.nets.len() + self.ghosts.len()
    }

    /// Node transitions run on the core (each once).
    pub fn core_steps(&self) -> usize {
        self.nodes.iter().map(|t| t.steps.len()).sum()
    }
}

impl NodeTable {
    /// The number of `state`, by its canonical encoding.
    /// The encoding is the view (the core), then the class (the core a restart from the
    /// records would have, and what a power cut would lose), then the records themselves
    /// unless states are merged by class.
    pub(super) fn intern(&mut self, state: NodeState) -> u32 {
        let mut bytes = Bytes::default();
        state.core.fingerprint(state.clock_us, &mut bytes);
        let view_len = bytes.0.len();
        Node::new(state.core.config().clone(), &state.records).fingerprint(state.clock_us, &mut bytes);
        (&state.unsynced, &state.lazy).hash(&mut bytes);
        let class_len = bytes.0.len();
        if !self.by_class {
            state.records.hash(&mut bytes);
        }
        if let Some(&id) = self.by_encoding.get(bytes.0.as_slice()) {
            return id;
        }
        let id = u32::try_from(self.locals.len()).expect("fewer than 2^32 node states");
        let view = self.views.intern(bytes.0[..view_len].into());
        let class = self.classes.intern(bytes.0[..class_len].into());
        let has_timeout = state.core.next_timeout_us().is_some();
        self.by_encoding.insert(bytes.0.into_boxed_slice(), id);
        self.locals.push(Local { state, view, class, has_timeout });
        id
    }
}
