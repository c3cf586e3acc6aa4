//! The passes of a shrink: each changes one thing a simulated run is a function of, through
//! the search (trial.rs), which keeps a change only when the run still breaks the rule with
//! no more events. Cheap, large cuts come first (time, instances), while runs are long; the
//! schedule's ddmin and the intensities come after, on short runs.
//!
//! - time: the workload cut just after the violation, then bisected in hundredths of seconds;
//!   the final phase shortened the same way; actions after the workload's end dropped;
//! - size: `--instances` capped at the violating instance, then bisected; concurrency,
//!   contention and revisits lowered; fewer nodes (nodes.rs); proposers dropped (ddmin over
//!   the list);
//! - faults: ddmin over the schedule's actions (timed ones and message triggers); the
//!   schedule's times halved while the run still fails (the faults come sooner, so fewer
//!   instances are run before them);
//! - the net's randomness: every probability and delay of the remaining actions halved
//!   towards zero while the run still fails; then other seeds, whose random choices may
//!   break the rule with fewer events (kept only when they do).
//!
//! The trace stays `all`: the counterexample must show its messages.

use super::ddmin::{ddmin, shrink_count, Verdict};
use super::trial::{Candidate, Search};
use crate::nemesis::{Action, Schedule, Timed, Trigger};
use crate::run::config::Trace;

/// Halvings of one intensity, or of the schedule's times, at most.
const HALVINGS_MAX: u32 = 4;
/// Seeds tried by each round's reseed pass.
const SEEDS_TRIED: u64 = 16;
/// Seconds of workload kept after the violation when the time is first cut.
const AFTER_VIOLATION_S: f64 = 0.2;

/// One item of a schedule, for ddmin.
#[derive(Debug, Clone)]
enum Item {
    Timed(Timed),
    Trigger(Trigger),
}

fn items(s: &Schedule) -> Vec<Item> {
    s.timed.iter().cloned().map(Item::Timed).chain(s.triggers.iter().cloned().map(Item::Trigger)).collect()
}

fn schedule_of(items: &[Item]) -> Schedule {
    let mut s = Schedule::default();
    for item in items {
        match item {
            Item::Timed(t) => s.timed.push(t.clone()),
            Item::Trigger(t) => s.triggers.push(t.clone()),
        }
    }
    s
}

/// The first change of every shrink: message events on (so the result shows them).
pub fn trace_all(c: &mut Candidate) {
    c.cfg.trace = Trace::All;
}

/// `c` with its workload cut just after the violation at `t_us` (on the schedule's clock) and
/// its instances capped at the violating one: the first candidate of a search, which spares
/// it running the whole original again.
pub fn cut_near(c: &Candidate, instance: u64, t_us: u64) -> Candidate {
    let mut cut = c.clone();
    let time_s = just_after(t_us);
    if time_s < cut.cfg.time_s {
        set_time(&mut cut, time_s);
    }
    let at = instance.max(1);
    if cut.cfg.instances.is_none_or(|n| n > at) {
        cut.cfg.instances = Some(at);
    }
    cut
}

/// One round of every pass; whether any change was kept. Stops early once out of budget.
pub fn round(search: &mut Search) -> bool {
    let before = search.accepted;
    let passes: [fn(&mut Search) -> Verdict; 13] = [
        cut_time,
        cap_instances,
        super::focus::focus,
        shrink_size,
        shrink_nodes,
        no_revisits,
        shrink_time,
        shrink_final,
        shrink_schedule,
        sooner,
        shrink_proposers,
        soften,
        reseed,
    ];
    for pass in passes {
        if pass(search) == Verdict::OutOfBudget {
            break;
        }
    }
    search.accepted > before
}

/// Hundredths of seconds, rounded up (at least one): the unit times are cut in. A tenth
/// was too coarse for a one-node run, where 100 ms of workload after a restart is hundreds
/// of events.
fn hundredths(s: f64) -> u64 {
    ((s * 100.0 - 1e-9).ceil() as u64).max(1)
}

/// Seconds of `n` hundredths.
fn seconds(n: u64) -> f64 {
    n as f64 / 100.0
}

/// The workload's time that ends [`AFTER_VIOLATION_S`] after a violation at `t_us` (on the
/// schedule's clock), in whole hundredths.
fn just_after(t_us: u64) -> f64 {
    seconds(hundredths(t_us as f64 / 1e6 + AFTER_VIOLATION_S))
}

/// The schedule without the actions timed after `time_s` of workload (they never happen).
fn within(schedule: &Schedule, time_s: f64) -> Schedule {
    let end_us = (time_s * 1e6) as u64;
    Schedule {
        timed: schedule.timed.iter().filter(|t| t.at_us <= end_us).cloned().collect(),
        triggers: schedule.triggers.clone(),
    }
}

fn set_time(c: &mut Candidate, time_s: f64) {
    c.cfg.time_s = time_s;
    c.schedule = within(&c.schedule, time_s);
}

/// The workload cut just after the violation (its time is on the schedule's clock, which
/// starts with the workload).
fn cut_time(search: &mut Search) -> Verdict {
    let cut = just_after(search.best.at.t_us);
    if cut >= search.best.candidate.cfg.time_s {
        return Verdict::Passes;
    }
    search.try_change(|c| set_time(c, cut))
}

fn shrink_time(search: &mut Search) -> Verdict {
    let current = hundredths(search.best.candidate.cfg.time_s);
    last(shrink_count(current, 1, &mut |t| search.try_change(|c| set_time(c, seconds(t)))), search)
}

fn shrink_final(search: &mut Search) -> Verdict {
    let current = hundredths(search.best.candidate.cfg.final_s);
    last(shrink_count(current, 1, &mut |t| search.try_change(|c| c.cfg.final_s = seconds(t))), search)
}

/// No more instances than the one that broke the rule, then fewer.
fn cap_instances(search: &mut Search) -> Verdict {
    let at = search.best.at.instance.max(1);
    if search.best.candidate.cfg.instances.is_none_or(|n| n > at)
        && search.try_change(|c| c.cfg.instances = Some(at)) == Verdict::OutOfBudget
    {
        return Verdict::OutOfBudget;
    }
    let Some(current) = search.best.candidate.cfg.instances else { return Verdict::Passes };
    last(shrink_count(current, 1, &mut |n| search.try_change(|c| c.cfg.instances = Some(n))), search)
}

fn shrink_size(search: &mut Search) -> Verdict {
    let current = search.best.candidate.cfg.concurrency as u64;
    shrink_count(current, 1, &mut |n| search.try_change(|c| c.cfg.concurrency = n as usize));
    let current = search.best.candidate.cfg.contention as u64;
    last(shrink_count(current, 1, &mut |n| search.try_change(|c| c.cfg.contention = n as usize)), search)
}

/// A smaller cluster (nodes.rs): nodes 1..=k.
fn shrink_nodes(search: &mut Search) -> Verdict {
    let current = u64::from(search.best.candidate.cfg.nodes);
    let mut test = |k: u64| match super::nodes::with_nodes(&search.best.candidate, k as u32) {
        Some(c) => search.test(c),
        None => Verdict::Passes,
    };
    last(shrink_count(current, 1, &mut test), search)
}

fn no_revisits(search: &mut Search) -> Verdict {
    if search.best.candidate.cfg.revisit == 0.0 {
        return Verdict::Passes;
    }
    search.try_change(|c| c.cfg.revisit = 0.0)
}

/// Fewer proposers: ddmin over the list (an empty list is refused by the config's check
/// and so passes).
fn shrink_proposers(search: &mut Search) -> Verdict {
    let proposers = search.best.candidate.cfg.proposers.clone();
    ddmin(proposers, &mut |p| search.try_change(|c| c.cfg.proposers = p.to_vec()));
    budget(search)
}

fn shrink_schedule(search: &mut Search) -> Verdict {
    let all = items(&search.best.candidate.schedule);
    ddmin(all, &mut |kept| search.try_change(|c| c.schedule = schedule_of(kept)));
    budget(search)
}

/// Every action's time halved while the run still fails, the workload ending as long after
/// the last one as before: a fault that needs decided instances (a kill between decisions
/// and their revisits) comes after fewer of them.
fn sooner(search: &mut Search) -> Verdict {
    for _ in 0..HALVINGS_MAX {
        if search.best.candidate.schedule.timed.iter().all(|t| t.at_us == 0) {
            break;
        }
        let halved = |c: &mut Candidate| {
            let last_us = c.schedule.timed.iter().map(|t| t.at_us).max().unwrap_or(0);
            c.schedule.timed.iter_mut().for_each(|t| t.at_us /= 2);
            let earlier_s = (last_us - last_us / 2) as f64 / 1e6;
            c.cfg.time_s = seconds(hundredths(c.cfg.time_s - earlier_s));
        };
        match search.try_change(halved) {
            Verdict::Fails => {}
            Verdict::Passes => break,
            Verdict::OutOfBudget => return Verdict::OutOfBudget,
        }
    }
    budget(search)
}

/// Every remaining probability and delay halved while the run still fails.
fn soften(search: &mut Search) -> Verdict {
    let timed = search.best.candidate.schedule.timed.len();
    for i in 0..timed {
        for _ in 0..HALVINGS_MAX {
            let mut action = search.best.candidate.schedule.timed[i].action.clone();
            if !halve(&mut action) {
                break;
            }
            match search.try_change(|c| c.schedule.timed[i].action = action) {
                Verdict::Fails => {}
                Verdict::Passes => break,
                Verdict::OutOfBudget => return Verdict::OutOfBudget,
            }
        }
    }
    budget(search)
}

/// Other seeds for the same small run, and for it with half its instances: the seed draws
/// every random choice of a simulated run (the net's losses and delays, the workload's
/// timing, the nodes' backoffs), and another draw may break the rule sooner, even in a run
/// too small for the current seed's. The SEEDS_TRIED seeds after the current one.
fn reseed(search: &mut Search) -> Verdict {
    let seed = search.best.candidate.cfg.seed;
    for k in 1..=SEEDS_TRIED {
        let fewer = search.best.candidate.cfg.instances.map(|n| n / 2).filter(|&n| n >= 1);
        if let Some(n) = fewer {
            let change = |c: &mut Candidate| {
                c.cfg.seed = seed.wrapping_add(k);
                c.cfg.instances = Some(n);
            };
            if search.try_change(change) == Verdict::OutOfBudget {
                return Verdict::OutOfBudget;
            }
        }
        if search.try_change(|c| c.cfg.seed = seed.wrapping_add(k)) == Verdict::OutOfBudget {
            return Verdict::OutOfBudget;
        }
    }
    budget(search)
}

/// Halves an action's intensities; false when it has none (or they are already tiny).
fn halve(action: &mut Action) -> bool {
    const TINY: f64 = 1e-3;
    let half = |v: &mut f64| {
        if *v > TINY {
            *v /= 2.0;
            true
        } else {
            false
        }
    };
    match action {
        Action::Loss { p } | Action::Duplicate { p } => half(p),
        Action::Delay { mean_ms, .. } => half(mean_ms),
        Action::Reorder { p, max_ms } => half(p) | half(max_ms),
        Action::CrashPoint { p, .. } => half(p),
        _ => false,
    }
}

/// The verdict a pass ends with: out of budget once the deadline passed.
fn budget(search: &Search) -> Verdict {
    if std::time::Instant::now() >= search.deadline {
        Verdict::OutOfBudget
    } else {
        Verdict::Passes
    }
}

fn last(_: u64, search: &Search) -> Verdict {
    budget(search)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_lowers_each_intensity_and_stops_at_none() {
        let mut a = Action::Reorder { p: 0.3, max_ms: 50.0 };
        assert!(halve(&mut a));
        assert_eq!(a, Action::Reorder { p: 0.15, max_ms: 25.0 });
        let mut a = Action::Loss { p: 0.0 };
        assert!(!halve(&mut a));
        let mut a = Action::Heal;
        assert!(!halve(&mut a));
    }

    #[test]
    fn cutting_the_time_drops_the_actions_after_it() {
        let timed = |at_us| Timed { at_us, action: Action::Heal };
        let s = Schedule::from(vec![timed(100_000), timed(1_500_000), timed(2_000_001)]);
        let cut = within(&s, 2.0);
        assert_eq!(cut.timed.iter().map(|t| t.at_us).collect::<Vec<_>>(), [100_000, 1_500_000]);
        assert_eq!(schedule_of(&items(&cut)), cut);
        assert_eq!(hundredths(0.0), 1);
        assert_eq!(hundredths(1.234), 124);
        assert_eq!(hundredths(0.1), 10, "no float error rounds a whole count up");
        assert_eq!(seconds(hundredths(0.07)), 0.07);
    }
}
