//! Random walks, after a breadth-first search that a bound stopped: seeded runs from the
//! initial state through the same transitions, each to a bounded length, judged at every
//! step; each violation found this way is shrunk to a path no step of which can be left
//! out, and the shortest is kept.
//!
//! Why: a bounded breadth-first search proves that no violation is at most as deep as the
//! levels it finished, and says nothing past them. Some violations are much deeper than any
//! level a search can finish: the shortest first-not-highest known takes 16 steps (three
//! ballots, two of them accepted by different acceptors), and on the defaults ten million
//! states reach only level 12. A walk goes that deep at once. What it finds is a real path of the same
//! transitions, so it is a real violation; it is not known to be a shortest one, which is
//! why the outcome says which levels the search did finish (docs/model.md, "Walks").
//!
//! Walks take only moves that change the state (a delivery the receiver ignores does
//! nothing, and with duplication most deliveries are such repeats); a walk ends at its
//! length or where no move changes anything.

use super::explore::literal_path;
use super::invariants::Violation;
use super::step::Action;
use super::world::{Move, Packed, World};
use std::time::{Duration, Instant};
use synod_node::paxos::rng::Rng;

/// Values a world holds before the walks start a fresh one (see [`walk`]): about 300 MB on
/// the defaults.
pub const MAX_VALUES: usize = 150_000;

/// What bounds the walks.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Wall-clock time for all walks.
    pub time: Duration,
    /// Walks at most (`None`: until the time is spent). With a bound the walks do not hang
    /// on the machine's speed: a seed then finds the same counterexample on any machine.
    pub max_walks: Option<u64>,
    /// Steps one walk takes at most.
    pub max_len: u32,
    pub seed: u64,
    /// Values the world may hold before a fresh one replaces it ([`MAX_VALUES`]).
    pub max_values: usize,
    /// Stop at the first violation; otherwise walk on for the whole time (or count) and
    /// keep the shortest counterexample.
    pub first_only: bool,
}

impl WalkLimits {
    /// Walks for `time`, each of at most `max_len` steps, drawn from `seed`.
    pub fn new(time: Duration, max_len: u32, seed: u64) -> WalkLimits {
        WalkLimits { time, max_walks: None, max_len, seed, max_values: MAX_VALUES, first_only: false }
    }
}

#[derive(Debug, Clone, Default)]
pub struct WalkOutcome {
    pub walks: u64,
    pub steps: u64,
    /// Fresh worlds started (see [`walk`]).
    pub resets: u64,
    pub elapsed: Duration,
    /// Walks that broke a rule.
    pub violations: u64,
    /// The shortest counterexample found (the first of that length).
    pub found: Option<Found>,
}

/// A violation a walk found.
#[derive(Debug, Clone)]
pub struct Found {
    pub violation: Violation,
    /// The walk's path shrunk (see [`shrink`]); its last move breaks the rule. Its moves
    /// name messages of the world as it was after `resets` fresh worlds.
    pub path: Vec<Move>,
    pub resets: u64,
    /// The same path as the reference search's actions, which a run folder is written from.
    pub actions: Vec<Action>,
    /// The length of the walk that found it.
    pub walk_len: usize,
}

/// Walks from `root` (the initial state of `world`'s spec) until the time (or the count of
/// walks) is spent, or with `first_only` until a walk breaks a rule.
///
/// Why walk on after a violation: shrinking ends at a path no step of which can be left
/// out, which need not be the shortest there is, and later walks often end at a shorter
/// one (first-not-highest on the defaults, seeds 0 to 7: 16 steps for two seeds at their
/// first violation, for seven within 10 s of walks).
///
/// Every state a walk meets is interned in `world`, and walks go on for as long as they are
/// given: past [`MAX_VALUES`] values, a fresh world replaces it (its initial state is the
/// same), so memory stays bounded however long they run. A violation's path is in the world
/// as it is at the end. `resets` counts the fresh worlds.
pub fn walk(world: &mut World, root: Packed, limits: WalkLimits) -> WalkOutcome {
    let started = Instant::now();
    let mut rng = Rng::new(limits.seed);
    let mut out = WalkOutcome::default();
    let mut path = Vec::new();
    while started.elapsed() < limits.time && limits.max_walks.is_none_or(|m| out.walks < m) {
        if world.values() > limits.max_values {
            let (fresh, fresh_root) = World::new(world.spec(), false);
            assert_eq!(fresh_root, root, "a world's initial state is the same in a fresh one");
            *world = fresh;
            out.resets += 1;
        }
        out.walks += 1;
        let ended = walk_once(world, root, limits.max_len, &mut rng, &mut path);
        out.steps += path.len() as u64;
        if let Some(v) = ended {
            out.violations += 1;
            let walk_len = path.len();
            let (violation, path) = shrink(world, root, std::mem::take(&mut path), v);
            if out.found.as_ref().is_none_or(|f| path.len() < f.path.len()) {
                let actions = literal_path(world.spec(), world, &path);
                out.found = Some(Found { violation, path, resets: out.resets, actions, walk_len });
            }
            if limits.first_only {
                break;
            }
        }
    }
    out.elapsed = started.elapsed();
    out
}

/// One walk from `root` of at most `max_len` moves, each drawn among the moves that change
/// the state, into `path`: the violation its last move makes, if any.
fn walk_once(
    world: &mut World,
    root: Packed,
    max_len: u32,
    rng: &mut Rng,
    path: &mut Vec<Move>,
) -> Option<Violation> {
    let (mut moves, mut changing) = (Vec::new(), Vec::new());
    let mut state = root;
    path.clear();
    for _ in 0..max_len {
        world.moves(&state, &mut moves);
        changing.clear();
        changing.extend(moves.iter().copied().filter(|&mv| world.changes(&state, mv)));
        if changing.is_empty() {
            return None;
        }
        let mv = changing[rng.below(changing.len() as u64) as usize];
        path.push(mv);
        match world.step(&state, mv) {
            Ok(next) => state = next,
            Err(v) => return Some(v),
        }
    }
    None
}

/// `path` (which breaks `v`'s rule at its last step) with steps left out while what is left
/// still breaks the same rule, until no single step and no pair of steps can be: each step
/// of the result is needed. The last step of the result is the one that breaks it.
///
/// Pairs too: a step that only another needless step needs (a timeout that starts a
/// ballot, and a delivery of that ballot's prepare) can go only together with it.
pub fn shrink(
    world: &mut World,
    root: Packed,
    mut path: Vec<Move>,
    mut v: Violation,
) -> (Violation, Vec<Move>) {
    'shorter: loop {
        let n = path.len();
        let singles = (0..n).map(|a| (a, a));
        let pairs = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b)));
        for (a, b) in singles.chain(pairs) {
            let candidate: Vec<Move> =
                path.iter().enumerate().filter(|&(at, _)| at != a && at != b).map(|(_, &mv)| mv).collect();
            if let Some((len, found)) = replay(world, root, &candidate).filter(|(_, f)| f.rule == v.rule) {
                (path, v) = (candidate[..len].to_vec(), found);
                continue 'shorter;
            }
        }
        return (v, path);
    }
}

/// Replays `path` from `root`: the violation it reaches and the steps up to it, or `None`
/// when a step is not enabled where it comes or no step breaks a rule.
pub fn replay(world: &mut World, root: Packed, path: &[Move]) -> Option<(usize, Violation)> {
    let mut state = root;
    let mut moves = Vec::new();
    for (k, &mv) in path.iter().enumerate() {
        world.moves(&state, &mut moves);
        if !moves.contains(&mv) {
            return None;
        }
        match world.step(&state, mv) {
            Ok(next) => state = next,
            Err(v) => return Some((k + 1, v)),
        }
    }
    None
}
