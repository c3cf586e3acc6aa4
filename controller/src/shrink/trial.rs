//! One candidate, tried: a simulated run of its config and schedule in the scratch folder,
//! judged by whether it still breaks the rule. The search keeps the smallest failing run
//! found so far (its folder stays in the scratch folder until a smaller one replaces it);
//! every other candidate's folder is deleted as soon as it is judged.
//!
//! A candidate is accepted when it breaks the rule with no more history events than the
//! current one: the search only moves towards smaller counterexamples.

use super::ddmin::Verdict;
use crate::nemesis::{file, Schedule};
use crate::progress::Progress;
use crate::run::config::{RunConfig, ScheduleSource};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A run to try: what a simulated run is a function of.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub cfg: RunConfig,
    pub schedule: Schedule,
}

/// The smallest failing run found so far.
#[derive(Debug, Clone)]
pub struct Best {
    pub candidate: Candidate,
    /// Its run folder, in the scratch folder.
    pub dir: PathBuf,
    pub events: u64,
    /// Where and when the rule broke.
    pub at: Violated,
}

/// Where and when a run broke the rule: the first violation's instance, the time it showed,
/// and the moments the faults in force made it: when the instance's race began, when each
/// of the conflicting events happened, when it showed (the faults of the race may be over
/// by the time the violation shows). Times are on the schedule's clock, from the start of
/// the workload (a history's count from the run's start, start-up included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violated {
    pub instance: u64,
    pub t_us: u64,
    /// Sorted, without repeats.
    pub moments_us: Vec<u64>,
}

impl Violated {
    /// The first violation of `rule` in `report`, or None if the rule held.
    pub fn in_report(report: &synod_checker::Report, rule: &str) -> Option<Violated> {
        let broken = report.safety.iter().find(|r| r.rule == rule && !r.ok)?;
        let start_us = report.run.workload_start_us.unwrap_or(0);
        let on_schedule = |t_us: u64| t_us.saturating_sub(start_us);
        Some(broken.first.as_ref().map_or(Violated::default(), |a| {
            let race = a.trace.first().map(|e| e.t_us);
            let mut moments_us: Vec<u64> = race
                .into_iter()
                .chain(a.events.iter().map(|e| e.t_us))
                .chain([a.t_us])
                .map(on_schedule)
                .collect();
            moments_us.sort_unstable();
            moments_us.dedup();
            Violated { instance: a.instance, t_us: on_schedule(a.t_us), moments_us }
        }))
    }
}

/// The search's state: the rule, the budget, the scratch folder and the best run so far.
pub struct Search {
    pub rule: String,
    pub scratch: PathBuf,
    pub deadline: Instant,
    pub best: Best,
    /// Candidates run (accepted or not).
    pub runs: u64,
    /// Candidates accepted.
    pub accepted: u64,
    /// Candidates whose run failed to run at all (not judged: taken as passing).
    pub errors: u64,
    /// History events of the last candidate run (failing or not; None when it did not run).
    pub last_events: Option<u64>,
}

/// A run's judgement: events, and the rule's first violation if it broke.
struct Judged {
    dir: PathBuf,
    events: u64,
    violation: Option<Violated>,
}

impl Search {
    /// The search's first run: `cut` (the original's config and schedule cut short near the
    /// violation) when it breaks the rule, else the original's own, which must break it again
    /// (a simulated run replays exactly). Its events are not compared: there is no best yet.
    pub fn first(
        rule: &str,
        scratch: &Path,
        deadline: Instant,
        cut: Candidate,
        original: Candidate,
    ) -> Result<Search> {
        let mut k = 0;
        for candidate in [cut, original] {
            k += 1;
            let judged = run(scratch, k, &candidate, rule)?;
            match judged.violation {
                Some(at) => {
                    let best = Best { candidate, dir: judged.dir, events: judged.events, at };
                    let (runs, accepted, errors) = (k, 0, 0);
                    return Ok(Search {
                        rule: rule.to_string(),
                        scratch: scratch.to_path_buf(),
                        deadline,
                        best,
                        runs,
                        accepted,
                        errors,
                        last_events: Some(judged.events),
                    });
                }
                None => {
                    let _ = std::fs::remove_dir_all(&judged.dir);
                }
            }
        }
        anyhow::bail!(
            "the run, simulated again from its meta.json and schedule.jsonl, no longer breaks {rule} \
             (was it recorded by another version of synod?)"
        )
    }

    /// Tries a candidate: [`Verdict::Fails`] (and it becomes the best) when it breaks the rule
    /// with no more events than the best; [`Verdict::OutOfBudget`] once the deadline passed.
    pub fn test(&mut self, candidate: Candidate) -> Verdict {
        self.test_within(candidate, self.best.events)
    }

    /// As [`Search::test`], but the candidate must have strictly fewer events than the best.
    pub fn test_fewer(&mut self, candidate: Candidate) -> Verdict {
        self.test_within(candidate, self.best.events.saturating_sub(1))
    }

    /// Accepts the candidate when it breaks the rule with at most `events_max` events.
    fn test_within(&mut self, candidate: Candidate, events_max: u64) -> Verdict {
        if Instant::now() >= self.deadline {
            return Verdict::OutOfBudget;
        }
        if candidate.cfg.validate().is_err() {
            return Verdict::Passes;
        }
        self.runs += 1;
        self.last_events = None;
        let judged = match run(&self.scratch, self.runs, &candidate, &self.rule) {
            Ok(j) => j,
            Err(e) => {
                tracing::debug!("shrink candidate {} did not run: {e:#}", self.runs);
                self.errors += 1;
                return Verdict::Passes;
            }
        };
        self.last_events = Some(judged.events);
        match judged.violation {
            Some(at) if judged.events <= events_max => {
                let old = std::mem::replace(
                    &mut self.best,
                    Best { candidate, dir: judged.dir, events: judged.events, at },
                );
                let _ = std::fs::remove_dir_all(&old.dir);
                self.accepted += 1;
                Verdict::Fails
            }
            _ => {
                let _ = std::fs::remove_dir_all(&judged.dir);
                Verdict::Passes
            }
        }
    }

    /// Tries the best candidate changed by `change`.
    pub fn try_change(&mut self, change: impl FnOnce(&mut Candidate)) -> Verdict {
        let mut c = self.best.candidate.clone();
        change(&mut c);
        self.test(c)
    }
}

/// One simulated run of `candidate` in `scratch` (its schedule written beside it as
/// `schedule-<k>.jsonl`, which its config names), checked for `rule`.
fn run(scratch: &Path, k: u64, candidate: &Candidate, rule: &str) -> Result<Judged> {
    let mut cfg = candidate.cfg.clone();
    let schedule_path = scratch.join(format!("schedule-{k}.jsonl"));
    std::fs::write(&schedule_path, file::render_schedule(&candidate.schedule))
        .with_context(|| format!("cannot write {}", schedule_path.display()))?;
    cfg.schedule = ScheduleSource::File { path: schedule_path.clone() };
    cfg.runs_dir = scratch.to_path_buf();
    cfg.quiet = true;
    let mut progress = Progress::for_run(true);
    let argv = ["synod".to_string(), "shrink".to_string()];
    let outcome = crate::run::sim_once(cfg, candidate.schedule.clone(), &argv, &mut progress, false);
    let _ = std::fs::remove_file(&schedule_path);
    let outcome = outcome?;
    let violation = Violated::in_report(&outcome.report, rule);
    Ok(Judged { dir: outcome.run_dir, events: outcome.report.events, violation })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two learners disagree on instance 1; the workload began at 300 ms. Invoked at 0.31 s,
    /// learned one way at 0.32 s and the other at 0.5 s.
    const SPLIT: &str = "{\"type\":\"run\",\"t\":0,\"nodes\":[1,2,3],\"acceptors\":[1,2,3],\"proposers\":[1,2,3],\"learners\":[1,2,3]}\n\
         {\"type\":\"phase\",\"t\":300000,\"phase\":\"workload\"}\n\
         {\"type\":\"invoke\",\"t\":310000,\"op\":1,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"invoke\",\"t\":310000,\"op\":2,\"node\":3,\"instance\":1,\"value\":\"w\"}\n\
         {\"type\":\"learn\",\"t\":320000,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"learn\",\"t\":500000,\"node\":3,\"instance\":1,\"value\":\"w\"}\n\
         {\"type\":\"end\",\"t\":600000}\n";

    #[test]
    fn a_violation_is_placed_on_the_schedules_clock_from_its_instances_first_event() {
        let report = synod_checker::check_reader(SPLIT.as_bytes(), "h").unwrap();
        assert_eq!(report.run.workload_start_us, Some(300_000));
        let at = Violated::in_report(&report, "agreement").expect("agreement is broken");
        assert_eq!(at, Violated { instance: 1, t_us: 200_000, moments_us: vec![10_000, 20_000, 200_000] });
        assert_eq!(Violated::in_report(&report, "validity"), None, "validity holds");
    }
}
