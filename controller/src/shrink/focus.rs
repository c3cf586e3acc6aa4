//! The focus pass: the faults in force when the rule broke, from the start of a small run
//! with high contention, under many seeds. A violation that needs a rare race (two proposers,
//! one acceptor holding an old value, a promise that arrives first: `first-not-highest`) may
//! happen once in a thousand instances of a long run; cutting that run down one change at a
//! time keeps it long, since each cut must still contain the rare instance. Here the run is
//! rebuilt around what made the race possible (the net's faults and the nodes down at that
//! moment) and the race is drawn again, many times, on a few instances where every one of
//! them is contended. A draw is kept only when it breaks the same rule with fewer events.

use super::ddmin::Verdict;
use super::trial::{Candidate, Search, Violated};
use crate::nemesis::{Action, Schedule, Timed};
use std::collections::BTreeSet;

/// Instances (and instances in flight) of a focused run.
pub const FOCUS_INSTANCES: u64 = 4;
/// Distinct proposers of each instance in a focused run (at most the proposers there are).
const FOCUS_CONTENTION: usize = 3;
/// Seconds of workload, and of final phase, of a focused run.
const FOCUS_TIME_S: f64 = 1.0;
const FOCUS_FINAL_S: f64 = 0.5;
/// Seeds drawn by one focus pass, at most.
const FOCUS_SEEDS_MAX: u64 = 256;

/// The faults of `schedule` in force at `t_us`, all at time 0: the last setting of each net
/// fault (loss, delay, duplicate, reorder, crash points), the partitions since the last heal,
/// and the nodes stopped or down then (stopped for good: to the others both are silent).
/// Message triggers are kept as they are.
pub fn in_force(schedule: &Schedule, t_us: u64) -> Schedule {
    let mut loss = None;
    let mut delay = None;
    let mut duplicate = None;
    let mut reorder = None;
    let mut crash_point = None;
    let mut partitions: Vec<Action> = Vec::new();
    let mut silent = BTreeSet::new();
    for timed in schedule.timed.iter().filter(|t| t.at_us <= t_us) {
        let a = &timed.action;
        match a {
            Action::Loss { .. } => loss = Some(a.clone()),
            Action::LossOff => loss = None,
            Action::Delay { .. } => delay = Some(a.clone()),
            Action::DelayOff => delay = None,
            Action::Duplicate { .. } => duplicate = Some(a.clone()),
            Action::DuplicateOff => duplicate = None,
            Action::Reorder { .. } => reorder = Some(a.clone()),
            Action::ReorderOff => reorder = None,
            Action::CrashPoint { .. } => crash_point = Some(a.clone()),
            Action::CrashPointOff => crash_point = None,
            Action::Partition { .. } => partitions.push(a.clone()),
            Action::Heal => partitions.clear(),
            Action::Stop { nodes }
            | Action::Kill { nodes }
            | Action::KillAll { nodes }
            | Action::PowerLoss { nodes, .. }
            | Action::PowerLossAll { nodes, .. } => silent.extend(nodes.iter().copied()),
            Action::Cont { nodes } | Action::Restart { nodes } => {
                for n in nodes {
                    silent.remove(n);
                }
            }
            Action::HealAll => {
                (loss, delay, duplicate, reorder, crash_point) = (None, None, None, None, None);
                partitions.clear();
                silent.clear();
            }
            Action::Hold { .. } | Action::HoldOff { .. } | Action::DropMessage => {}
        }
    }
    let mut actions: Vec<Action> =
        [loss, delay, duplicate, reorder, crash_point].into_iter().flatten().chain(partitions).collect();
    if !silent.is_empty() {
        actions.push(Action::Stop { nodes: silent.into_iter().collect() });
    }
    Schedule {
        timed: actions.into_iter().map(|action| Timed { at_us: 0, action }).collect(),
        triggers: schedule.triggers.clone(),
    }
}

/// `best` rebuilt as a focused run: the faults in force at its violation from the start, a few
/// instances all in flight, each proposed by several proposers, a short workload.
pub fn focused(best: &Candidate, t_us: u64) -> Candidate {
    let mut c = best.clone();
    c.schedule = in_force(&best.schedule, t_us);
    c.cfg.instances = Some(FOCUS_INSTANCES);
    c.cfg.concurrency = FOCUS_INSTANCES as usize;
    c.cfg.contention = best.cfg.contention.max(FOCUS_CONTENTION).min(best.cfg.proposers.len().max(1));
    c.cfg.time_s = FOCUS_TIME_S.min(best.cfg.time_s);
    c.cfg.final_s = FOCUS_FINAL_S.min(best.cfg.final_s);
    c
}

/// The focused runs of `best`: one per distinct set of faults in force at the moments of its
/// violation (when its instance's race began, at each conflicting event, when it showed),
/// earliest first. A race that needed a node cut off (the fast round's owner missing the
/// decision) may show only after the partition healed, when its owner retries.
pub fn focused_all(best: &Candidate, at: &Violated) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for &t_us in &at.moments_us {
        let c = focused(best, t_us);
        if !out.iter().any(|o| o.schedule == c.schedule) {
            out.push(c);
        }
    }
    out
}

/// The focus pass, for a run of more than one instance: its focused runs, with 1, 2 and
/// FOCUS_INSTANCES instances (fewer than it has), under the seeds from the current one,
/// until one breaks the rule (kept) or the seeds or the budget run out.
pub fn focus(search: &mut Search) -> Verdict {
    let current = search.best.candidate.cfg.instances.unwrap_or(u64::MAX);
    if current <= 1 {
        return Verdict::Passes;
    }
    let bases = focused_all(&search.best.candidate, &search.best.at);
    for k in 0..FOCUS_SEEDS_MAX {
        for base in &bases {
            // One instance first, then two, then FOCUS_INSTANCES: fewer than the run has.
            for n in [1, 2, FOCUS_INSTANCES].into_iter().filter(|&n| n < current) {
                let mut c = base.clone();
                c.cfg.seed = base.cfg.seed.wrapping_add(k);
                c.cfg.instances = Some(n);
                c.cfg.concurrency = n as usize;
                match search.test(c) {
                    Verdict::Passes => {}
                    verdict => return verdict,
                }
            }
        }
    }
    Verdict::Passes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: f64, action: Action) -> Timed {
        Timed { at_us: (s * 1e6) as u64, action }
    }

    /// The first-not-highest original's schedule up to its violation (2.54 s): n3 stopped,
    /// delay, duplicate and reorder on; the earlier kills restarted, the earlier faults off.
    #[test]
    fn in_force_keeps_what_is_on_at_the_time_and_moves_it_to_zero() {
        let s = Schedule::from(vec![
            at(0.0, Action::Kill { nodes: vec![2, 4] }),
            at(0.05, Action::Reorder { p: 0.3, max_ms: 50.0 }),
            at(0.7, Action::Restart { nodes: vec![2, 4] }),
            at(1.1, Action::ReorderOff),
            at(1.2, Action::Loss { p: 0.2 }),
            at(1.3, Action::HealAll),
            at(2.1, Action::Stop { nodes: vec![3] }),
            at(2.2, Action::Duplicate { p: 0.1 }),
            at(2.4, Action::Reorder { p: 0.3, max_ms: 50.0 }),
            at(3.2, Action::Cont { nodes: vec![3] }),
            at(3.3, Action::Loss { p: 0.5 }),
        ]);
        let got = in_force(&s, 2_540_000);
        assert!(got.timed.iter().all(|t| t.at_us == 0));
        let actions: Vec<Action> = got.timed.into_iter().map(|t| t.action).collect();
        assert_eq!(
            actions,
            [
                Action::Duplicate { p: 0.1 },
                Action::Reorder { p: 0.3, max_ms: 50.0 },
                Action::Stop { nodes: vec![3] },
            ]
        );
        assert_eq!(in_force(&s, 3_400_000).timed.len(), 3, "duplicate, reorder, loss 0.5");
        let early: Vec<Action> = in_force(&s, 10_000).timed.into_iter().map(|t| t.action).collect();
        assert_eq!(early, [Action::Stop { nodes: vec![2, 4] }], "a node down is silent: stopped");
    }

    /// The first-not-highest race of a `synod mutants --sim` run: the round-0 owner n3 cut off
    /// while the others choose (0.12 s to 0.18 s on the schedule's clock), its retry after the
    /// heal picks its own old value, and the violation shows at 0.35 s, with nothing in force.
    #[test]
    fn the_faults_in_force_when_the_race_began_are_focused_first() {
        let cut = Action::Partition {
            shape: Some("bridge".into()),
            components: Vec::new(),
            cut: vec![[1, 3], [2, 3], [3, 1], [3, 2]],
        };
        let best = Candidate {
            cfg: crate::run::config::RunConfig::defaults(3, 1),
            schedule: Schedule::from(vec![at(0.12, cut.clone()), at(0.18, Action::Heal)]),
        };
        let at = Violated { instance: 59, t_us: 350_000, moments_us: vec![140_000, 150_000, 350_000] };
        let got = focused_all(&best, &at);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].schedule.timed, [Timed { at_us: 0, action: cut }], "the race's faults first");
        assert!(got[1].schedule.timed.is_empty(), "then the violation's (none)");
        let same = Violated { instance: 59, t_us: 150_000, moments_us: vec![140_000, 150_000] };
        assert_eq!(focused_all(&best, &same).len(), 1, "one focused run for moments with the same faults");
    }

    #[test]
    fn a_focused_run_is_small_and_contended_within_the_proposers() {
        let mut best =
            Candidate { cfg: crate::run::config::RunConfig::defaults(5, 1), schedule: Schedule::default() };
        best.cfg.proposers = vec![1, 2];
        best.cfg.contention = 1;
        best.cfg.time_s = 5.0;
        let f = focused(&best, 0);
        assert_eq!(f.cfg.instances, Some(FOCUS_INSTANCES));
        assert_eq!(f.cfg.contention, 2, "no more than the proposers");
        assert_eq!(f.cfg.time_s, FOCUS_TIME_S);
        assert!(f.cfg.validate().is_ok());
    }
}
