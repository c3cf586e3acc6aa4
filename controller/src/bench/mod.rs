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
//! - a history's bytes per decision on disk, compressed and plain (history.rs).
//!
//! - with an `etcd` binary on PATH: a 3-member etcd cluster on loopback, put latency at
//!   concurrency 1 and puts per second at 64 (etcd.rs), beside synod's as ratios.

mod etcd;
mod figures;
mod history;
mod plan;
mod render;

use crate::cli::BenchArgs;
use crate::exit::Exit;
use crate::progress::Progress;
use crate::run::run_once;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use figures::{BenchFigures, DecisionLatency, DecisionsPerS, EtcdRatios, Floor, LazyFs, Quantiles};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub fn bench(args: BenchArgs) -> Result<Exit> {
    let dir = RunDir::create_prefixed(&args.runs_dir, "bench-")?;
    let say = |line: String| {
        if !args.json {
            eprintln!("{line}");
        }
    };
    // First, while this process is small: the checker's peak memory is this process's.
    say("checker: 1,000,000 generated events ...".into());
    let checker = history::checker(&dir.path)?;
    say("floor: 64-byte append + fdatasync ...".into());
    let fsync = fsync_us(&dir.path.join("fsync"), 2_000, false)?;
    let fsync_prealloc = fsync_us(&dir.path.join("fsync"), 2_000, true)?;
    let runs_dir = dir.path.join("runs");
    let mut latency = Vec::new();
    let mut net_rtt = None;
    // Concurrency 1: n3, n5, n3_two_phase.
    for planned in [plan::N3, plan::N5, plan::N3_TWO_PHASE] {
        say(format!(
            "decision latency: {} nodes, concurrency 1 {} ...",
            planned.nodes,
            planned.variant.label()
        ));
        let run = run(&runs_dir, planned, args.time)?;
        let l = &run.report.figures.decision_latency_first_learn.all;
        latency.push(Quantiles { p50: l.p50_us, p99: l.p99_us, p999: l.p999_us });
        if planned == plan::N3 {
            net_rtt = rtt_us(&run.run_dir)?;
        }
    }
    let decision_latency_us = DecisionLatency { n3: latency[0], n5: latency[1], n3_two_phase: latency[2] };
    let mut per_s = Vec::new();
    // 3 nodes, in the order of the fields below.
    let throughput = [
        plan::C1,
        plan::C16,
        plan::C64,
        plan::C256,
        plan::C64_TRACE_OPS,
        plan::C64_TWO_PHASE,
        plan::C64_JSONL,
    ];
    for planned in throughput {
        say(format!(
            "throughput: 3 nodes, concurrency {} {} ...",
            planned.concurrency,
            planned.variant.label()
        ));
        let run = run(&runs_dir, planned, args.time)?;
        per_s.push(run.report.figures.decisions_per_s.round() as u64);
    }
    let decisions_per_s = DecisionsPerS {
        c1: per_s[0],
        c16: per_s[1],
        c64: per_s[2],
        c256: per_s[3],
        c64_trace_ops: per_s[4],
        c64_two_phase: per_s[5],
        c64_jsonl: per_s[6],
    };
    // The lazy filesystem's cost: the same n3 latency and c64 runs with the data dirs on it.
    let lazy_fs = match crate::lazyfs::available() {
        Ok(()) => {
            say("lazy filesystem: decision latency n3 and throughput c64 with --lazy-fs ...".into());
            let l = run(&runs_dir, plan::LAZY_FS_N3, args.time)?;
            let l = &l.report.figures.decision_latency_first_learn.all;
            let c = run(&runs_dir, plan::LAZY_FS_C64, args.time)?;
            LazyFs::Measured {
                n3_p50: l.p50_us,
                n3_p99: l.p99_us,
                c64_per_s: c.report.figures.decisions_per_s.round() as u64,
            }
        }
        Err(why) => LazyFs::Unavailable { unavailable: why },
    };
    // The reference run: `synod run --time 10` at default settings (twice --time).
    let disk_time_s = 2.0 * args.time;
    say(format!("history on disk: default settings, {disk_time_s} s, compressed and plain ..."));
    let history_disk = history::bytes_per_decision(&runs_dir, disk_time_s)?;
    let floor_us = Floor {
        net_rtt,
        fsync: fsync.0,
        fsync_p99: fsync.1,
        fsync_preallocated: fsync_prealloc.0,
        fsync_preallocated_p99: fsync_prealloc.1,
    };
    say("etcd (if on PATH): 3 members, puts at concurrency 1 and 64 ...".into());
    let etcd = etcd::measure(&dir.path.join("etcd"), args.time.min(5.0))?;
    let p50_n3 = decision_latency_us.n3.p50;
    let figures = BenchFigures {
        ratio_to_floor: figures::ratio_to_floor(p50_n3, &floor_us),
        ratio_to_floor_two_phase: figures::ratio_to_floor(decision_latency_us.n3_two_phase.p50, &floor_us),
        etcd_ratios: etcd.as_ref().map(|e| EtcdRatios::new(p50_n3, decisions_per_s.c64, e)),
        etcd,
        checker,
        decision_latency_us,
        decisions_per_s,
        floor_us,
        history_disk,
        lazy_fs,
    };
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

/// The fault-free run `planned` for `time_s` seconds, at a random seed; an error unless it
/// was safe and live.
fn run(runs_dir: &Path, planned: plan::Measured, time_s: f64) -> Result<crate::run::RunOutcome> {
    let (cfg, schedule) = plan::plan(planned.config(runs_dir, time_s, crate::run::random_u64()))?;
    let outcome = run_once(cfg, schedule, &mut Progress::for_run(true))?;
    if outcome.report.exit_code() != 0 {
        anyhow::bail!("a bench run was not safe and live: {}", outcome.run_dir.display());
    }
    Ok(outcome)
}

/// p50 and p99 of `n` 64-byte appends, each followed by fdatasync, in `dir`. With
/// `preallocated`, the file is first written full of zeros and the appends overwrite them,
/// as the node's log does (node/src/storage/log.rs).
fn fsync_us(dir: &Path, n: usize, preallocated: bool) -> Result<(u64, u64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("append.log");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
    if preallocated {
        f.write_all(&vec![0u8; n * 64])?;
        f.sync_all()?;
        use std::io::Seek;
        f.rewind()?;
    }
    let mut us = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&[0x5a; 64])?;
        f.sync_data()?;
        us.push(t.elapsed().as_micros() as u64);
    }
    drop(f);
    std::fs::remove_file(&path)?;
    us.sort_unstable();
    Ok((us[n / 2], us[n * 99 / 100]))
}

/// The median time from a `decided` between two different nodes to the `decided_ok` that
/// answers it being handed back: one round trip through the controller's net and the other
/// node. `run` is the run folder (or its history file).
fn rtt_us(run: &Path) -> Result<Option<u64>> {
    use std::collections::HashMap;
    use synod_checker::history::{Event, Events, Msg};
    let mut events = Events::open(run)?;
    let mut decided_sent: HashMap<(u64, u64, u64), u64> = HashMap::new(); // (instance, from, to) -> t
    let mut ok_msg: HashMap<u64, u64> = HashMap::new(); // msg id of a decided_ok -> its decided's t
    let mut rtts = Vec::new();
    while let Some(ev) = events.next() {
        match ev? {
            Event::Send(s) if s.src != s.dest => match s.body.paxos() {
                Some(Msg::Decided { instance, .. }) => {
                    decided_sent.entry((*instance, s.src, s.dest)).or_insert(s.t);
                }
                Some(Msg::DecidedOk { instance }) => {
                    if let (Some(msg), Some(&sent)) = (s.msg, decided_sent.get(&(*instance, s.dest, s.src))) {
                        ok_msg.insert(msg, sent);
                    }
                }
                _ => {}
            },
            Event::Recv(r) => {
                if let Some(sent) = r.msg.and_then(|m| ok_msg.remove(&m)) {
                    rtts.push(r.t.saturating_sub(sent));
                }
            }
            _ => {}
        }
    }
    rtts.sort_unstable();
    Ok(rtts.get(rtts.len() / 2).copied())
}

/// This process's peak resident memory (VmHWM), in KiB.
pub(crate) fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
