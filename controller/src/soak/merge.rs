//! `synod merge DIR...`: the shards of a campaign (`synod soak --shard K/N` on many machines,
//! their folders copied back) as one soak. Each DIR is a soak folder (it holds soak.json) or a
//! folder with soak folders at most two levels below it (a pod's runs dir, copied whole).
//!
//! The merge writes a soak.json of its own, `runs/campaign-<id>/soak.json`, that lists every
//! run of every shard by its folder here (so `synod ls` and `synod compare` read the merged
//! set as they read any soak) with its replay command rewritten to that folder. Its totals are
//! counted again from the runs, one record per run index: a shard given twice (two copies of
//! one folder, or a shard's pod that a scheduler ran again) is reported and counted once, the
//! copy with more runs kept. Shards that never came back and runs that a shard did not get to
//! are reported by number. Shards of different campaigns (another seed, shard count, plan or
//! run config) are refused: their union is no soak.

use super::merged::{Duplicate, Merged, Source};
use super::shard::Shard;
use super::summary::{RunRecord, SoakSummary, Totals, SOAK_FILE};
use crate::exit::Exit;
use crate::rundir::RunDir;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One shard folder read back.
#[derive(Debug, Clone)]
pub struct Input {
    /// The soak folder (where soak.json is).
    pub dir: PathBuf,
    pub summary: SoakSummary,
}

/// `synod merge DIR... [--runs-dir R]`: merges, writes R/campaign-<id>/soak.json, prints the
/// table. Exit 1 if a run was unsafe; else 2 if a shard or a run is missing; else 3 if a run
/// was not live; else 0.
pub fn merge_command(dirs: &[PathBuf], runs_dir: &Path) -> Result<Exit> {
    let mut inputs = Vec::new();
    for dir in dirs {
        let soaks = soak_folders(dir)?;
        if soaks.is_empty() {
            bail!("{}: no soak folder (one with a soak.json) in it or two levels below", dir.display());
        }
        for soak in soaks {
            inputs.push(read(&soak)?);
        }
    }
    let out = RunDir::create_prefixed(runs_dir, "campaign-")?;
    let argv: Vec<String> = std::env::args().collect();
    let mut summary = merge(inputs, &out.path, argv)?;
    summary.soak_id = out.id.clone();
    summary.write(&out.path)?;
    print!("{}", summary.render());
    println!("merged: {}", out.path.display());
    let merged = summary.merged.as_ref().expect("a merge says what it merged");
    let t = &summary.totals;
    Ok(if t.safety_violations > 0 {
        Exit::Unsafe
    } else if !merged.complete() {
        Exit::Error
    } else if t.liveness_failures > 0 {
        Exit::NotLive
    } else {
        Exit::Ok
    })
}

/// The soak folders in `dir`: itself, or those at most two levels below it (a merge's own
/// folder left out), in name order.
pub fn soak_folders(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("{}: not a folder", dir.display());
    }
    let mut found = Vec::new();
    collect(dir, 2, &mut found);
    found.sort();
    Ok(found)
}

fn collect(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) {
    if dir.join(SOAK_FILE).is_file() {
        if !is_merge(dir) {
            found.push(dir.to_path_buf());
        }
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        // Run folders (meta.json) hold no soak; links are not followed (runs/latest).
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !path.join("meta.json").is_file() {
            collect(&path, depth - 1, found);
        }
    }
}

fn is_merge(dir: &Path) -> bool {
    let Ok(text) = std::fs::read(dir.join(SOAK_FILE)) else { return false };
    serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|v| v.get("merged").is_some())
}

pub fn read(dir: &Path) -> Result<Input> {
    let path = dir.join(SOAK_FILE);
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let summary: SoakSummary =
        serde_json::from_slice(&text).with_context(|| format!("{} is not a soak summary", path.display()))?;
    Ok(Input { dir: dir.to_path_buf(), summary })
}

/// What shards of one campaign share, most telling first (`runs_dir` and `quiet` left out).
fn campaign(s: &SoakSummary) -> Vec<(&'static str, serde_json::Value)> {
    let mut base = serde_json::to_value(&s.base).unwrap_or_default();
    if let Some(map) = base.as_object_mut() {
        map.remove("runs_dir");
        map.remove("quiet");
    }
    vec![
        ("seed", s.seed.into()),
        ("shards", s.shard.unwrap_or(Shard::WHOLE).n.into()),
        ("runs", s.planned_runs.into()),
        ("time_s", s.planned_time_s.into()),
        ("mutant", s.bug.clone().into()),
        ("simulated", s.simulated.into()),
        ("run", base),
    ]
}

/// The first key whose values differ, as `key: a vs b` (`run.nodes: 5 vs 3`).
fn difference(a: &[(&str, serde_json::Value)], b: &[(&str, serde_json::Value)]) -> String {
    for ((key, va), (_, vb)) in a.iter().zip(b) {
        if va == vb {
            continue;
        }
        if let (Some(ma), Some(mb)) = (va.as_object(), vb.as_object()) {
            for (k, x) in ma {
                let y = mb.get(k).unwrap_or(&serde_json::Value::Null);
                if x != y {
                    return format!("{key}.{k}: {x} vs {y}");
                }
            }
        }
        return format!("{key}: {va} vs {vb}");
    }
    String::new()
}

/// How bad a run's verdict is: unsafe, then not live, then neither.
fn severity(r: &RunRecord) -> u8 {
    if !r.safe {
        2
    } else if r.live == Some(false) {
        1
    } else {
        0
    }
}

/// `r` as recorded by `input`, its paths and replay command pointing at its folder next to
/// `input`'s (or its index noted in `without_folder` if it is not there).
fn located(input: &Input, r: &RunRecord, without_folder: &mut Vec<u64>) -> RunRecord {
    let mut r = r.clone();
    match run_folder(&input.dir, &r) {
        Some(found) => {
            let command = if input.summary.simulated { "sim" } else { "run" };
            r.replay = format!("synod {command} --replay {}", found.display());
            r.history = crate::pruned::history_state(&found);
            r.path = found;
        }
        None => without_folder.push(r.index),
    }
    r
}

/// Merges the shard folders into one soak summary (its id and path: `out`'s).
pub fn merge(inputs: Vec<Input>, out: &Path, command_line: Vec<String>) -> Result<SoakSummary> {
    let Some(first) = inputs.first() else { bail!("nothing to merge") };
    let key = campaign(&first.summary);
    for input in &inputs[1..] {
        let other = campaign(&input.summary);
        if other != key {
            bail!(
                "{} and {} are not shards of one campaign ({})",
                first.dir.display(),
                input.dir.display(),
                difference(&key, &other)
            );
        }
    }
    let n = first.summary.shard.unwrap_or(Shard::WHOLE).n;
    // One folder per shard: the one with the most runs (the first given on a tie).
    let mut chosen: BTreeMap<u64, Input> = BTreeMap::new();
    let mut duplicates = Vec::new();
    // The copies not counted: their runs are still read, so that no violation one of them
    // recorded is lost (a retried pod's first try may have found what its retry did not).
    let mut dropped_inputs: Vec<Input> = Vec::new();
    for input in inputs.iter().cloned() {
        let shard = input.summary.shard.unwrap_or(Shard::WHOLE);
        if let Some(r) = input.summary.runs.iter().find(|r| !shard.contains(r.index)) {
            bail!("{}: lists run {}, which is not one of shard {shard}'s", input.dir.display(), r.index);
        }
        let (counted, dropped) = match chosen.remove(&shard.k) {
            None => (input, None),
            Some(old) if input.summary.runs.len() > old.summary.runs.len() => (input, Some(old)),
            Some(old) => (old, Some(input)),
        };
        if let Some(d) = dropped {
            duplicates.push(Duplicate {
                shard,
                same_soak: d.summary.soak_id == counted.summary.soak_id,
                soak_id: d.summary.soak_id.clone(),
                dir: absolute(&d.dir),
                counted: absolute(&counted.dir),
            });
            dropped_inputs.push(d);
        }
        chosen.insert(shard.k, counted);
    }
    let missing_shards: Vec<u64> = (1..=n).filter(|k| !chosen.contains_key(k)).collect();
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut runs_without_folder = Vec::new();
    let mut sources = Vec::new();
    let (mut pruned_runs, mut pruned_bytes) = (0, 0);
    let mut stopped = Vec::new();
    for input in chosen.values() {
        let s = &input.summary;
        let shard = s.shard.unwrap_or(Shard::WHOLE);
        pruned_runs += s.totals.pruned_runs;
        pruned_bytes += s.totals.pruned_bytes;
        if let Some(why) = &s.stopped_early {
            stopped.push(format!("shard {shard}: {why}"));
        }
        sources.push(Source {
            shard,
            soak_id: s.soak_id.clone(),
            dir: absolute(&input.dir),
            runs: s.runs.len() as u64,
            stopped_early: s.stopped_early.clone(),
        });
        for r in &s.runs {
            runs.push(located(input, r, &mut runs_without_folder));
        }
    }
    // A run a dropped copy judged worse than the counted copy did (unsafe, or not live), or
    // holds alone, counts as that copy recorded it: each run once, at its worst.
    let mut worse_in_duplicate = Vec::new();
    // Where each run index is in `runs`: a campaign has up to millions of runs, and a retried
    // shard's copy as many as the shard.
    let mut place: std::collections::HashMap<u64, usize> =
        runs.iter().enumerate().map(|(at, r)| (r.index, at)).collect();
    for input in &dropped_inputs {
        for r in &input.summary.runs {
            match place.get(&r.index).copied() {
                None => {
                    place.insert(r.index, runs.len());
                    runs.push(located(input, r, &mut runs_without_folder));
                }
                Some(at) if severity(r) > severity(&runs[at]) => {
                    runs_without_folder.retain(|&i| i != r.index);
                    runs[at] = located(input, r, &mut runs_without_folder);
                    worse_in_duplicate.push(r.index);
                }
                Some(_) => {}
            }
        }
    }
    worse_in_duplicate.sort_unstable();
    worse_in_duplicate.dedup();
    runs.sort_by_key(|r| r.index);
    runs_without_folder.sort_unstable();
    let missing_runs = match first.summary.planned_runs {
        Some(planned) => {
            let have: std::collections::BTreeSet<u64> = runs.iter().map(|r| r.index).collect();
            (1..=planned).filter(|i| !have.contains(i)).collect()
        }
        None => Vec::new(),
    };
    let mut totals = Totals::default();
    for r in &runs {
        totals.add(r);
    }
    totals.pruned_runs = pruned_runs;
    totals.pruned_bytes = pruned_bytes;
    let started_at = chosen.values().map(|i| i.summary.started_at.clone()).min().unwrap_or_default();
    Ok(SoakSummary {
        soak_id: out.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        path: out.to_path_buf(),
        seed: first.summary.seed,
        bug: first.summary.bug.clone(),
        command_line,
        started_at,
        keep: first.summary.keep,
        stopped_early: (!stopped.is_empty()).then(|| stopped.join("; ")),
        simulated: first.summary.simulated,
        shard: None,
        planned_runs: first.summary.planned_runs,
        planned_time_s: first.summary.planned_time_s,
        base: first.summary.base.clone(),
        merged: Some(Merged {
            shards: n,
            sources,
            duplicates,
            missing_shards,
            missing_runs,
            runs_without_folder,
            worse_in_duplicate,
        }),
        totals,
        runs,
    })
}

/// The folder of run `r` of the soak in `soak_dir`, here: next to the soak folder (where a
/// soak puts its runs, whatever path soak.json recorded on the machine it ran on), else at the
/// recorded path. Absolute, so the merged soak.json reads from anywhere.
fn run_folder(soak_dir: &Path, r: &RunRecord) -> Option<PathBuf> {
    let parent = soak_dir.parent().unwrap_or(Path::new("."));
    let mut candidates = vec![parent.join(&r.run_id)];
    if let Some(name) = r.path.file_name() {
        candidates.push(parent.join(name));
    }
    candidates.push(r.path.clone());
    candidates.into_iter().find(|c| c.join("meta.json").is_file()).map(|c| absolute(&c))
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::NemesisConfig;
    use crate::pruned::HistoryState;

    fn record(index: u64, safe: bool) -> RunRecord {
        RunRecord {
            index,
            ended_s: index as f64,
            run_id: format!("run-{index}"),
            path: PathBuf::from(format!("/elsewhere/runs/run-{index}")),
            seed: 1000 + index,
            nemesis: NemesisConfig::default(),
            verdict: if safe { "valid" } else { "invalid" }.into(),
            exit_code: if safe { 0 } else { 1 },
            safe,
            live: Some(true),
            violated: if safe { vec![] } else { vec!["agreement".into()] },
            decisions: 10 * index,
            exercised: BTreeMap::new(),
            final_errors: vec![],
            replay: format!("synod run --replay /elsewhere/runs/run-{index}"),
            history: HistoryState::Kept,
        }
    }

    fn shard(k: u64, n: u64, soak_id: &str, runs: Vec<RunRecord>) -> Input {
        let mut totals = Totals::default();
        runs.iter().for_each(|r| totals.add(r));
        Input {
            dir: PathBuf::from(format!("/nowhere/{soak_id}")),
            summary: SoakSummary {
                soak_id: soak_id.into(),
                path: PathBuf::from(soak_id),
                seed: 5,
                bug: None,
                command_line: vec![],
                started_at: format!("2026-{soak_id}"),
                keep: Default::default(),
                stopped_early: None,
                simulated: false,
                shard: Shard::new(k, n),
                planned_runs: Some(6),
                planned_time_s: None,
                base: None,
                merged: None,
                totals,
                runs,
            },
        }
    }

    fn merged(inputs: Vec<Input>) -> SoakSummary {
        merge(inputs, Path::new("/out/campaign-x"), vec![]).unwrap()
    }

    #[test]
    fn shards_merge_into_the_runs_in_order_with_totals_counted_again() {
        let a = shard(1, 2, "a", vec![record(1, true), record(3, false), record(5, true)]);
        let b = shard(2, 2, "b", vec![record(2, true), record(4, true), record(6, true)]);
        let m = merged(vec![b, a]);
        let indices: Vec<u64> = m.runs.iter().map(|r| r.index).collect();
        assert_eq!(indices, [1, 2, 3, 4, 5, 6]);
        assert_eq!((m.totals.runs, m.totals.decisions, m.totals.safety_violations), (6, 210, 1));
        let info = m.merged.as_ref().unwrap();
        assert!(info.complete() && info.duplicates.is_empty(), "{info:?}");
        assert_eq!(info.runs_without_folder, [1, 2, 3, 4, 5, 6]);
        let text = m.render();
        assert!(text.contains("runs 6   decisions 210   safety violations 1"), "{text}");
        assert!(text.contains("run 3 run-3: UNSAFE (agreement)\n    replay: synod run --replay"), "{text}");
        assert!(text.contains("shards merged: 2 of 2"), "{text}");
    }

    #[test]
    fn a_shard_given_twice_is_reported_and_counted_once() {
        let a = shard(1, 2, "a", vec![record(1, true), record(3, true), record(5, true)]);
        let b = shard(2, 2, "b", vec![record(2, true), record(4, true), record(6, true)]);
        let copy = Input { dir: PathBuf::from("/copy/a"), ..a.clone() };
        let m = merged(vec![a.clone(), b.clone(), copy]);
        assert_eq!(m.totals.runs, 6);
        let info = m.merged.as_ref().unwrap();
        assert_eq!(info.duplicates.len(), 1);
        let d = &info.duplicates[0];
        assert!(d.same_soak && d.dir == Path::new("/copy/a") && d.shard == Shard { k: 1, n: 2 }, "{d:?}");
        assert!(
            m.render().contains("DUPLICATE shard 1/2 in /copy/a (a copy of the folder counted"),
            "{}",
            m.render()
        );
        // A shard run twice (a retried pod): the soak with more runs counts, whichever came first.
        let partial = shard(1, 2, "a-retry", vec![record(1, true)]);
        for inputs in
            [vec![partial.clone(), a.clone(), b.clone()], vec![a.clone(), partial.clone(), b.clone()]]
        {
            let m = merged(inputs);
            assert_eq!(m.totals.runs, 6);
            let d = &m.merged.as_ref().unwrap().duplicates[0];
            assert_eq!((d.soak_id.as_str(), d.same_soak), ("a-retry", false));
        }
    }

    #[test]
    fn missing_shards_and_runs_are_reported() {
        let a = shard(1, 3, "a", vec![record(1, true), record(4, true)]);
        let c = shard(3, 3, "c", vec![record(3, true)]);
        let m = merged(vec![a, c]);
        let info = m.merged.as_ref().unwrap();
        assert_eq!(info.missing_shards, [2]);
        // Shard 2's runs 2 and 5, and shard 3's run 6 (it stopped after one run).
        assert_eq!(info.missing_runs, [2, 5, 6]);
        assert!(!info.complete());
        let text = m.render();
        assert!(text.contains("MISSING shards: 2/3") && text.contains("MISSING runs 2, 5-6"), "{text}");
    }

    #[test]
    fn shards_of_another_campaign_are_refused() {
        let a = shard(1, 2, "a", vec![record(1, true)]);
        let mut b = shard(2, 2, "b", vec![record(2, true)]);
        b.summary.seed = 6;
        let e = merge(vec![a.clone(), b], Path::new("/o"), vec![]).unwrap_err().to_string();
        assert!(e.contains("are not shards of one campaign (seed: 5 vs 6)"), "{e}");
        let c = shard(2, 3, "c", vec![record(2, true)]);
        let e = merge(vec![a.clone(), c], Path::new("/o"), vec![]).unwrap_err().to_string();
        assert!(e.contains("shards: 2 vs 3"), "{e}");
        let wrong = shard(2, 2, "w", vec![record(3, true)]);
        let e = merge(vec![a, wrong], Path::new("/o"), vec![]).unwrap_err().to_string();
        assert!(e.contains("lists run 3, which is not one of shard 2/2's"), "{e}");
    }

    /// A retried pod: its first try found a violation and died, the retry ran more runs, all
    /// safe. The retry's folder counts, and the first try's unsafe run still counts as unsafe.
    #[test]
    fn a_violation_in_a_duplicate_that_is_not_counted_is_not_lost() {
        let first_try = shard(1, 2, "a", vec![record(1, true), record(3, false)]);
        let retry = shard(1, 2, "a-retry", vec![record(1, true), record(3, true), record(5, true)]);
        let b = shard(2, 2, "b", vec![record(2, true), record(4, true), record(6, true)]);
        for inputs in [vec![first_try.clone(), retry.clone(), b.clone()], vec![retry, first_try, b]] {
            let m = merged(inputs);
            assert_eq!((m.totals.runs, m.totals.safety_violations), (6, 1));
            let three = m.runs.iter().find(|r| r.index == 3).unwrap();
            assert!(!three.safe, "{three:?}");
            let info = m.merged.as_ref().unwrap();
            assert_eq!((info.worse_in_duplicate.as_slice(), info.duplicates.len()), ([3].as_slice(), 1));
            assert!(m.render().contains("judged worse in a duplicate copy"), "{}", m.render());
        }
    }
}
