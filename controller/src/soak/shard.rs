//! Shards of a soak (`--shard K/N`, `--shard-from-env`): a soak's runs are independent of each
//! other (each run's seed and draws depend only on the soak's seed and the run's index, see
//! `run_rng` in mod.rs), so a campaign is split by run index across machines, by a scheduler
//! people already operate (a Kubernetes Indexed Job, a Slurm job array), and the shard folders
//! are merged afterwards (`synod merge`, merge.rs). Shard K of N runs the runs whose index i
//! (1, 2, ...) has (i - 1) mod N = K - 1: the runs K, K + N, K + 2N, ...
//!
//! The schedulers number their tasks differently, which is why the mapping lives here and is
//! tested: a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` is 0-based (0..completions-1) and
//! says nothing of the count (so the manifest sets `SYNOD_SHARDS`); a Slurm array's
//! `SLURM_ARRAY_TASK_ID` is whatever `--array` gave (often 0-based, often 1-based, maybe with a
//! step), so K comes from it, `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_STEP`, and N is
//! `SLURM_ARRAY_TASK_COUNT`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// At most this many shards (far above any campaign; keeps K and N far from overflow).
pub const MAX_SHARDS: u64 = 1_000_000;

/// Shard `k` (1-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}`: must be K/N with 1 <= K <= N <= {MAX_SHARDS} (e.g. 3/8: the third of eight shards)")]
    Flag(String),
    #[error("--shard-from-env: neither JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (a Slurm job array) is set")]
    NoScheduler,
    #[error("--shard-from-env: both JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are set; give --shard K/N instead")]
    BothSchedulers,
    #[error("--shard-from-env: {name} is not set ({why})")]
    Missing { name: &'static str, why: &'static str },
    #[error("--shard-from-env: {name}=`{value}` is not a whole number from 0 to {MAX_SHARDS}")]
    NotANumber { name: &'static str, value: String },
    #[error("--shard-from-env: {0}")]
    OutOfRange(String),
}

impl Shard {
    /// The whole soak: one shard of one.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    pub fn new(k: u64, n: u64) -> Option<Shard> {
        (1..=MAX_SHARDS).contains(&n).then_some(())?;
        (1..=n).contains(&k).then_some(Shard { k, n })
    }

    /// Whether run `index` (1, 2, ...) is this shard's.
    pub fn contains(self, index: u64) -> bool {
        index >= 1 && (index - 1) % self.n == self.k - 1
    }

    /// This shard's runs of a soak of `runs` runs.
    pub fn runs_of(self, runs: u64) -> u64 {
        if runs < self.k {
            0
        } else {
            (runs - self.k) / self.n + 1
        }
    }

    /// The position (1, 2, ...) of run `index` among this shard's runs.
    pub fn position(self, index: u64) -> u64 {
        index.saturating_sub(self.k) / self.n + 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// A clap value parser for `--shard K/N`.
pub fn shard_flag(text: &str) -> Result<Shard, String> {
    parse(text).map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<Shard, ShardError> {
    let bad = || ShardError::Flag(text.to_string());
    let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    Shard::new(k, n).ok_or_else(bad)
}

/// The shard a scheduler gave this process, from its environment (`var` looks a variable up:
/// `std::env::var(..).ok()` in the binary, a map in tests).
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
    let kubernetes = var("JOB_COMPLETION_INDEX");
    let slurm = var("SLURM_ARRAY_TASK_ID");
    match (kubernetes, slurm) {
        (Some(_), Some(_)) => Err(ShardError::BothSchedulers),
        (None, None) => Err(ShardError::NoScheduler),
        (Some(index), None) => {
            let index = number("JOB_COMPLETION_INDEX", &index)?;
            let why = "a Kubernetes Indexed Job must set it to its `completions` (deploy/k8s/soak-job.yaml)";
            let n = number(
                "SYNOD_SHARDS",
                &var("SYNOD_SHARDS").ok_or(ShardError::Missing { name: "SYNOD_SHARDS", why })?,
            )?;
            // JOB_COMPLETION_INDEX is 0-based: 0..completions-1.
            Shard::new(index + 1, n).ok_or_else(|| {
                ShardError::OutOfRange(format!(
                    "JOB_COMPLETION_INDEX={index} (0-based) with SYNOD_SHARDS={n}: the index must be below the shard count, which must be from 1 to {MAX_SHARDS}"
                ))
            })
        }
        (None, Some(id)) => {
            let id = number("SLURM_ARRAY_TASK_ID", &id)?;
            let why = "Slurm sets it in every task of a job array";
            let count = var("SLURM_ARRAY_TASK_COUNT")
                .ok_or(ShardError::Missing { name: "SLURM_ARRAY_TASK_COUNT", why })?;
            let count = number("SLURM_ARRAY_TASK_COUNT", &count)?;
            let min = var("SLURM_ARRAY_TASK_MIN")
                .ok_or(ShardError::Missing { name: "SLURM_ARRAY_TASK_MIN", why })?;
            let min = number("SLURM_ARRAY_TASK_MIN", &min)?;
            let step = match var("SLURM_ARRAY_TASK_STEP") {
                Some(s) => number("SLURM_ARRAY_TASK_STEP", &s)?,
                None => 1,
            };
            let out = |what: String| {
                ShardError::OutOfRange(format!(
                "SLURM_ARRAY_TASK_ID={id} with SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_STEP={step} and SLURM_ARRAY_TASK_COUNT={count}: {what}; use a plain range (--array=0-{} or --array=1-{}) or give --shard K/N",
                count.saturating_sub(1),
                count
            ))
            };
            if step == 0 || id < min || (id - min) % step != 0 {
                return Err(out("the task id is not on the array's range".into()));
            }
            Shard::new((id - min) / step + 1, count)
                .ok_or_else(|| out("the array is not a range of that many tasks".into()))
        }
    }
}

fn number(name: &'static str, value: &str) -> Result<u64, ShardError> {
    match value.trim().parse::<u64>() {
        Ok(v) if v <= MAX_SHARDS => Ok(v),
        _ => Err(ShardError::NotANumber { name, value: value.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> Result<Shard, ShardError> {
        let map: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        from_env(|name| map.get(name).cloned())
    }

    #[test]
    fn the_flag_is_k_of_n() {
        assert_eq!(shard_flag("1/2"), Ok(Shard { k: 1, n: 2 }));
        assert_eq!(shard_flag(" 8/8 "), Ok(Shard { k: 8, n: 8 }));
        assert_eq!(shard_flag("1/1"), Ok(Shard::WHOLE));
        for bad in ["", "1", "0/2", "3/2", "1/0", "a/2", "1/b", "-1/2", "1/2/3", "1/1000001"] {
            let e = shard_flag(bad).unwrap_err();
            assert!(e.starts_with(&format!("`{bad}`: must be K/N")), "{bad}: {e}");
        }
        assert_eq!(Shard { k: 3, n: 8 }.to_string(), "3/8");
    }

    /// The shards of N partition the run indices: every index in exactly one shard.
    #[test]
    fn shards_partition_the_runs() {
        for n in 1..=5 {
            for runs in 0..=12u64 {
                let mut seen = vec![0; runs as usize];
                let mut counted = 0;
                for k in 1..=n {
                    let s = Shard::new(k, n).unwrap();
                    let mine: Vec<u64> = (1..=runs).filter(|&i| s.contains(i)).collect();
                    assert_eq!(s.runs_of(runs), mine.len() as u64, "{s} of {runs}");
                    for (p, &i) in mine.iter().enumerate() {
                        assert_eq!(s.position(i), p as u64 + 1);
                        seen[(i - 1) as usize] += 1;
                    }
                    counted += mine.len();
                }
                assert!(seen.iter().all(|&c| c == 1), "n {n} runs {runs}: {seen:?}");
                assert_eq!(counted as u64, runs);
            }
        }
        let s = Shard::new(2, 3).unwrap();
        assert!(s.contains(2) && s.contains(5) && !s.contains(1) && !s.contains(3) && !s.contains(0));
    }

    #[test]
    fn kubernetes_indices_are_zero_based() {
        let k8s = |i: &str, n: &str| env(&[("JOB_COMPLETION_INDEX", i), ("SYNOD_SHARDS", n)]);
        assert_eq!(k8s("0", "4"), Ok(Shard { k: 1, n: 4 }));
        assert_eq!(k8s("3", "4"), Ok(Shard { k: 4, n: 4 }));
        assert!(matches!(k8s("4", "4"), Err(ShardError::OutOfRange(_))));
        assert!(matches!(k8s("0", "0"), Err(ShardError::OutOfRange(_))));
        assert_eq!(
            k8s("x", "4"),
            Err(ShardError::NotANumber { name: "JOB_COMPLETION_INDEX", value: "x".into() })
        );
        assert!(matches!(k8s("1", "-2"), Err(ShardError::NotANumber { name: "SYNOD_SHARDS", .. })));
        let e = env(&[("JOB_COMPLETION_INDEX", "1")]).unwrap_err();
        assert!(matches!(e, ShardError::Missing { name: "SYNOD_SHARDS", .. }));
        assert!(e.to_string().contains("SYNOD_SHARDS is not set"), "{e}");
    }

    #[test]
    fn slurm_task_ids_count_from_the_arrays_minimum() {
        let slurm = |id: &str, min: &str, count: &str| {
            env(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_COUNT", count),
            ])
        };
        // --array=0-3 and --array=1-4: the same four shards.
        assert_eq!(slurm("0", "0", "4"), Ok(Shard { k: 1, n: 4 }));
        assert_eq!(slurm("3", "0", "4"), Ok(Shard { k: 4, n: 4 }));
        assert_eq!(slurm("1", "1", "4"), Ok(Shard { k: 1, n: 4 }));
        assert_eq!(slurm("4", "1", "4"), Ok(Shard { k: 4, n: 4 }));
        assert_eq!(slurm("12", "10", "5"), Ok(Shard { k: 3, n: 5 }));
        // --array=0-8:2: ids 0, 2, 4, 6, 8.
        let stepped = |id: &str| {
            env(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "5"),
            ])
        };
        assert_eq!(stepped("8"), Ok(Shard { k: 5, n: 5 }));
        assert!(matches!(stepped("3"), Err(ShardError::OutOfRange(_))));
        // --array=1,3,7 (a list, not a range): id 7 is past a range of three.
        let e = slurm("7", "1", "3").unwrap_err();
        assert!(e.to_string().contains("use a plain range"), "{e}");
        assert!(matches!(slurm("0", "1", "4"), Err(ShardError::OutOfRange(_))));
        assert!(matches!(slurm("1", "1", "0"), Err(ShardError::OutOfRange(_))));
        assert!(matches!(slurm("1.5", "1", "4"), Err(ShardError::NotANumber { .. })));
        let e = env(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")]).unwrap_err();
        assert!(matches!(e, ShardError::Missing { name: "SLURM_ARRAY_TASK_MIN", .. }), "{e}");
    }

    #[test]
    fn no_scheduler_or_two_are_refused() {
        assert_eq!(env(&[]), Err(ShardError::NoScheduler));
        assert!(env(&[("SYNOD_SHARDS", "4")])
            .unwrap_err()
            .to_string()
            .contains("neither JOB_COMPLETION_INDEX"));
        let both = env(&[("JOB_COMPLETION_INDEX", "0"), ("SYNOD_SHARDS", "2"), ("SLURM_ARRAY_TASK_ID", "1")]);
        assert_eq!(both, Err(ShardError::BothSchedulers));
    }
}
