//! The search: breadth first from the initial state over [`Packed`] states (a [`World`]
//! holds what they name), a visited set keyed by the states themselves (exact: no
//! fingerprint collision can hide a state), and a parent pointer with the move that first
//! reached each state. Breadth first makes the first violation found a shortest one: every
//! state at depth d is expanded before any at depth d + 1, and every transition is judged as
//! it is generated.
//!
//! The queue is the list of states itself: states are appended in the order they are found,
//! which is breadth-first order, so the next state to expand is the next index.

use super::dead::Liveness;
use super::invariants::Violation;
use super::spec::Spec;
use super::state::State;
use super::step::{apply, Action, Quiet};
use super::world::{Move, Packed, World};
use std::time::{Duration, Instant};
use synod_node::paxos::hash::FastSet;

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
    /// Every path of at most this many steps was judged (every state less deep was
    /// expanded): no violation is shorter than this plus one, if none was found. The whole
    /// depth when the space was explored completely.
    pub judged_depth: u32,
    pub elapsed: Duration,
    /// What stopped the search early (`max-states`, `max-depth`, `time`), or `None` when
    /// every reachable state was visited (or a violation ended it).
    pub bounded_by: Option<&'static str>,
    /// The first violation found, with the actions from the initial state that reach it.
    pub violation: Option<(Violation, Vec<Action>)>,
    /// Bytes the search's tables of global states hold (states, parents, the visited
    /// set), at the end: the memory a state costs, node states and messages aside.
    pub table_bytes: u64,
    /// Distinct node states met (over every node), and node transitions run on the core:
    /// each (node state, input) runs once, however many global states share it.
    pub node_states: u64,
    pub core_steps: u64,
    /// Whether dead messages were taken out (asked for, and the analysis finished).
    pub dead_messages: bool,
    /// Renamings of interchangeable nodes tried on each state (1: no symmetry), and the
    /// states the visited ones stand for, each with its distinct renamings
    /// (`super::symmetry`): what a search without symmetry would visit.
    pub symmetry: u64,
    pub unfolded_states: u64,
    /// Distinct combinations of node states (by class while crashes are left, by view
    /// after: `World::classes`), ghost, client asks and crashes among the states visited:
    /// what the reductions, which merge only states that behave alike, leave unchanged.
    /// Counted for searches of at most [`COUNTED_STATES`] states (0 beyond).
    pub combinations: u64,
}

/// The largest search whose combinations are counted (the count takes a set as large).
pub const COUNTED_STATES: usize = 1_000_000;

impl Outcome {
    /// A search that has visited the initial state and nothing else yet.
    pub fn at_root() -> Outcome {
        Outcome {
            states: 1,
            transitions: 0,
            depth: 0,
            judged_depth: 0,
            elapsed: Duration::ZERO,
            bounded_by: None,
            violation: None,
            table_bytes: 0,
            node_states: 0,
            core_steps: 0,
            dead_messages: false,
            symmetry: 1,
            unfolded_states: 1,
            combinations: 0,
        }
    }

    pub fn complete(&self) -> bool {
        self.bounded_by.is_none() && self.violation.is_none()
    }

    pub fn states_per_s(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The root's parent.
const ROOT: u32 = u32::MAX;
/// The clock is read once per this many expanded states.
const CLOCK_EVERY: usize = 256;

/// Which states the search may leave out; each choice keeps every violation reachable, at
/// the same depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Every reachable state.
    None,
    /// One state of each set of renamings of interchangeable nodes ([`super::symmetry`]),
    /// and no other reduction.
    Symmetry,
    /// Node states whose records rebuild the same core are one (`World::new`'s `by_class`),
    /// and messages their receiver ignores in every state it can still reach are taken out
    /// of the net, where the analysis finishes ([`super::dead`]); no symmetry.
    NoSymmetry,
    /// All of them: symmetry, and what [`Reduction::NoSymmetry`] does.
    Full,
}

/// The search with every reduction.
pub fn explore(spec: &Spec, limits: Limits) -> Outcome {
    explore_with(spec, limits, Reduction::Full)
}

pub fn explore_with(spec: &Spec, limits: Limits, reduction: Reduction) -> Outcome {
    let started = Instant::now();
    let merged = matches!(reduction, Reduction::Full | Reduction::NoSymmetry);
    let (mut world, root) = World::new(spec, merged);
    let mut liveness = if merged { Liveness::analyse(&mut world) } else { None };
    let dead_messages = liveness.is_some();
    let symmetry = match reduction {
        Reduction::Full | Reduction::Symmetry => world.use_symmetry(),
        Reduction::None | Reduction::NoSymmetry => 1,
    };
    let (root, _, fixed) = world.canonical(&root);
    let mut states: Vec<Packed> = vec![root];
    let mut parents: Vec<(u32, Move)> = vec![(ROOT, Move::Timeout { node: 0 })];
    // Per state, with symmetry: the renaming that made it the least of its renamings.
    let mut renamings: Vec<u8> = vec![0];
    let mut visited: FastSet<Packed> = FastSet::default();
    visited.insert(world.key(&root));
    let mut out = Outcome {
        dead_messages,
        symmetry: symmetry as u64,
        unfolded_states: (symmetry as u32 / fixed) as u64,
        ..Outcome::at_root()
    };
    let mut moves = Vec::new();
    // States [.., level_end) are at depth `depth` or less.
    let (mut depth, mut level_end) = (0u32, 1usize);
    let mut i = 0;
    'search: while i < states.len() {
        if i == level_end {
            depth += 1;
            level_end = states.len();
        }
        if i % CLOCK_EVERY == 0 && limits.time.is_some_and(|t| started.elapsed() >= t) {
            out.bounded_by = Some("time");
            break;
        }
        let state = states[i];
        world.moves(&state, &mut moves);
        if limits.max_depth.is_some_and(|d| depth >= d) {
            if !moves.is_empty() {
                out.bounded_by = Some("max-depth");
            }
            i += 1;
            continue;
        }
        for &mv in &moves {
            out.transitions += 1;
            let next = match world.step(&state, mv) {
                Ok(mut next) => {
                    // A step that changed no node, no ask and no net leaves every message
                    // as live as it was: `state`'s net holds no dead one.
                    let changed = next.locals != state.locals
                        || next.net != state.net
                        || next.proposed != state.proposed;
                    if let Some(liveness) = liveness.as_mut().filter(|_| changed) {
                        next.net = liveness.without_dead(&mut world, &next);
                    }
                    next
                }
                Err(v) => {
                    let mut path = path_to(&parents, &renamings, i);
                    path.push((mv, 0));
                    let moves = unrenamed(&mut world, &path);
                    let (actions, literal) = literal_run(spec, &world, &moves);
                    out.depth = depth + 1;
                    // With symmetry the search's violation may name renamed nodes: the
                    // replay's names the nodes of the run written.
                    let literal = literal.filter(|l| l.rule == v.rule);
                    let v = literal.unwrap_or_else(|| panic!("the path replayed must break {v}"));
                    out.violation = Some((v, actions));
                    break 'search;
                }
            };
            // The visited set holds least renamings only: a successor found there is one
            // already, with no renaming to try.
            if symmetry > 1 && visited.contains(&world.key(&next)) {
                continue;
            }
            let (next, renaming, fixed) = world.canonical(&next);
            if !visited.insert(world.key(&next)) {
                continue;
            }
            states.push(next);
            parents.push((i as u32, mv));
            if symmetry > 1 {
                renamings.push(renaming);
            }
            out.unfolded_states += (symmetry as u32 / fixed) as u64;
            out.states += 1;
            out.depth = out.depth.max(depth + 1);
            if limits.max_states.is_some_and(|m| out.states >= m) {
                out.bounded_by = Some("max-states");
                break 'search;
            }
        }
        i += 1;
    }
    // Stopped while expanding level `depth` (or at max-depth, which does not expand it):
    // every level above it was expanded, so every path of `depth` steps was judged. Done:
    // every path.
    out.judged_depth = if out.bounded_by.is_some() { depth } else { out.depth };
    out.elapsed = started.elapsed();
    if states.len() <= COUNTED_STATES {
        let combinations: FastSet<_> =
            states.iter().map(|s| (world.classes(s), s.ghost, s.proposed, s.crashes)).collect();
        out.combinations = combinations.len() as u64;
    }
    out.node_states = world.node_states() as u64;
    out.core_steps = world.core_steps() as u64;
    out.table_bytes = (states.capacity() * std::mem::size_of::<Packed>()
        + parents.capacity() * std::mem::size_of::<(u32, Move)>()
        + visited.capacity() * (std::mem::size_of::<Packed>() + 1)) as u64;
    out
}

/// The moves from the root to state `i`, each with the renaming that made the state it led
/// to the least of its renamings (0, the identity, without symmetry).
fn path_to(parents: &[(u32, Move)], renamings: &[u8], mut i: usize) -> Vec<(Move, u8)> {
    let mut path = Vec::new();
    while parents[i].0 != ROOT {
        path.push((parents[i].1, renamings.get(i).copied().unwrap_or(0)));
        i = parents[i].0 as usize;
    }
    path.reverse();
    path
}

/// `path`'s moves as they go from the initial state, not renamed: each move of the search
/// was made from a state renamed by every renaming before it, so it is renamed back by
/// their inverse.
fn unrenamed(world: &mut World, path: &[(Move, u8)]) -> Vec<Move> {
    if world.symmetry.is_none() {
        return path.iter().map(|&(mv, _)| mv).collect();
    }
    let mut so_far = 0u8;
    let mut out = Vec::with_capacity(path.len());
    for &(mv, renaming) in path {
        let back = world.inverse(so_far);
        out.push(world.rename_move(mv, back));
        so_far = world.compose(so_far, renaming);
    }
    out
}

/// `path` as the reference search's actions, which name a message by its place in the
/// state's sorted net: replayed on whole states to find each place.
pub fn literal_path(spec: &Spec, world: &World, path: &[Move]) -> Vec<Action> {
    literal_run(spec, world, path).0
}

/// [`literal_path`], with the violation the replay of its last action finds.
fn literal_run(spec: &Spec, world: &World, path: &[Move]) -> (Vec<Action>, Option<Violation>) {
    let mut state = State::initial(spec);
    let mut violation = None;
    let mut actions = Vec::with_capacity(path.len());
    for &mv in path {
        let action = match mv {
            Move::Propose { node, instance } => Action::Propose { node, instance },
            Move::Timeout { node } => Action::Timeout { node },
            Move::Crash { node } => Action::Crash { node },
            Move::Deliver { msg } => {
                let index =
                    state.net.binary_search(world.msgs.get(msg)).expect("a delivered message is in flight");
                Action::Deliver { index: index as u32, keep: spec.duplicate }
            }
        };
        // The last action breaks a rule; the ones before it do not.
        violation = apply(spec, &mut state, action, &mut Quiet).err();
        actions.push(action);
    }
    (actions, violation)
}
