//! The transitions: what can happen next in a state, and what it leads to.
//!
//! A step runs one handler of one node's core and performs every output it produced, as the
//! runtime does within one turn: records first (made durable before any message leaves),
//! then messages into the net, reports to the client. That is atomic here; a crash between
//! the fsync and the sends is the same as the crash after the step with those messages lost,
//! which the model also explores.

use super::invariants::Violation;
use super::spec::Spec;
use super::state::{Envelope, State};
use synod_node::paxos::{InstanceId, Node, NodeId, OpId, Output, ProposeError};

/// One transition. Messages are named by their index in the state's sorted net, so an action
/// is a few bytes (the search keeps one per state, for the counterexample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The client asks `node` to propose its value for `instance`.
    Propose { node: NodeId, instance: InstanceId },
    /// `node`'s next timeout fires (its clock moves to it).
    Timeout { node: NodeId },
    /// `node` crashes and restarts from its durable records.
    Crash { node: NodeId },
    /// The message at `index` arrives; with `keep`, a copy stays in flight (duplication).
    Deliver { index: u32, keep: bool },
    /// The message at `index` is lost.
    Lose { index: u32 },
}

/// What a step did, for a counterexample's history. The search passes [`Quiet`].
pub trait Observer {
    fn invoke(&mut self, _node: NodeId, _op: OpId, _instance: InstanceId, _value: &str) {}
    fn send(&mut self, _env: &Envelope) {}
    fn deliver(&mut self, _env: &Envelope, _keep: bool) {}
    fn lose(&mut self, _env: &Envelope) {}
    fn learned(&mut self, _node: NodeId, _instance: InstanceId, _value: &str) {}
    fn done(
        &mut self,
        _node: NodeId,
        _op: OpId,
        _instance: InstanceId,
        _result: &Result<String, ProposeError>,
    ) {
    }
    fn crash(&mut self, _node: NodeId) {}
}

/// Observes nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Every action enabled in `state`, in a fixed order.
pub fn actions(spec: &Spec, state: &State, out: &mut Vec<Action>) {
    out.clear();
    for node in spec.proposer_ids() {
        for instance in 1..=spec.instances {
            if !state.proposed[State::proposal_index(spec, node, instance)] {
                out.push(Action::Propose { node, instance });
            }
        }
    }
    for (i, n) in state.nodes.iter().enumerate() {
        if n.core.next_timeout_us().is_some() {
            out.push(Action::Timeout { node: i as NodeId + 1 });
        }
    }
    if state.crashes < spec.crashes {
        out.extend(spec.node_ids().into_iter().map(|node| Action::Crash { node }));
    }
    for index in 0..state.net.len() as u32 {
        out.push(Action::Deliver { index, keep: false });
        if spec.duplicate {
            out.push(Action::Deliver { index, keep: true });
        }
        if spec.loss {
            out.push(Action::Lose { index });
        }
    }
}

/// Performs `action` on `state` (in place); `Err` when a step broke a safety rule.
pub fn apply<O: Observer>(
    spec: &Spec,
    state: &mut State,
    action: Action,
    obs: &mut O,
) -> Result<(), Violation> {
    match action {
        Action::Propose { node, instance } => {
            state.proposed[State::proposal_index(spec, node, instance)] = true;
            let (op, value) = (spec.op(node, instance), Spec::value(node, instance));
            obs.invoke(node, op, instance, &value);
            run(spec, state, node, obs, |core, now| core.handle_propose(now, op, instance, value))
        }
        Action::Timeout { node } => {
            let n = &mut state.nodes[node as usize - 1];
            let due = n.core.next_timeout_us().expect("a timeout action on a node with a timeout");
            n.clock_us = n.clock_us.max(due);
            run(spec, state, node, obs, |core, now| core.handle_timeout(now))
        }
        Action::Crash { node } => {
            state.crashes += 1;
            obs.crash(node);
            let n = &mut state.nodes[node as usize - 1];
            n.lazy.clear();
            // The restart path of the runtime: a new core from the records on disk.
            n.core = Node::new(n.core.config().clone(), &n.records);
            Ok(())
        }
        Action::Deliver { index, keep } => {
            let env = if keep { state.net[index as usize].clone() } else { state.net.remove(index as usize) };
            obs.deliver(&env, keep);
            run(spec, state, env.to, obs, |core, now| core.handle_message(now, env.from, env.msg))
        }
        Action::Lose { index } => {
            let env = state.net.remove(index as usize);
            obs.lose(&env);
            Ok(())
        }
    }
}

/// Runs one handler on `node`'s core and performs its outputs, judging each on the way.
fn run<O: Observer>(
    spec: &Spec,
    state: &mut State,
    node: NodeId,
    obs: &mut O,
    handler: impl FnOnce(&mut Node, u64),
) -> Result<(), Violation> {
    let n = &mut state.nodes[node as usize - 1];
    handler(&mut n.core, n.clock_us);
    while let Some(output) = state.nodes[node as usize - 1].core.poll_output() {
        match output {
            Output::Persist(record) => {
                // A batch takes the waiting lazy records along, ahead of its own.
                let n = &mut state.nodes[node as usize - 1];
                let lazy = std::mem::take(&mut n.lazy);
                n.records.extend(lazy);
                n.records.push(record);
            }
            Output::PersistLazy(record) => state.nodes[node as usize - 1].lazy.push(record),
            Output::Send { to, msg } => {
                // Recorded before it is judged: a counterexample's history ends with the
                // message that broke the rule.
                let env = Envelope { to, from: node, msg };
                obs.send(&env);
                state.ghost.on_send(spec, node, &env.msg)?;
                state.send(spec, env);
            }
            Output::Learned { instance, value } => {
                obs.learned(node, instance, &value);
                let (ghost, proposed) = split(state);
                ghost.on_decision(
                    spec,
                    |v| proposed.was_proposed(spec, instance, v),
                    &format!("n{node} learned"),
                    instance,
                    &value,
                )?;
            }
            Output::ProposeDone { op, instance, result } => {
                obs.done(node, op, instance, &result);
                if let Ok(value) = &result {
                    let (ghost, proposed) = split(state);
                    ghost.on_decision(
                        spec,
                        |v| proposed.was_proposed(spec, instance, v),
                        &format!("n{node} answered ok"),
                        instance,
                        value,
                    )?;
                }
            }
            // Decisions are never retired under the model's tuning (`retain_decided` is far
            // above its instances), so nothing is archived or looked up.
            Output::Archive { .. } | Output::Lookup { .. } => {}
        }
    }
    Ok(())
}

/// The ghost to update, and the proposals made (read-only) to judge validity by.
fn split(state: &mut State) -> (&mut super::invariants::Ghost, Proposals<'_>) {
    (&mut state.ghost, Proposals(&state.proposed))
}

/// The client proposals made so far.
struct Proposals<'a>(&'a [bool]);

impl Proposals<'_> {
    fn was_proposed(&self, spec: &Spec, instance: InstanceId, value: &str) -> bool {
        spec.proposer_ids()
            .into_iter()
            .any(|p| self.0[State::proposal_index(spec, p, instance)] && Spec::value(p, instance) == value)
    }
}
