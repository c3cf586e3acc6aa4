//! The search: breadth first from the initial state, a visited set of fingerprints with a
//! parent pointer and the action that first reached each state. Breadth first makes the
//! first violation found a shortest one: every state at depth d is expanded before any at
//! depth d + 1, and every transition is judged as it is generated.

use super::invariants::Violation;
use super::spec::Spec;
use super::state::State;
use super::step::{actions, apply, Action, Quiet};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use synod_node::paxos::hash::FastMap;

/// What stops a search before its space is exhausted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub max_states: Option<u64>,
    pub max_depth: Option<u32>,
    pub time: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    /// Unique states visited (the initial one included).
    pub states: u64,
    /// Transitions taken (successors generated, new or not).
    pub transitions: u64,
    /// The depth of the deepest state visited.
    pub depth: u32,
    pub elapsed: Duration,
    /// What stopped the search early (`max-states`, `max-depth`, `time`), or `None` when
    /// every reachable state was visited (or a violation ended it).
    pub bounded_by: Option<&'static str>,
    /// The first violation found, with the actions from the initial state that reach it.
    pub violation: Option<(Violation, Vec<Action>)>,
}

impl Outcome {
    pub fn complete(&self) -> bool {
        self.bounded_by.is_none() && self.violation.is_none()
    }

    pub fn states_per_s(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The root's parent: no state has this fingerprint's parent pointer but the root.
const ROOT: u64 = 0;

pub fn explore(spec: &Spec, limits: Limits) -> Outcome {
    let started = Instant::now();
    let initial = State::initial(spec);
    let root = initial.fingerprint(spec);
    // fingerprint -> (parent fingerprint, action from the parent).
    let mut visited: FastMap<u64, (u64, Action)> = FastMap::default();
    visited.insert(root, (ROOT, Action::Timeout { node: 0 }));
    let mut queue: VecDeque<(State, u64, u32)> = VecDeque::from([(initial, root, 0)]);
    let mut out = Outcome {
        states: 1,
        transitions: 0,
        depth: 0,
        elapsed: Duration::ZERO,
        bounded_by: None,
        violation: None,
    };
    let mut enabled = Vec::new();
    'search: while let Some((state, fp, depth)) = queue.pop_front() {
        if limits.time.is_some_and(|t| started.elapsed() >= t) {
            out.bounded_by = Some("time");
            break;
        }
        actions(spec, &state, &mut enabled);
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
