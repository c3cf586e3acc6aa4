//! `synod soak`: back-to-back runs, each with its own seed and a swarm-drawn nemesis (see
//! swarm.rs), each recorded as an ordinary run folder and listed in the soak's `soak.json`.
//! It stops at the first safety violation (unless `--keep-going`) and prints the command
//! that replays it. `synod mutants` (hunt.rs) soaks each mutant in turn.
//!
//! A simulated soak (`synod sim --runs`, `synod mutants --sim`) is the same soak, the same
//! draws and the same soak.json: only each run is simulated (`crate::run::run_simulated`)
//! rather than run by processes, and its replay command is `synod sim --replay`.
//!
//! Before each run, the free space of the runs dir is checked against an estimate of what a
//! run needs (crate::disk: twice the largest run folder so far, a floor before the first): a
//! run that would not fit stops the soak (exit 2), recorded in soak.json's `stopped_early`,
//! and so does a run that the disk filled up mid-way.
//!
//! Every run draws its seed, its nemesis and its contention from a generator of its own,
//! seeded from the soak's seed and the run's index only (`run_rng`): not from the runs before
//! it, nor from the clock. So run 7 of `--seed 5` is the same run whether it is the seventh
//! run of one soak or the fourth of shard 1/2 (`--shard`, shard.rs), and the shards' union is
//! the unsharded soak, run for run (`synod merge`, merge.rs).
//!
//! All runs share one runtime and one interrupt counter: Ctrl-C lets the current run heal,
//! converge and be checked, then ends the soak.

pub mod hunt;
pub mod keep;
pub mod merge;
pub mod merged;
pub mod ranges;
pub mod shard;
pub mod summary;
pub mod swarm;

use crate::exit::Exit;
use crate::nemesis::{NemesisConfig, Schedule};
use crate::progress::Progress;
use crate::run::config::RunConfig;
use crate::run::shutdown::Shutdown;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use summary::{RunRecord, SoakSummary, Totals};
use synod_node::paxos::rng::Rng;
use tokio::time::Instant;

/// What a soak does.
#[derive(Debug, Clone)]
pub struct SoakPlan {
    /// What every run shares: the cluster, the workload and the mutant. Each run draws the
    /// rest around it: its `nemesis` is the pool of faults and the mean intensities of each
    /// run's draw (swarm.rs), its `contention` the mean of the drawn contention, its `time_s`
    /// each run's workload; each run gets a seed of its own.
    pub run: RunConfig,
    pub runs: Option<u64>,
    /// Seconds for the whole soak: no run starts after it is spent.
    pub time_s: Option<f64>,
    pub seed: u64,
    pub keep_going: bool,
    /// Which runs keep their history (retention, keep.rs).
    pub keep: keep::Keep,
    /// Whether the soak moves the progress bar (not when it is one step of a mutant hunt).
    pub moves_bar: bool,
    /// Whether each run is simulated (`synod sim`) rather than run by processes.
    pub simulated: bool,
    /// Which of the soak's runs this process runs (`--shard K/N`; `Shard::WHOLE`: all).
    pub shard: shard::Shard,
}

impl SoakPlan {
    /// Checks the plan before the first run: bad settings fail now, not in the first run; so
    /// does a schedule too long for the cap at the shortest interval a run may draw, not
    /// hours into the soak.
    pub fn validate(&self) -> Result<()> {
        self.run.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
        let busiest = NemesisConfig {
            interval_s: self.run.nemesis.interval_s * swarm::MIN_INTERVAL_FACTOR,
            ..self.run.nemesis.clone()
        };
        let cfg = RunConfig { nemesis: busiest, seed: self.seed, ..self.run.clone() };
        cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
        crate::plan::generated_schedule(&cfg).with_context(|| {
            format!(
                "a soak run may draw a nemesis interval of {} x --nemesis-interval-s ({} s)",
                swarm::MIN_INTERVAL_FACTOR,
                cfg.nemesis.interval_s
            )
        })?;
        Ok(())
    }

    /// Units of the soak's progress bar: runs, or tenths of a second.
    pub fn progress_units(&self) -> u64 {
        match (self.runs, self.time_s) {
            (Some(runs), _) => self.shard.runs_of(runs),
            (None, Some(s)) => (s * 10.0) as u64,
            (None, None) => 1,
        }
    }
}

/// `synod soak`: runs the soak, prints its table, and says how it went.
pub fn soak_command(plan: SoakPlan) -> Result<Exit> {
    plan.validate()?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    let mut progress = Progress::for_soak(plan.run.quiet, plan.progress_units());
    let (summary, bench_error) = runtime.block_on(async {
        let result = soak(&plan, &mut progress, Shutdown::listen(), "").await;
        progress.finish();
        result
    })?;
    print!("{}", summary.render());
    println!("soak: {}", plan.run.runs_dir.join(&summary.soak_id).display());
    if let Some(e) = bench_error {
        eprintln!("Error: {e:#}");
        return Ok(Exit::Error);
    }
    let t = &summary.totals;
    Ok(if t.safety_violations > 0 {
        Exit::Unsafe
    } else if t.liveness_failures > 0 {
        Exit::NotLive
    } else {
        Exit::Ok
    })
}

/// The generator run `index` of the soak seeded `soak_seed` draws everything from: its seed, its
/// nemesis and its contention. It depends on those two numbers only, so that any shard of the
/// soak draws run `index` exactly as the whole soak does. (Two rounds of splitmix64: one to
/// spread the soak's seed, one over that xor the index; distinct indices give distinct states.)
pub fn run_rng(soak_seed: u64, index: u64) -> Rng {
    let spread = Rng::new(soak_seed).next_u64();
    Rng::new(Rng::new(spread ^ index).next_u64())
}

/// One soak run's config (with its drawn nemesis and contention) and schedule.
fn plan_run(
    plan: &SoakPlan,
    nemesis: &NemesisConfig,
    seed: u64,
    rng: &mut Rng,
) -> Result<(RunConfig, Schedule)> {
    // The workload is drawn too: contention from 1 (no duelling) to twice `--contention`
    // less one, so that its mean is `--contention`.
    let drawn = 1 + rng.below((2 * plan.run.contention as u64).saturating_sub(1).max(1)) as usize;
    let cfg = RunConfig {
        nemesis: nemesis.clone(),
        seed,
        quiet: true,
        contention: drawn.min(crate::limits::MAX_CONTENTION),
        ..plan.run.clone()
    };
    crate::plan::generated(cfg)
}

/// Runs a soak; a run that could not be planned or run at all ends it and comes back as the error.
/// `label` goes before the soak's totals on the progress line.
pub async fn soak(
    plan: &SoakPlan,
    progress: &mut Progress,
    shutdown: Shutdown,
    label: &str,
) -> Result<(SoakSummary, Option<anyhow::Error>)> {
    let dir = RunDir::create_prefixed(&plan.run.runs_dir, "soak-")?;
    let argv: Vec<String> = std::env::args().collect();
    let sharded = plan.shard != shard::Shard::WHOLE;
    let summary = SoakSummary {
        soak_id: dir.id.clone(),
        path: dir.path.clone(),
        seed: plan.seed,
        bug: plan.run.tuning.bug.map(|b| b.name().to_string()),
        command_line: argv.clone(),
        started_at: crate::rundir::utc_stamp(std::time::SystemTime::now()),
        keep: plan.keep,
        stopped_early: None,
        simulated: plan.simulated,
        shard: sharded.then_some(plan.shard),
        planned_runs: plan.runs,
        planned_time_s: plan.time_s,
        base: Some(plan.run.clone()),
        merged: None,
        totals: Totals::default(),
        runs: Vec::new(),
    };
    summary.write(&dir.path)?;
    let mut soaker = Soaker {
        plan,
        label,
        argv,
        summary,
        started: Instant::now(),
        window: keep::Window::new(plan.keep),
        largest_run_bytes: None,
    };
    let mut error = None;
    // This shard's runs: K, K + N, K + 2N, ... (every run when the soak is whole).
    let mut index = plan.shard.k;
    loop {
        let step = match soaker.may_start(index, &shutdown) {
            Ok(true) => soaker.run_one(index, progress, &shutdown).await,
            Ok(false) => break,
            Err(stop) => Err(stop),
        };
        if let Err(stop) = step {
            soaker.summary.stopped_early = Some(stop.reason);
            error = stop.error;
            break;
        }
        index = match index.checked_add(plan.shard.n) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(soaker.finish(&dir, error))
}

/// Why a soak ends before its runs or its time are spent: the reason soak.json records, and
/// the error the soak ends with, if it is one.
struct Stop {
    reason: String,
    error: Option<anyhow::Error>,
}

impl Stop {
    fn quietly(reason: impl Into<String>) -> Stop {
        Stop { reason: reason.into(), error: None }
    }

    fn with(reason: String, error: anyhow::Error) -> Stop {
        Stop { reason, error: Some(error) }
    }
}

/// A soak under way: its summary so far and what the next run is drawn from.
struct Soaker<'a> {
    plan: &'a SoakPlan,
    label: &'a str,
    argv: Vec<String>,
    summary: SoakSummary,
    started: Instant,
    window: keep::Window,
    /// The largest run folder so far (before the retention pruned it): what the next may need.
    largest_run_bytes: Option<u64>,
}

impl Soaker<'_> {
    /// Whether run `index` starts: not when the soak's runs or time are spent; a stop when it
    /// was interrupted or the run would not fit on the disk.
    fn may_start(&self, index: u64, shutdown: &Shutdown) -> Result<bool, Stop> {
        let plan = self.plan;
        let elapsed_s = self.started.elapsed().as_secs_f64();
        if plan.runs.is_some_and(|n| index > n) || plan.time_s.is_some_and(|s| elapsed_s >= s) {
            return Ok(false);
        }
        if shutdown.count() > 0 {
            return Err(Stop::quietly("interrupted"));
        }
        let estimate = crate::disk::Estimate::for_soak(self.largest_run_bytes);
        if let Err(why) = crate::disk::require(&plan.run.runs_dir, &estimate) {
            return Err(Stop::with(format!("run {index} would not fit: {why}"), anyhow::anyhow!(why)));
        }
        Ok(true)
    }

    /// Plans, runs and records run `index`; a stop when the soak ends with it.
    async fn run_one(
        &mut self,
        index: u64,
        progress: &mut Progress,
        shutdown: &Shutdown,
    ) -> Result<(), Stop> {
        let mut rng = run_rng(self.plan.seed, index);
        let run_seed = rng.next_u64();
        let nemesis = swarm::draw(&self.plan.run.nemesis, &mut rng);
        let (cfg, schedule) = plan_run(self.plan, &nemesis, run_seed, &mut rng)
            .map_err(|e| Stop::with(format!("run {index} could not be planned: {e:#}"), e))?;
        progress.set_prefix(self.prefix(index, &nemesis));
        let outcome = if self.plan.simulated {
            crate::run::run_simulated(cfg, schedule, &self.argv, progress, shutdown.clone()).await
        } else {
            crate::run::run(cfg, schedule, &self.argv, progress, shutdown.clone()).await
        };
        let outcome = outcome.map_err(|e| {
            // An aborted run (nodes that cannot start) would abort every later run too.
            // The summary keeps the first line; the whole error (log paths) is printed.
            let error = format!("{e:#}");
            let first = error.lines().next().unwrap_or_default();
            Stop::with(format!("run {index} could not run: {first}"), e)
        })?;
        let run_bytes = crate::disk::tree_bytes(&outcome.run_dir);
        self.largest_run_bytes = Some(self.largest_run_bytes.unwrap_or(0).max(run_bytes));
        let ended_s = self.started.elapsed().as_secs_f64();
        let record = RunRecord::new(index, run_seed, nemesis, &outcome, ended_s, self.plan.simulated);
        let unsafe_run = !record.safe;
        self.record(record, progress);
        if let Err(e) = self.summary.write(&self.summary.path) {
            return Err(Stop::with(format!("after run {index}: {e:#}"), e));
        }
        if self.plan.moves_bar {
            progress.set_position(match self.plan.runs {
                Some(_) => self.plan.shard.position(index),
                None => (self.started.elapsed().as_secs_f64() * 10.0) as u64,
            });
        }
        if unsafe_run && !self.plan.keep_going {
            return Err(Stop::quietly(format!("safety violated in run {index} (--keep-going goes on)")));
        }
        if outcome.workload_cut || outcome.interrupted {
            return Err(Stop::quietly("interrupted"));
        }
        Ok(())
    }

    /// The progress line's prefix before run `index`: the totals so far and the run's faults.
    fn prefix(&self, index: u64, nemesis: &NemesisConfig) -> String {
        let t = &self.summary.totals;
        let shard = self.plan.shard;
        let of = if shard == shard::Shard::WHOLE { String::new() } else { format!(" (shard {shard})") };
        format!(
            "{}run {index}{}{of} | {} decided, {} unsafe, {} not live | {} | ",
            self.label,
            self.plan.runs.map(|n| format!("/{n}")).unwrap_or_default(),
            t.decisions,
            t.safety_violations,
            t.liveness_failures,
            nemesis.names()
        )
    }

    /// Adds a judged run to the summary, says on the progress line how it failed, if it did,
    /// and lets the retention drop the history of a passing run that falls out of its window.
    fn record(&mut self, record: RunRecord, progress: &mut Progress) {
        let (index, label) = (record.index, self.label);
        self.summary.totals.add(&record);
        if !record.safe {
            progress.println(&format!(
                "{label}run {index}: safety violated ({}); replay with: {}",
                record.violated.join(", "),
                record.replay
            ));
        } else if record.live == Some(false) {
            progress.println(&format!("{label}run {index}: not live; replay with: {}", record.replay));
        }
        let passing = record.passing();
        self.summary.runs.push(record);
        if let Some(old) = self.window.judged(index, passing) {
            prune(self.plan, &mut self.summary, old, progress, label);
        }
    }

    /// Writes the last soak.json. On a full disk it may not fit: the one before stays (it is
    /// replaced atomically), the table is still printed, and the soak ends with this error.
    fn finish(self, dir: &RunDir, error: Option<anyhow::Error>) -> (SoakSummary, Option<anyhow::Error>) {
        let summary = self.summary;
        match summary.write(&dir.path) {
            Ok(()) => (summary, error),
            Err(e) => {
                let e = e.context("the soak's last record could not be written");
                let error = match error {
                    Some(first) => anyhow::anyhow!("{first:#}\n{e:#}"),
                    None => e,
                };
                (summary, Some(error))
            }
        }
    }
}

/// Drops the history of run `index` (a passing run the retention let go). A run that cannot
/// be pruned keeps what is left of it and the soak goes on: its verdict stands either way, and
/// its record says whether its history is still there.
fn prune(plan: &SoakPlan, summary: &mut SoakSummary, index: u64, progress: &mut Progress, label: &str) {
    // soak.json lists runs in order of index; a shard's indices have gaps.
    let at = summary.runs.binary_search_by_key(&index, |r| r.index).expect("the run pruned is listed");
    let record = &mut summary.runs[at];
    assert!(record.passing(), "the retention prunes passing runs only");
    let note = crate::pruned::Pruned {
        soak: summary.soak_id.clone(),
        keep: plan.keep.to_string(),
        dropped: Vec::new(),
        dropped_bytes: 0,
        replay: record.replay.clone(),
    };
    match crate::pruned::prune(&record.path, &plan.run.runs_dir, note) {
        Ok(done) => {
            summary.totals.pruned_runs += 1;
            summary.totals.pruned_bytes += done.dropped_bytes;
        }
        Err(e) => progress.println(&format!("{label}run {index}: history not dropped: {e:#}")),
    }
    record.history = crate::pruned::history_state(&record.path);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's draws hang on (soak seed, index) alone: the same pair, the same stream; another
    /// index or seed, another stream (no two runs of a soak share one).
    #[test]
    fn run_streams_depend_on_the_seed_and_the_index_only() {
        let first = |seed, index| run_rng(seed, index).next_u64();
        assert_eq!(first(5, 3), first(5, 3));
        let seeds: std::collections::BTreeSet<u64> = (1..=10_000).map(|i| first(5, i)).collect();
        assert_eq!(seeds.len(), 10_000);
        assert_ne!(first(5, 1), first(6, 1));
        // Not a shifted copy of the next run's stream (as seed + index would give).
        let mut one = run_rng(5, 1);
        one.next_u64();
        assert_ne!(one.next_u64(), first(5, 2));
    }

    /// A run whose schedule cannot be built (past the action cap) ends the soak as a run
    /// that could not run does: stopped early, summary written, the error handed back.
    #[test]
    fn a_run_that_cannot_be_planned_stops_the_soak_with_its_summary() {
        let runs = std::env::temp_dir().join(format!("synod-soakplan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runs);
        // Past the plan-time check: a week per run at a short interval overflows the cap.
        let run = RunConfig {
            runs_dir: runs.clone(),
            quiet: true,
            time_s: crate::limits::MAX_TIME_S,
            nemesis: NemesisConfig { interval_s: 0.5, ..NemesisConfig::default() },
            ..RunConfig::defaults(5, 0)
        };
        let plan = SoakPlan {
            run,
            runs: Some(3),
            time_s: None,
            seed: 1,
            keep_going: false,
            keep: keep::Keep::default(),
            moves_bar: false,
            simulated: false,
            shard: shard::Shard::WHOLE,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut progress = Progress::for_soak(true, 3);
        let (summary, error) =
            rt.block_on(async { soak(&plan, &mut progress, Shutdown::listen(), "").await }).unwrap();
        let error = format!("{:#}", error.expect("the error comes back"));
        assert!(error.contains("more than 1000000 actions"), "{error}");
        let stopped = summary.stopped_early.clone().unwrap_or_default();
        assert!(stopped.starts_with("run 1 could not be planned"), "{stopped}");
        let written = std::fs::read_to_string(summary.path.join(summary::SOAK_FILE)).unwrap();
        assert!(written.contains("could not be planned"), "{written}");
        std::fs::remove_dir_all(&runs).unwrap();
    }
}
