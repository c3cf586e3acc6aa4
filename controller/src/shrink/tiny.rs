//! The tiny pass: once the passes of a round keep nothing (a fixed point) and budget is left,
//! the smallest run so far is redrawn in tiny shapes under many seeds. The other passes
//! change one thing at a time, and each change must still fail under the run's own seed; but
//! a 5-node run with 5 proposers often breaks the rule only because of a race its seed drew,
//! and on 3 nodes with 2 proposers the same seed draws no race, while another seed does. Here
//! several things change together (fewer nodes AND fewer proposers AND full contention on one
//! instance), and the seed is drawn again: a tiny run costs a few milliseconds, so hundreds
//! of seeds are cheap next to one long run.
//!
//! A draw is kept only when it breaks the same rule with strictly fewer events than the best
//! (an equal one would only churn); the caller then runs the rounds again on it.

use super::ddmin::Verdict;
use super::trial::{Candidate, Search};
use crate::nemesis::Schedule;

/// Nodes of the smallest shape (a majority of 3 is the smallest quorum system that can
/// disagree with itself in more than one way).
const NODES_MIN: u32 = 3;
/// Proposers of the largest shape.
const PROPOSERS_MAX: usize = 3;
/// Seeds drawn after the last kept draw before the pass gives up, once the best run fits a
/// screen (the budget may end it sooner). Above a screenful it draws until the budget is
/// spent: a rare race (first-not-highest's) may need tens of thousands of draws.
pub const STALL_SEEDS: u64 = 1024;
/// History events of a run that fits a screen: `synod shrink`'s target.
pub const SCREENFUL_EVENTS: u64 = 300;

/// The tiny shapes of `best`, smallest first: nodes 3..=its nodes (roles and schedule
/// narrowed, nodes.rs), 1..=3 of its proposers all contending for one instance, no revisits;
/// each with the narrowed schedule and with none.
pub fn shapes(best: &Candidate) -> Vec<Candidate> {
    let nodes = best.cfg.nodes;
    let mut out = Vec::new();
    for k in NODES_MIN.min(nodes)..=nodes {
        let Some(small) = super::nodes::with_nodes(best, k) else { continue };
        for p in 1..=small.cfg.proposers.len().min(PROPOSERS_MAX) {
            let mut c = small.clone();
            c.cfg.proposers.truncate(p);
            c.cfg.contention = p;
            c.cfg.instances = Some(1);
            c.cfg.concurrency = 1;
            c.cfg.revisit = 0.0;
            if c.cfg.validate().is_err() {
                continue;
            }
            let quiet = Candidate { schedule: Schedule::default(), ..c.clone() };
            let has_faults = !c.schedule.timed.is_empty() || !c.schedule.triggers.is_empty();
            out.push((k as usize * p, c));
            if has_faults {
                out.push((k as usize * p, quiet));
            }
        }
    }
    // Stable: for one size, the narrowed schedule before none.
    out.sort_by_key(|(size, _)| *size);
    out.into_iter().map(|(_, c)| c).collect()
}

/// Draws every tiny shape of the best run under the seeds from `*next_seed` on (the offset
/// from the best's own seed, advanced as seeds are used), until one is kept
/// ([`Verdict::Fails`]), STALL_SEEDS seeds are spent with the best run a screenful
/// ([`Verdict::Passes`]) or the budget is ([`Verdict::OutOfBudget`]). A shape whose first PRUNE_DRAWS runs all had more events
/// than the best, failing or not, is drawn no more ([`Prune`]): its failures would be larger.
pub fn tiny(search: &mut Search, next_seed: &mut u64) -> Verdict {
    let shapes = shapes(&search.best.candidate);
    let mut prune = vec![Prune::default(); shapes.len()];
    let base = search.best.candidate.cfg.seed;
    for drawn_seeds in 0.. {
        if drawn_seeds >= STALL_SEEDS && search.best.events <= SCREENFUL_EVENTS {
            break;
        }
        *next_seed += 1;
        let seed = base.wrapping_add(*next_seed);
        let mut drawn = false;
        for (shape, prune) in shapes.iter().zip(prune.iter_mut()) {
            if prune.hopeless(search.best.events) {
                continue;
            }
            drawn = true;
            let mut c = shape.clone();
            c.cfg.seed = seed;
            let verdict = search.test_fewer(c);
            prune.saw(search.last_events);
            match verdict {
                Verdict::Passes => {}
                verdict => return verdict,
            }
        }
        if !drawn {
            break;
        }
    }
    Verdict::Passes
}

/// Draws of a shape before it may be pruned.
const PRUNE_DRAWS: u32 = 8;

/// What the draws of one shape showed: how many, and the fewest events of any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prune {
    draws: u32,
    events_min: Option<u64>,
}

impl Prune {
    /// One draw's events (None: it did not run).
    pub fn saw(&mut self, events: Option<u64>) {
        self.draws += 1;
        if let Some(e) = events {
            self.events_min = Some(self.events_min.map_or(e, |m| m.min(e)));
        }
    }

    /// Whether the shape is not worth drawing against a best of `best_events`.
    pub fn hopeless(&self, best_events: u64) -> bool {
        self.draws >= PRUNE_DRAWS && self.events_min.is_none_or(|m| m >= best_events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{Action, Timed};
    use crate::run::config::RunConfig;

    #[test]
    fn the_shapes_are_small_valid_and_smallest_first() {
        let mut cfg = RunConfig::defaults(5, 7);
        cfg.contention = 3;
        cfg.instances = Some(2);
        cfg.concurrency = 2;
        let schedule = Schedule::from(vec![Timed { at_us: 0, action: Action::Stop { nodes: vec![3] } }]);
        let got = shapes(&Candidate { cfg, schedule });
        // 3 node counts x 3 proposer counts x (schedule, none).
        assert_eq!(got.len(), 18);
        let first = &got[0];
        assert_eq!((first.cfg.nodes, first.cfg.proposers.clone(), first.cfg.contention), (3, vec![1], 1));
        assert_eq!(first.schedule.timed.len(), 1, "the narrowed schedule comes first");
        assert!(got[1].schedule.timed.is_empty());
        let sizes: Vec<usize> = got.iter().map(|c| c.cfg.nodes as usize * c.cfg.proposers.len()).collect();
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        for c in &got {
            assert_eq!((c.cfg.instances, c.cfg.concurrency, c.cfg.revisit), (Some(1), 1, 0.0));
            assert_eq!(c.cfg.contention, c.cfg.proposers.len());
            assert!(c.cfg.validate().is_ok());
        }
    }

    #[test]
    fn a_shape_is_pruned_only_after_its_draws_all_were_too_long() {
        let mut p = Prune::default();
        for _ in 0..PRUNE_DRAWS - 1 {
            p.saw(Some(500));
        }
        assert!(!p.hopeless(300), "too few draws to judge");
        p.saw(Some(400));
        assert!(p.hopeless(300));
        assert!(!p.hopeless(401), "one draw was shorter than the best");
        p.saw(Some(120));
        assert!(!p.hopeless(300));
        let mut never_ran = Prune::default();
        for _ in 0..PRUNE_DRAWS {
            never_ran.saw(None);
        }
        assert!(never_ran.hopeless(u64::MAX));
    }

    #[test]
    fn a_run_smaller_than_three_nodes_keeps_its_size() {
        let mut cfg = RunConfig::defaults(2, 1);
        cfg.proposers = vec![2];
        let got = shapes(&Candidate { cfg, schedule: Schedule::default() });
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].cfg.nodes, got[0].cfg.proposers.clone()), (2, vec![2]));
    }
}
