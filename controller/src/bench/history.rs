//! What a compressed history saves and costs (docs/performance.md, "Histories on disk"):
//!
//! - bytes per decision on disk: two runs at default settings (every fault, 5 nodes,
//!   concurrency 8, the same seed, so the same schedule), one writing `history.jsonl.zst`
//!   and one plain `history.jsonl`;
//! - the checker on the bench's generated history, plain and compressed as the writer
//!   compresses (the same level, a block per 64 KiB batch, as under load).
//!
//! c64 decisions/s with a plain history is one more throughput run in `mod.rs`.

use crate::progress::Progress;
use crate::run::run_once;
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;
use synod_checker::HistoryFormat;

/// Uncompressed bytes the writer hands zstd between two flushes in the checker figure: one
/// full batch (`history::BATCH_BYTES`), as when the writer is busy.
const FLUSH_EVERY_BYTES: usize = 64 * 1024;

/// A history's size on disk, compressed and plain, from the same schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryDisk {
    pub jsonl: DiskBytes,
    /// Plain bytes per decision over compressed, to one decimal (0 when the compressed figure is 0).
    pub ratio: f64,
    pub time_s: f64,
    pub zst: DiskBytes,
}

/// One run's history file: its bytes, the run's decisions, and their quotient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskBytes {
    pub bytes: u64,
    pub bytes_per_decision: u64,
    pub decisions: u64,
}

/// The checker on the generated history: events per second plain and compressed, the two
/// files' sizes, and the process's peak memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckerFigures {
    pub bytes: u64,
    pub bytes_zst: u64,
    pub events: u64,
    pub events_per_s: u64,
    pub events_per_s_zst: u64,
    pub peak_rss_mb: f64,
}

/// Bytes per decision of the default-settings run of `time_s` seconds, both ways.
pub fn bytes_per_decision(runs_dir: &Path, time_s: f64) -> Result<HistoryDisk> {
    let zst = disk_bytes(runs_dir, time_s, HistoryFormat::Zst)?;
    let jsonl = disk_bytes(runs_dir, time_s, HistoryFormat::Jsonl)?;
    let (per_zst, per_jsonl) = (zst.bytes_per_decision as f64, jsonl.bytes_per_decision as f64);
    let ratio = if per_zst > 0.0 { (per_jsonl / per_zst * 10.0).round() / 10.0 } else { 0.0 };
    Ok(HistoryDisk { jsonl, ratio, time_s, zst })
}

/// The default-settings run with its history stored as `format`, and its history's size.
fn disk_bytes(runs_dir: &Path, time_s: f64, format: HistoryFormat) -> Result<DiskBytes> {
    let (cfg, schedule) = super::plan::plan(super::plan::disk_config(runs_dir, time_s, format)?)?;
    // Faults may leave a run not live; its history's size is what is measured, and a
    // safety violation here would be a bug that the report names.
    let run = run_once(cfg, schedule, &mut Progress::for_run(true))?;
    if !run.report.safe {
        anyhow::bail!("a bench run was not safe: {}", run.run_dir.display());
    }
    let path = run.run_dir.join(format.file_name());
    let bytes = std::fs::metadata(&path).with_context(|| format!("cannot stat {}", path.display()))?.len();
    let decisions = run.report.figures.decisions;
    let bytes_per_decision = (bytes as f64 / decisions.max(1) as f64).round() as u64;
    Ok(DiskBytes { bytes, bytes_per_decision, decisions })
}

/// Events per second and peak memory of the checker on a generated 1,000,000-event history,
/// plain and compressed; the peak memory is the process's after both.
pub fn checker(dir: &Path) -> Result<CheckerFigures> {
    let plain = dir.join(synod_checker::HISTORY_FILE);
    let file = std::fs::File::create(&plain).with_context(|| format!("cannot create {}", plain.display()))?;
    let stats = synod_checker::bench::generate_history(1_000_000, std::io::BufWriter::new(file))?;
    let zst = dir.join(synod_checker::HISTORY_ZST_FILE);
    compress(&plain, &zst)?;
    let rate = |path: &Path| -> Result<(u64, u64)> {
        let t = Instant::now();
        let report = synod_checker::check_path(path)?;
        let secs = t.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(path)?.len();
        std::fs::remove_file(path)?;
        Ok(((report.events as f64 / secs).round() as u64, bytes))
    };
    let (events_per_s, bytes) = rate(&plain)?;
    let (events_per_s_zst, bytes_zst) = rate(&zst)?;
    Ok(CheckerFigures {
        bytes,
        bytes_zst,
        events: stats.events,
        events_per_s,
        events_per_s_zst,
        peak_rss_mb: (peak_rss_kb() as f64 / 1024.0 * 10.0).round() / 10.0,
    })
}

/// This process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// `from` into one zstd frame at `to`, at the writer's level, flushed every batch.
fn compress(from: &Path, to: &Path) -> Result<()> {
    let input = std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut input = std::io::BufReader::new(input);
    let out = std::fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut enc =
        zstd::stream::write::Encoder::new(std::io::BufWriter::new(out), crate::history::ZSTD_LEVEL)?;
    enc.include_checksum(true)?;
    let mut batch = Vec::with_capacity(FLUSH_EVERY_BYTES + 4096);
    loop {
        batch.clear();
        // Whole lines, as the writer's batches hold.
        while batch.len() < FLUSH_EVERY_BYTES {
            if input.read_until(b'\n', &mut batch)? == 0 {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        enc.write_all(&batch)?;
        enc.flush()?;
    }
    enc.finish()?.flush()?;
    Ok(())
}
