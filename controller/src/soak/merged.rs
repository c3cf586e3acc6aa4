//! What a merge of shard folders records of its shards: where each came from, what came
//! twice, what is missing (the `merged` part of a merged soak.json), and its lines in the
//! table. Apart from `merge.rs`, which builds it, so that the soak summary can hold it.

use super::ranges::ranges;
use super::shard::Shard;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::PathBuf;

/// Where each shard came from, and what was twice or missing (in the merge's soak.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// N: the campaign's shard count.
    pub shards: u64,
    /// The shard folders counted, in shard order.
    pub sources: Vec<Source>,
    /// Shard folders given again (a copy, or a second soak of the same shard), not counted.
    pub duplicates: Vec<Duplicate>,
    /// Shards K of N that no folder held.
    pub missing_shards: Vec<u64>,
    /// Runs of the planned `--runs` that no folder holds (those of missing shards too).
    pub missing_runs: Vec<u64>,
    /// Runs recorded in a soak.json whose run folder is not where the shard's folder is.
    pub runs_without_folder: Vec<u64>,
    /// Runs that a duplicate copy judged worse (unsafe, or not live) than the copy counted
    /// did: they count as the duplicate recorded them, so no violation is lost.
    #[serde(default)]
    pub worse_in_duplicate: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub shard: Shard,
    pub soak_id: String,
    pub dir: PathBuf,
    pub runs: u64,
    pub stopped_early: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    pub shard: Shard,
    pub soak_id: String,
    pub dir: PathBuf,
    /// The folder counted instead.
    pub counted: PathBuf,
    /// Whether it is a copy of the very soak counted (same soak id), not a second soak of the shard.
    pub same_soak: bool,
}

impl Merged {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let found: Vec<u64> = self.sources.iter().map(|s| s.shard.k).collect();
        let _ = writeln!(out, "  shards merged: {} of {}", found.len(), self.shards);
        for s in &self.sources {
            let stopped =
                s.stopped_early.as_deref().map(|w| format!(", stopped early: {w}")).unwrap_or_default();
            let _ = writeln!(out, "    shard {} ({} runs{stopped}): {}", s.shard, s.runs, s.dir.display());
        }
        for d in &self.duplicates {
            let what =
                if d.same_soak { "a copy of the folder counted" } else { "another soak of the same shard" };
            let _ = writeln!(
                out,
                "  DUPLICATE shard {} in {} ({what}, {}): counted once, from {}",
                d.shard,
                d.dir.display(),
                d.soak_id,
                d.counted.display()
            );
        }
        if !self.missing_shards.is_empty() {
            let list: Vec<String> =
                self.missing_shards.iter().map(|k| format!("{k}/{}", self.shards)).collect();
            let _ = writeln!(out, "  MISSING shards: {}", list.join(", "));
        }
        if !self.missing_runs.is_empty() {
            let _ = writeln!(out, "  MISSING {}", ranges(&self.missing_runs));
        }
        if !self.worse_in_duplicate.is_empty() {
            let _ = writeln!(
                out,
                "  judged worse in a duplicate copy, counted as it recorded them: {}",
                ranges(&self.worse_in_duplicate)
            );
        }
        if !self.runs_without_folder.is_empty() {
            let _ = writeln!(
                out,
                "  run folders not found next to their soak folder: {} (their records still count)",
                ranges(&self.runs_without_folder)
            );
        }
        out
    }

    /// Whether every shard and every planned run came back.
    pub fn complete(&self) -> bool {
        self.missing_shards.is_empty() && self.missing_runs.is_empty()
    }
}
