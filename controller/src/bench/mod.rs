//! `synod bench`: synod's own speed, measured side by side in one run on this machine.
//!
//! - the floor: a 64-byte append plus fdatasync in a data dir, and a round trip through the
//!   controller's net between two node processes (from a fault-free run's history: a
//!   proposer's `decided` to another node until that node's `decided_ok` is handed back);
//! - fault-free decision latency on 3 and 5 nodes, one proposer an instance, concurrency 1,
//!   fsync on, and its ratio to the floor (two net round trips plus two fdatasyncs); on 3
//!   nodes also with `--no-fast-round`, so that both phases of every ballot are measured too;
//! - decisions per second at concurrency 1, 16, 64 and 256 (message tracing on), and at 64
//!   with `--trace ops`, with both phases, and with a plain (uncompressed) history;
//! - the checker on a generated 1,000,000-event history, plain and compressed: events per
//!   second, peak memory;
//! - a history's bytes per decision on disk, compressed and plain (history.rs);
//! - the simulator beside the processes: decisions per wall second of the default run
//!   configuration, simulated and as processes, and simulated seconds per wall second
//!   (sim.rs).
//!
//! - `synod model` on its default spec, bounded at 2,000,000 states: unique states per
//!   second and table bytes per state;
//! - with an `etcd` binary on PATH: a 3-member etcd cluster on loopback, put latency at
//!   concurrency 1 and puts per second at 64 (etcd.rs), beside synod's as ratios.
//!
//! This file orders the measurements; plan.rs plans each run as a typed config, floor.rs,
//! history.rs and etcd.rs measure, figures.rs holds the figures as bench.json writes them
//! and render.rs prints them as text.

mod etcd;
mod figures;
mod floor;
mod history;
pub mod plan;
mod render;
mod sim;

use crate::exit::Exit;
use crate::progress::Progress;
use crate::run::{run_once, RunOutcome};
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use figures::{
    BenchFigures, DecisionLatency, DecisionsPerS, EtcdRatios, Floor, LazyFs, ModelFigures, Quantiles,
};
use std::path::{Path, PathBuf};

/// What `synod bench` was asked for.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Where the bench's folder (its runs and bench.json) goes.
    pub runs_dir: PathBuf,
    /// Seconds of workload in each measured run.
    pub time_s: f64,
    /// Print the figures as JSON, with no progress lines (`--json`).
    pub json: bool,
}

pub fn bench(args: BenchPlan) -> Result<Exit> {
    let dir = RunDir::create_prefixed(&args.runs_dir, "bench-")?;
    let bench = Bench { runs_dir: dir.path.join("runs"), time_s: args.time_s, progress: !args.json };
    let figures = bench.measure(&dir.path)?;
    let path = dir.path.join("bench.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&figures)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print!("{}", render::render(&figures));
        println!("bench: {}", path.display());
    }
    Ok(Exit::Ok)
}

/// One bench: where its runs go, the seconds of workload in each, and whether a line on
/// stderr says what is being measured (not with `--json`).
struct Bench {
    runs_dir: PathBuf,
    time_s: f64,
    progress: bool,
}

impl Bench {
    fn say(&self, line: &str) {
        if self.progress {
            eprintln!("{line}");
        }
    }

    /// Every figure, measured in `dir` (the bench's folder).
    fn measure(&self, dir: &Path) -> Result<BenchFigures> {
        // First, while this process is small: the checker's peak memory is this process's.
        self.say("checker: 1,000,000 generated events ...");
        let checker = history::checker(dir)?;
        self.say("floor: 64-byte append + fdatasync ...");
        let fsync = floor::fsync_us(&dir.join("fsync"), 2_000, false)?;
        let fsync_prealloc = floor::fsync_us(&dir.join("fsync"), 2_000, true)?;
        let (decision_latency_us, net_rtt) = self.decision_latency()?;
        let floor_us = Floor {
            net_rtt,
            fsync: fsync.0,
            fsync_p99: fsync.1,
            fsync_preallocated: fsync_prealloc.0,
            fsync_preallocated_p99: fsync_prealloc.1,
        };
        let decisions_per_s = self.throughput()?;
        let lazy_fs = self.lazy_fs()?;
        let history_disk = self.history_disk()?;
        self.say(&format!("simulation: default settings, {} s, as processes and simulated ...", self.time_s));
        let sim = sim::measure(&self.runs_dir, self.time_s)?;
        self.say("model checker: the default spec, up to 2,000,000 states ...");
        let model = model_figures();
        self.say("etcd (if on PATH): 3 members, puts at concurrency 1 and 64 ...");
        let etcd = etcd::measure(&dir.join("etcd"), self.time_s.min(5.0))?;
        let p50_n3 = decision_latency_us.n3.p50;
        Ok(BenchFigures {
            ratio_to_floor: figures::ratio_to_floor(p50_n3, &floor_us),
            ratio_to_floor_two_phase: figures::ratio_to_floor(
                decision_latency_us.n3_two_phase.p50,
                &floor_us,
            ),
            etcd_ratios: etcd.as_ref().map(|e| EtcdRatios::new(p50_n3, decisions_per_s.c64, e)),
            etcd,
            checker,
            decision_latency_us,
            decisions_per_s,
            floor_us,
            history_disk,
            lazy_fs,
            model,
            sim,
        })
    }

    /// Decision latency at concurrency 1, and the floor's net round trip from the n3 run's
    /// history (`None` if it holds none).
    fn decision_latency(&self) -> Result<(DecisionLatency, Option<u64>)> {
        let n3 = self.latency_run(plan::N3)?;
        let net_rtt = floor::rtt_us(&n3.run_dir)?;
        let n5 = self.latency_run(plan::N5)?;
        let n3_two_phase = self.latency_run(plan::N3_TWO_PHASE)?;
        let latency = DecisionLatency {
            n3: quantiles(&n3),
            n3_two_phase: quantiles(&n3_two_phase),
            n5: quantiles(&n5),
        };
        Ok((latency, net_rtt))
    }

    fn latency_run(&self, planned: plan::Measured) -> Result<RunOutcome> {
        let (nodes, label) = (planned.nodes, planned.variant.label());
        self.say(&format!("decision latency: {nodes} nodes, concurrency 1 {label} ..."));
        self.run(planned)
    }

    /// Decisions per second; the runs are made in the order of the fields.
    fn throughput(&self) -> Result<DecisionsPerS> {
        Ok(DecisionsPerS {
            c1: self.per_s(plan::C1)?,
            c16: self.per_s(plan::C16)?,
            c64: self.per_s(plan::C64)?,
            c256: self.per_s(plan::C256)?,
            c64_trace_ops: self.per_s(plan::C64_TRACE_OPS)?,
            c64_two_phase: self.per_s(plan::C64_TWO_PHASE)?,
            c64_jsonl: self.per_s(plan::C64_JSONL)?,
        })
    }

    fn per_s(&self, planned: plan::Measured) -> Result<u64> {
        let (nodes, c, label) = (planned.nodes, planned.concurrency, planned.variant.label());
        self.say(&format!("throughput: {nodes} nodes, concurrency {c} {label} ..."));
        Ok(self.run(planned)?.report.figures.decisions_per_s.round() as u64)
    }

    /// The lazy filesystem's cost: the same n3 latency and c64 runs with the data dirs on it.
    fn lazy_fs(&self) -> Result<LazyFs> {
        if let Err(why) = crate::lazyfs::available() {
            return Ok(LazyFs::Unavailable { unavailable: why });
        }
        self.say("lazy filesystem: decision latency n3 and throughput c64 with --lazy-fs ...");
        let n3 = quantiles(&self.run(plan::LAZY_FS_N3)?);
        let c64 = self.run(plan::LAZY_FS_C64)?;
        let c64_per_s = c64.report.figures.decisions_per_s.round() as u64;
        Ok(LazyFs::Measured { c64_per_s, n3_p50: n3.p50, n3_p99: n3.p99 })
    }

    /// The reference run: `synod run --time 10` at default settings (twice --time).
    fn history_disk(&self) -> Result<history::HistoryDisk> {
        let disk_time_s = 2.0 * self.time_s;
        self.say(&format!("history on disk: default settings, {disk_time_s} s, compressed and plain ..."));
        history::bytes_per_decision(&self.runs_dir, disk_time_s)
    }

    /// The fault-free run `planned`, at a random seed; an error unless it was safe and live.
    fn run(&self, planned: plan::Measured) -> Result<RunOutcome> {
        let cfg = planned.config(&self.runs_dir, self.time_s, crate::run::random_u64());
        let (cfg, schedule) = plan::plan(cfg)?;
        let outcome = run_once(cfg, schedule, &mut Progress::for_run(true))?;
        if outcome.report.exit_code() != 0 {
            anyhow::bail!("a bench run was not safe and live: {}", outcome.run_dir.display());
        }
        Ok(outcome)
    }
}

/// A run's decision latency (from a proposal to its first learn), all ops.
fn quantiles(run: &RunOutcome) -> Quantiles {
    let l = &run.report.figures.decision_latency_first_learn.all;
    Quantiles { p50: l.p50_us, p99: l.p99_us, p999: l.p999_us }
}

/// The model checker's speed on its default spec, bounded by a count of states so that the
/// figure does not depend on how long the space is.
fn model_figures() -> ModelFigures {
    let spec = crate::model::Spec::default();
    let out = crate::model::explore(
        &spec,
        crate::model::Limits { max_states: Some(2_000_000), ..Default::default() },
    );
    ModelFigures {
        states: out.states,
        states_per_s: out.states_per_s().round() as u64,
        table_bytes_per_state: out.table_bytes / out.states.max(1),
        complete: out.complete(),
    }
}
