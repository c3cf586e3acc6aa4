//! Symmetry: nodes that play the same roles are interchangeable, so of the states that
//! differ only in their names the search visits one (docs/model.md, "Symmetry").
//!
//! Why: every node that does not propose is an acceptor and a learner like the others, with
//! the same config but its id. A state in which two of them swap everything they hold
//! (their states, the messages to and from them, what the others counted from them, the
//! ghost's votes and promises by them) behaves as the original with the names swapped:
//! a violation in one is the renamed violation in the other, at the same depth. So each
//! state is replaced by the least of its renamings (by their numbers in the world's
//! tables, which name each distinct value once): a function of the set of renamings, so
//! two states that are renamings of each other become the same state. Proposers are never
//! renamed: ballots carry their ids and round 0 has an owner.
//!
//! "Behaves as the original" is checked, not assumed: every node step the search computes
//! on an interchangeable node is computed again on the node renamed (swapped with another
//! interchangeable node), and the renamed step must lead to the renamed state, with the
//! renamed messages and ghost events. A core whose steps hang on a node's id otherwise
//! fails the check (a panic that names the step), rather than hiding a state.

use super::invariants::Ghost;
use super::renamings::{Perm, Symmetry};
use super::state::{Envelope, NodeState};
use super::world::{GhostEvent, Input, LocalStep, Move, Packed, World, MAX_NODES};
use synod_node::paxos::NodeId;

impl World<'_> {
    fn perm(&self, k: u8) -> Perm {
        self.symmetry.as_ref().expect("a world with symmetry").perms[k as usize]
    }

    /// Node `node`'s state `local` renamed by renaming `k`: a state of node `perm[node]`.
    pub(super) fn rename_local(&mut self, node: NodeId, local: u32, k: u8) -> u32 {
        let sym = self.symmetry.as_ref().expect("a world with symmetry");
        if let Some(&known) = sym.locals.get(&(node, local, k)) {
            return known;
        }
        let perm = sym.perms[k as usize];
        let state = &self.nodes[node as usize - 1].locals[local as usize].state;
        let core = state.core.renamed(&|n| perm[n as usize]).unwrap_or_else(|| {
            panic!("n{node} drew from its random generator: the model's tuning draws nothing")
        });
        let renamed = NodeState {
            core,
            clock_us: state.clock_us,
            records: state.records.clone(),
            unsynced: state.unsynced.clone(),
            lazy: state.lazy.clone(),
        };
        let to = perm[node as usize];
        let id = self.nodes[to as usize - 1].intern(renamed);
        self.symmetry.as_mut().unwrap().locals.insert((node, local, k), id);
        id
    }

    /// Message `msg` renamed by renaming `k` (its sender and receiver; the ballots it
    /// carries name proposers, which stay).
    pub(super) fn rename_msg(&mut self, msg: u32, k: u8) -> u32 {
        if let Some(&known) = self.symmetry.as_ref().unwrap().msgs.get(&(msg, k)) {
            return known;
        }
        let perm = self.perm(k);
        let env = self.msgs.get(msg);
        let renamed =
            Envelope { to: perm[env.to as usize], from: perm[env.from as usize], msg: env.msg.clone() };
        let id = self.msgs.intern(renamed);
        self.symmetry.as_mut().unwrap().msgs.insert((msg, k), id);
        id
    }

    fn rename_ghost(&mut self, ghost: u32, k: u8) -> u32 {
        if let Some(&known) = self.symmetry.as_ref().unwrap().ghosts.get(&(ghost, k)) {
            return known;
        }
        let perm = self.perm(k);
        let renamed: Ghost = self.ghosts.get(ghost).renamed(&|n| perm[n as usize]);
        let id = self.ghosts.intern(renamed);
        self.symmetry.as_mut().unwrap().ghosts.insert((ghost, k), id);
        id
    }

    /// `state`'s nodes renamed by renaming `k` (the net and the ghost left as they are).
    fn renamed_locals(&mut self, state: &Packed, k: u8) -> Packed {
        let perm = self.perm(k);
        let mut out = *state;
        for node in self.spec.node_ids() {
            let to = perm[node as usize];
            out.locals[to as usize - 1] = self.rename_local(node, state.locals[node as usize - 1], k);
        }
        out
    }

    /// The least renaming of `state` (by its key: see [`World::key`]; nodes first, then the
    /// messages of the net, then the ghost), the renaming that makes it, and how many
    /// renamings leave `state`'s key as it is (so `state` stands for the group's size
    /// divided by that many states). Without symmetry: `state` itself.
    ///
    /// Nets are compared by their messages, not by their number: a renamed net is then
    /// made and remembered only for the renaming that wins, and only the renamings whose
    /// nodes tie with the least so far, or beat them, are renamed further than their nodes.
    pub fn canonical(&mut self, state: &Packed) -> (Packed, u8, u32) {
        let Some(count) = self.symmetry.as_ref().map(Symmetry::size) else {
            return (*state, 0, 1);
        };
        let own = self.key(state);
        let own_net: Vec<u32> = self.nets.get(state.net).to_vec();
        let (mut best, mut best_key, mut best_net, mut best_k, mut fixed) =
            (*state, own, own_net.clone(), 0u8, 1u32);
        let mut net = Vec::with_capacity(own_net.len());
        for k in 1..count as u8 {
            let mut renamed = self.renamed_locals(state, k);
            let nodes = self.key(&renamed).locals;
            if nodes > best_key.locals && nodes != own.locals {
                continue;
            }
            net.clear();
            for &msg in &own_net {
                net.push(self.rename_msg(msg, k));
            }
            net.sort_unstable();
            renamed.ghost = self.rename_ghost(state.ghost, k);
            let ghost = self.key(&renamed).ghost;
            fixed += u32::from(nodes == own.locals && net == own_net && ghost == own.ghost);
            if (nodes, &net, ghost) < (best_key.locals, &best_net, best_key.ghost) {
                (best, best_k) = (renamed, k);
                (best_key.locals, best_key.ghost) = (nodes, ghost);
                std::mem::swap(&mut best_net, &mut net);
            }
        }
        if best_k != 0 {
            best.net = self.nets.intern(best_net.into_boxed_slice());
        }
        (best, best_k, fixed)
    }

    /// `mv` renamed by renaming `k`.
    pub fn rename_move(&mut self, mv: Move, k: u8) -> Move {
        let perm = self.perm(k);
        match mv {
            Move::Propose { .. } => mv,
            Move::Timeout { node } => Move::Timeout { node: perm[node as usize] },
            Move::Crash { node } => Move::Crash { node: perm[node as usize] },
            Move::Deliver { msg } => Move::Deliver { msg: self.rename_msg(msg, k) },
        }
    }

    /// The renaming that does `first`, then `then`.
    pub fn compose(&self, first: u8, then: u8) -> u8 {
        let (a, b) = (self.perm(first), self.perm(then));
        let mut out = a;
        for n in 1..=MAX_NODES {
            out[n] = b[a[n] as usize];
        }
        self.symmetry.as_ref().unwrap().index(&out)
    }

    /// The renaming that undoes `k`.
    pub fn inverse(&self, k: u8) -> u8 {
        let perm = self.perm(k);
        let mut out = perm;
        for n in 0..=MAX_NODES {
            out[perm[n] as usize] = n as NodeId;
        }
        self.symmetry.as_ref().unwrap().index(&out)
    }

    /// Checks that node `node` in state `local` handling `input` (which led to `step`) and
    /// the node it is swapped with, in the renamed state handling the renamed input, do the
    /// same up to the names (see the module docs).
    pub(super) fn check_renamed_step(&mut self, node: NodeId, local: u32, input: Input, step: LocalStep) {
        let Some(k) = self.symmetry.as_ref().and_then(|s| s.swaps[node as usize - 1]) else {
            return;
        };
        let perm = self.perm(k);
        let other = perm[node as usize];
        let renamed_input = match input {
            Input::Deliver(msg) => Input::Deliver(self.rename_msg(msg, k)),
            input => input,
        };
        let renamed_local = self.rename_local(node, local, k);
        let theirs = self.local_step(other, renamed_local, renamed_input);
        let expected_next = self.rename_local(node, step.next, k);
        let mut sends: Vec<u32> = self.sends.get(step.sends).to_vec();
        sends = sends.into_iter().map(|m| self.rename_msg(m, k)).collect();
        sends.sort_unstable();
        let mut their_sends = self.sends.get(theirs.sends).to_vec();
        their_sends.sort_unstable();
        let mut events: Vec<GhostEvent> = self.events.get(step.events).to_vec();
        for event in &mut events {
            match event {
                GhostEvent::Send { from, msg } => {
                    *from = perm[*from as usize];
                    *msg = self.rename_msg(*msg, k);
                }
                GhostEvent::Decision { node, .. } => *node = perm[*node as usize],
            }
        }
        events.sort();
        let mut their_events = self.events.get(theirs.events).to_vec();
        their_events.sort();
        assert!(
            theirs.next == expected_next && their_sends == sends && their_events == events,
            "n{node} and n{other} are not interchangeable: {input:?} on n{node}'s state {local} and \
             {renamed_input:?} on its renaming {renamed_local} do not do the same"
        );
    }
}
