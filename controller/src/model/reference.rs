//! The reference search: the same breadth-first search as [`super::explore`], written the
//! plain way, over whole [`State`]s (every successor a clone of every node, 64-bit SipHash
//! fingerprints) and either semantics of the net. It is slow; the tests hold the fast search
//! to it (the same states, transitions and violations) and the reduced net to the literal
//! one (the same node states reached).

use super::explore::{Limits, Outcome};
use super::invariants::Violation;
use super::spec::Spec;
use super::state::State;
use super::step::{actions, apply, Action, Net, Quiet};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::time::Instant;
use synod_node::paxos::hash::{FastMap, FastSet};

/// The root's parent: no state has this fingerprint's parent pointer but the root.
const ROOT: u64 = 0;

pub fn explore(spec: &Spec, limits: Limits, net: Net) -> Outcome {
    let started = Instant::now();
    let initial = State::initial(spec);
    let root = initial.fingerprint(spec);
    // fingerprint -> (parent fingerprint, action from the parent).
    let mut visited: FastMap<u64, (u64, Action)> = FastMap::default();
    visited.insert(root, (ROOT, Action::Timeout { node: 0 }));
    let mut queue: VecDeque<(State, u64, u32)> = VecDeque::from([(initial, root, 0)]);
    let mut out = Outcome::at_root();
    let mut enabled = Vec::new();
    'search: while let Some((state, fp, depth)) = queue.pop_front() {
        if limits.time.is_some_and(|t| started.elapsed() >= t) {
            out.bounded_by = Some("time");
            break;
        }
        actions(spec, &state, net, &mut enabled);
        if limits.max_depth.is_some_and(|d| depth >= d) {
            if !enabled.is_empty() {
                out.bounded_by = Some("max-depth");
            }
            continue;
        }
        for &action in &enabled {
            let mut next = state.clone();
            out.transitions += 1;
            if let Err(v) = apply(spec, &mut next, action, &mut Quiet) {
                let mut path = path_to(&visited, fp, root);
                path.push(action);
                out.depth = depth + 1;
                out.violation = Some((v, path));
                break 'search;
            }
            let next_fp = next.fingerprint(spec);
            if visited.contains_key(&next_fp) {
                continue;
            }
            visited.insert(next_fp, (fp, action));
            out.states += 1;
            out.depth = out.depth.max(depth + 1);
            if limits.max_states.is_some_and(|m| out.states >= m) {
                out.bounded_by = Some("max-states");
                break 'search;
            }
            queue.push_back((next, next_fp, depth + 1));
        }
    }
    out.elapsed = started.elapsed();
    out
}

/// The actions from the root to the state `fp`.
fn path_to(visited: &FastMap<u64, (u64, Action)>, mut fp: u64, root: u64) -> Vec<Action> {
    let mut path = Vec::new();
    while fp != root {
        let (parent, action) = visited[&fp];
        path.push(action);
        fp = parent;
    }
    path.reverse();
    path
}

/// Every node state the search reaches under `net`, as hashes of the nodes, their records
/// and the ghost (the net left out), or the first violation. For small specs only: it keeps
/// every state.
pub fn node_states(spec: &Spec, net: Net) -> Result<FastSet<u64>, Violation> {
    let initial = State::initial(spec);
    let mut seen: FastSet<u64> = FastSet::default();
    seen.insert(initial.fingerprint(spec));
    let mut queue = VecDeque::from([initial]);
    let mut nodes = FastSet::default();
    let mut enabled = Vec::new();
    while let Some(state) = queue.pop_front() {
        nodes.insert(projection(&state));
        actions(spec, &state, net, &mut enabled);
        for &action in &enabled {
            let mut next = state.clone();
            apply(spec, &mut next, action, &mut Quiet)?;
            if seen.insert(next.fingerprint(spec)) {
                queue.push_back(next);
            }
        }
    }
    Ok(nodes)
}

fn projection(state: &State) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for n in &state.nodes {
        n.core.fingerprint(n.clock_us, &mut h);
        (&n.records, &n.unsynced, &n.lazy).hash(&mut h);
    }
    (&state.proposed, state.crashes, &state.ghost).hash(&mut h);
    h.finish()
}
