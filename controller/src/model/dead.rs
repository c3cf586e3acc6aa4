//! Dead messages: a message in flight that its receiver will ignore in every state it can
//! still reach is taken out of the net, so that two states that differ only in such
//! leftovers are one.
//!
//! Why: most global states of a finished round differ only in stale replies in flight (a
//! promise that came after the quorum, a `decided_ok` nobody waits for), each of them
//! ignored by its receiver now and forever. Without this, one combination of node states
//! recurs with thousands of nets (6,144 for one finished round of the defaults).
//!
//! "Forever" is computed, not assumed, and it holds for mutants too: before the search,
//! each node's states are explored on their own with every input the cluster could ever
//! give them (every message any node can send in any of its states, found as a fixpoint,
//! every timeout, every client ask). That is more than the node meets in any global state,
//! so it covers every state the node can reach, and every message any node can send. A
//! message is live at a node state if, from it, some reachable node state does something
//! on its delivery (changes, sends, or tells the invariants); otherwise it is dead there.
//! Taking a dead message out removes only deliveries that change nothing, so the search
//! visits one state per class of states that behave alike, at the same depth (docs/model.md,
//! "Dead messages"); tests hold it to the search without it.
//!
//! Only for specs without crashes: a node restarted from its records is in none of the
//! states explored here, and could send messages none of them sends. The search asserts
//! the claim as it goes: every node state it meets was analysed, every message was met.
//!
//! Rounds are bounded: a node on its own, fed every message, answers other proposers' nacks
//! with higher rounds without end, which no run does. In a run, a proposer's new round is
//! one above the highest it used or saw (round 0, the fast round, aside), so the highest
//! round in the cluster grows by at most one per ballot started, and ballots started are at
//! most proposers x instances x `--max-ballots` without crashes. A message of a higher
//! round is never fed to a node here; the search asserts that it meets none.

use super::proposals::Proposals;
use super::spec::Spec;
use super::world::{Input, Packed, World, MAX_NODES};
use synod_node::paxos::hash::FastMap;
use synod_node::paxos::{Msg, NodeId};

/// A set of message numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bits(Vec<u64>);

impl Bits {
    fn with_len(len: usize) -> Bits {
        Bits(vec![0; len.div_ceil(64)])
    }

    fn insert(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }

    fn contains(&self, i: u32) -> bool {
        self.0.get(i as usize / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Adds `other`; true if that added anything.
    fn union(&mut self, other: &Bits) -> bool {
        let mut grew = false;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            grew |= *b & !*a != 0;
            *a |= b;
        }
        grew
    }
}

/// Node steps the analysis runs on the core, at most (about 10 s, 1 to 2 GB). Three nodes,
/// two proposers and one ballot need about 300,000; three nodes, one proposer and two
/// ballots 2,200,000; two proposers with two ballots more than 40 million, given up.
const MAX_CORE_STEPS: usize = 4_000_000;

/// A pair not yet explored.
const FRESH: u32 = u32::MAX;

/// The highest round a run of `spec` (without crashes) can reach: one per ballot started.
fn round_bound(spec: &Spec) -> u64 {
    u64::from(spec.proposers.min(spec.nodes)) * spec.instances * u64::from(spec.max_ballots)
}

/// The highest round of any ballot `msg` carries.
fn highest_round(msg: &Msg) -> u64 {
    match msg {
        Msg::Prepare(m) => m.ballot.round,
        Msg::Promise(m) => m.ballot.round.max(m.accepted.as_ref().map_or(0, |a| a.ballot.round)),
        Msg::Nack(m) => m.ballot.round.max(m.promised.round),
        Msg::Accept(m) => m.ballot.round,
        Msg::Accepted(m) => m.ballot.round,
        Msg::Decided(_) | Msg::DecidedOk(_) | Msg::Catchup(_) => 0,
    }
}

/// A node state with the client asks it has had (two bits an instance): what the node's
/// future depends on. The state is named by its view (its core without its records, which
/// only a crash reads): two states with one view behave alike while no crash can come.
type Pair = (u32, u16);

/// One node explored on its own.
#[derive(Default)]
struct Graph {
    /// Each pair's first node state met (the view's representative) and asks.
    pairs: Vec<Pair>,
    /// By (view, asks).
    index: FastMap<Pair, u32>,
    /// Per pair: messages numbered below this were delivered to it ([`FRESH`]: nothing
    /// was handled yet).
    handled: Vec<u32>,
    /// Per pair: the pairs its steps lead to.
    next: Vec<Vec<u32>>,
    /// Per pair: the messages it does something on.
    acts: Vec<Vec<u32>>,
}

impl Graph {
    /// The inputs pair `at` has not handled yet, with the asks each leaves (every message
    /// met so far; the first time, also its timeout and its client asks), marked handled.
    fn inputs(&mut self, world: &World, node: NodeId, at: usize) -> (u32, Vec<(Input, u16)>) {
        let spec = world.spec();
        let (local, asks) = self.pairs[at];
        let mut inputs = Vec::new();
        if self.handled[at] == FRESH {
            self.handled[at] = 0;
            if world.has_timeout(node, local) {
                inputs.push((Input::Timeout, asks));
            }
            for instance in (1..=spec.instances).filter(|_| node <= spec.proposers) {
                let shift = 2 * (instance - 1);
                let k = ((asks >> shift) & 3) as u8;
                if Proposals::may_ask_after(k, spec.crashes) {
                    inputs.push((Input::Propose(instance, k), asks + (1 << shift)));
                }
            }
        }
        let (from, to) = (self.handled[at], world.msgs.len() as u32);
        let bound = round_bound(spec);
        let inbox = (from..to).filter(|&m| {
            let env = world.msgs.get(m);
            env.to == node && highest_round(&env.msg) <= bound
        });
        inputs.extend(inbox.map(|m| (Input::Deliver(m), asks)));
        self.handled[at] = to;
        (local, inputs)
    }

    fn add(&mut self, world: &World, node: NodeId, (local, asks): Pair) -> u32 {
        let key = (world.view_of(node, local), asks);
        if let Some(&at) = self.index.get(&key) {
            return at;
        }
        let at = self.pairs.len() as u32;
        self.pairs.push((local, asks));
        self.index.insert(key, at);
        self.handled.push(FRESH);
        self.next.push(Vec::new());
        self.acts.push(Vec::new());
        at
    }
}

/// For every node state (with its client asks) of every node: the messages that may still
/// do something there.
pub struct Liveness {
    /// Per node: its pairs' numbers, and each pair's live messages.
    nodes: Vec<(FastMap<Pair, u32>, Vec<Bits>)>,
    /// Messages the analysis met (numbered below this).
    msgs: u32,
    /// The receiver of each of them, packed: the filter reads one per message in flight
    /// on every transition, and a whole envelope is many times larger.
    to: Vec<u8>,
    /// Those of them above the round bound: sent by a node state analysed, fed to none. The
    /// search must meet none of them.
    over_bound: Bits,
    /// A net without the messages at the places of a mask (see `without_dead`).
    dead_steps: FastMap<(u32, u64), u32>,
}

impl Liveness {
    /// Explores every node on its own (see the module docs) and computes liveness, or
    /// `None` for a spec with crashes, or when the nodes alone take more than
    /// [`MAX_CORE_STEPS`] steps to explore (the search then keeps every message: slower, as
    /// exact).
    pub fn analyse(world: &mut World) -> Option<Liveness> {
        Self::analyse_within(world, MAX_CORE_STEPS)
    }

    /// As [`Liveness::analyse`], giving up after `max_core_steps` node steps.
    fn analyse_within(world: &mut World, max_core_steps: usize) -> Option<Liveness> {
        let spec = world.spec();
        if spec.crashes > 0 {
            return None;
        }
        let nodes = spec.nodes as usize;
        let mut graphs: Vec<Graph> = (0..nodes).map(|_| Graph::default()).collect();
        for (i, graph) in graphs.iter_mut().enumerate() {
            graph.add(world, i as NodeId + 1, (0, 0));
        }
        loop {
            let mut grew = false;
            for (i, graph) in graphs.iter_mut().enumerate() {
                let node = i as NodeId + 1;
                let mut at = 0;
                while at < graph.pairs.len() {
                    let (local, steps) = graph.inputs(world, node, at);
                    grew |= !steps.is_empty();
                    for (input, asks_after) in steps {
                        let step = world.local_step(node, local, input);
                        let acts = step.next != local || step.sends != 0 || step.events != 0;
                        if let (Input::Deliver(msg), true) = (input, acts) {
                            graph.acts[at].push(msg);
                        }
                        let n = graph.add(world, node, (step.next, asks_after));
                        if n as usize != at {
                            graph.next[at].push(n);
                        }
                    }
                    if world.core_steps() > max_core_steps {
                        return None;
                    }
                    at += 1;
                }
            }
            if !grew {
                break;
            }
        }
        let msgs = world.msgs.len();
        let nodes = graphs.into_iter().map(|g| (g.index.clone(), Self::live(&g, msgs))).collect();
        let mut over_bound = Bits::with_len(msgs);
        let bound = round_bound(spec);
        for m in (0..msgs as u32).filter(|&m| highest_round(&world.msgs.get(m).msg) > bound) {
            over_bound.insert(m);
        }
        let to = (0..msgs as u32).map(|m| world.msgs.get(m).to as u8).collect();
        Some(Liveness { nodes, msgs: msgs as u32, to, over_bound, dead_steps: FastMap::default() })
    }

    /// What each pair does something on, then what any pair it leads to does something on,
    /// to a fixpoint.
    fn live(graph: &Graph, msgs: usize) -> Vec<Bits> {
        let count = graph.pairs.len();
        let mut live = vec![Bits::with_len(msgs); count];
        for (at, acts) in graph.acts.iter().enumerate() {
            for &msg in acts {
                live[at].insert(msg);
            }
        }
        // Later pairs are mostly found after earlier ones: sweeping from the last converges
        // in a few rounds.
        let mut grew = true;
        while grew {
            grew = false;
            for local in (0..count).rev() {
                for &n in &graph.next[local] {
                    let n = n as usize;
                    let (mine, theirs) = match n.cmp(&local) {
                        std::cmp::Ordering::Greater => {
                            let (low, high) = live.split_at_mut(n);
                            (&mut low[local], &high[0])
                        }
                        std::cmp::Ordering::Less => {
                            let (low, high) = live.split_at_mut(local);
                            (&mut high[0], &low[n])
                        }
                        std::cmp::Ordering::Equal => continue,
                    };
                    grew |= mine.union(theirs);
                }
            }
        }
        live
    }

    /// `state`'s net without the messages dead at their receivers' states.
    pub fn without_dead(&mut self, world: &mut World, state: &Packed) -> u32 {
        let at = self.pairs_of(world, state);
        let net = world.net(state.net);
        let dead = self.dead_in(&at, net);
        if dead == 0 {
            return state.net;
        }
        // A net of more than 64 messages has no mask of its own to remember it by.
        let small = net.len() <= 64;
        if let Some(&known) = self.dead_steps.get(&(state.net, dead)).filter(|_| small) {
            return known;
        }
        let kept: Vec<u32> = net.iter().copied().filter(|&m| self.is_live(&at, m)).collect();
        let next = world.intern_net(kept.into_boxed_slice());
        if small {
            self.dead_steps.insert((state.net, dead), next);
        }
        next
    }

    /// Each node's live messages in `state` (by its view and client asks).
    fn pairs_of<'a>(&'a self, world: &World, state: &Packed) -> [Option<&'a Bits>; MAX_NODES] {
        let spec = world.spec();
        let mut at: [Option<&Bits>; MAX_NODES] = [None; MAX_NODES];
        for node in spec.node_ids() {
            let (view, asks) =
                (world.view_of(node, state.locals[node as usize - 1]), state.proposed.of_node(spec, node));
            let (index, live) = &self.nodes[node as usize - 1];
            let pair = index.get(&(view, asks));
            assert!(pair.is_some(), "n{node}'s state {view} (asks {asks}) escaped the liveness analysis");
            at[node as usize - 1] = pair.map(|&p| &live[p as usize]);
        }
        at
    }

    /// Whether `msg` may still do something at its receiver.
    fn is_live(&self, at: &[Option<&Bits>; MAX_NODES], msg: u32) -> bool {
        assert!(msg < self.msgs, "message {msg} escaped the liveness analysis");
        assert!(!self.over_bound.contains(msg), "message {msg} has a round above the analysis's bound");
        at[self.to[msg as usize] as usize - 1].is_some_and(|bits| bits.contains(msg))
    }

    /// The places in `net` of its dead messages, as a mask (places past 63 share bit 63).
    fn dead_in(&self, at: &[Option<&Bits>; MAX_NODES], net: &[u32]) -> u64 {
        let mut dead = 0u64;
        for (place, &msg) in net.iter().enumerate() {
            if !self.is_live(at, msg) {
                dead |= 1 << place.min(63);
            }
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_bounded_by_the_ballots_a_run_can_start() {
        let spec = Spec { crashes: 0, ..Spec::default() };
        assert_eq!(round_bound(&spec), 4, "2 proposers x 1 instance x 2 ballots");
        let b = |round| synod_node::paxos::Ballot::new(round, 1);
        let nack = Msg::Nack(synod_node::paxos::msg::Nack { instance: 1, ballot: b(1), promised: b(5) });
        assert_eq!(highest_round(&nack), 5, "a nack carries the higher ballot it promised");
    }

    #[test]
    fn the_analysis_gives_up_past_its_step_bound_and_finishes_within_it() {
        let spec = Spec { crashes: 0, max_ballots: 1, nodes: 2, ..Spec::default() };
        let (mut world, _) = World::new(&spec, true);
        assert!(Liveness::analyse_within(&mut world, 10).is_none());
        let (mut world, _) = World::new(&spec, true);
        assert!(Liveness::analyse_within(&mut world, MAX_CORE_STEPS).is_some());
        let crashes = Spec { crashes: 1, ..spec };
        let (mut world, _) = World::new(&crashes, true);
        assert!(Liveness::analyse(&mut world).is_none(), "a restarted node is outside the analysis");
    }
}
