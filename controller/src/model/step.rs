//! The transitions: what can happen next in a state, and what it leads to.
//!
//! A step runs one handler of one node's core and performs every output it produced, as the
//! runtime does within one turn: records first (made durable before any message leaves),
//! then messages into the net, reports to the client. That is atomic here; a crash between
//! the fsync and the sends is the same as the crash after the step with those messages lost,
//! which the model also explores.
//!
//! Two semantics of the net. The search's (`Net::Reduced`): with duplication a delivery
//! keeps the message in flight, without it a delivery consumes one copy, and nothing is lost
//! by a step of its own. The literal one (`Net::Full`, for the tests that hold the reduction
//! to it): deliveries that keep or consume, and losses. They reach the same node states: a
//! lost message is one never delivered, and a kept copy can always be left undelivered.

use super::invariants::{Ghost, Violation};
use super::spec::Spec;
use super::state::{Envelope, NodeState, State};
use synod_node::paxos::{Bug, InstanceId, Node, NodeId, OpId, Output, ProposeError, Record};

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

/// Which transitions of the net a search takes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Reduced,
    Full,
}

/// Every action enabled in `state`, in a fixed order.
pub fn actions(spec: &Spec, state: &State, net: Net, out: &mut Vec<Action>) {
    out.clear();
    for node in spec.proposer_ids() {
        for instance in 1..=spec.instances {
            if state.proposed.may_ask(spec, node, instance, state.crashes) {
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
        match net {
            Net::Reduced => out.push(Action::Deliver { index, keep: spec.duplicate }),
            Net::Full => {
                out.push(Action::Deliver { index, keep: false });
                if spec.duplicate {
                    out.push(Action::Deliver { index, keep: true });
                }
                out.push(Action::Lose { index });
            }
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
            let k = state.proposed.ask(spec, node, instance);
            let (op, value) = (spec.op(node, instance, k), Spec::value(node, instance, k));
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
            crash(&mut state.nodes[node as usize - 1]);
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
            Output::Persist(record) => persist(spec, &mut state.nodes[node as usize - 1], record),
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
                let proposed = state.proposed;
                state.ghost.on_decision(
                    spec,
                    |v| proposed.was_proposed(spec, instance, v),
                    &Ghost::decider(node, false),
                    instance,
                    &value,
                )?;
            }
            Output::ProposeDone { op, instance, result } => {
                obs.done(node, op, instance, &result);
                if let Ok(value) = &result {
                    let proposed = state.proposed;
                    state.ghost.on_decision(
                        spec,
                        |v| proposed.was_proposed(spec, instance, v),
                        &Ghost::decider(node, true),
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

/// A batch: the waiting lazy records go along, ahead of `record`, and are fsynced (unless
/// the node runs skip-fsync, whose writes a power cut loses).
pub(super) fn persist(spec: &Spec, n: &mut NodeState, record: Record) {
    let lazy = std::mem::take(&mut n.lazy);
    let durable = if spec.bug == Some(Bug::SkipFsync) { &mut n.unsynced } else { &mut n.records };
    durable.extend(lazy);
    durable.push(record);
}

/// A power cut, then the restart path of the runtime: a new core from the records on disk.
/// What the node had not fsynced is gone.
pub(super) fn crash(n: &mut NodeState) {
    n.lazy.clear();
    n.unsynced.clear();
    n.core = Node::new(n.core.config().clone(), &n.records);
}
