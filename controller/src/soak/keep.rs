//! Retention (`--keep`): which of a soak's runs keep their whole folder.
//!
//! A soak runs for hours and each run's history costs tens of MB, so a soak that kept every
//! history would fill a disk overnight. What is worth keeping whole is what someone will look
//! at: every run that failed (unsafe, not live, truncated or aborted: anything but `valid`),
//! and the last few passing runs (to compare a failure with). An older passing run keeps its
//! summaries and the command that replays it; its history and node folders go (pruned.rs).
//!
//! A simulated soak (`synod sim --runs`, `synod mutants --sim`) keeps no passing history at all
//! by default (`failing`): its replay (`synod sim --replay`) writes the same history again from
//! meta.json alone, so even the run just judged can go.
//!
//! The decision is made as the soak goes, one run at a time, so that the disk a soak uses
//! stays bounded while it runs, not only at its end. This file holds the decision only; it
//! touches no file, so it is tested on bare sequences of outcomes.

use std::collections::VecDeque;
use std::fmt;

/// Passing runs kept whole by default.
pub const DEFAULT_LAST: u64 = 3;
/// `last:N` at most (far above any disk's worth of runs; bounds the window's memory).
pub const MAX_LAST: u64 = 1_000_000;

/// A soak's retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every run keeps its whole folder.
    All,
    /// Every failing run and the last N passing runs (N >= 1) keep their whole folder.
    Last(u64),
    /// Failing runs only: every passing run drops its history as soon as it is judged (for
    /// simulated runs, whose replay regenerates it byte for byte).
    Failing,
}

impl Default for Keep {
    fn default() -> Keep {
        Keep::Last(DEFAULT_LAST)
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keep::All => f.write_str("all"),
            Keep::Last(n) => write!(f, "last:{n}"),
            Keep::Failing => f.write_str("failing"),
        }
    }
}

impl serde::Serialize for Keep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Keep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keep, D::Error> {
        let text = String::deserialize(d)?;
        keep_flag(&text).map_err(serde::de::Error::custom)
    }
}

/// A clap value parser for `--keep`: `default` (= `last:3`), `all`, `failing` or `last:N`.
pub fn keep_flag(text: &str) -> Result<Keep, String> {
    let must = "must be `default` (every failing run and the last 3 passing runs keep their \
                history), `all`, `failing` (failing runs only), or `last:N` (the last N passing \
                runs, N from 1 to 1000000)";
    match text.trim() {
        "default" => Ok(Keep::default()),
        "all" => Ok(Keep::All),
        "failing" => Ok(Keep::Failing),
        other => match other.strip_prefix("last:").map(|n| n.trim().parse::<u64>()) {
            Some(Ok(n)) if (1..=MAX_LAST).contains(&n) => Ok(Keep::Last(n)),
            _ => Err(format!("`{text}`: {must}")),
        },
    }
}

/// The passing runs still kept whole, oldest first, and what the policy lets go.
#[derive(Debug, Clone)]
pub struct Window {
    keep: Keep,
    /// Indices of the passing runs still whole, oldest first; at most N under `Last(N)`.
    whole: VecDeque<u64>,
    last_index: u64,
}

impl Window {
    pub fn new(keep: Keep) -> Window {
        Window { keep, whole: VecDeque::new(), last_index: 0 }
    }

    /// Run `index` (1, 2, ... in order) was judged; `passing`: its verdict is `valid`. Returns
    /// the passing run that falls out of the window, to prune now. Never a failing run
    /// (failing runs never enter the window); never the run just judged (it is `runs/latest`)
    /// but under `failing`, which prunes each passing run at once.
    pub fn judged(&mut self, index: u64, passing: bool) -> Option<u64> {
        assert!(index > self.last_index, "runs are judged in order: {index} after {}", self.last_index);
        self.last_index = index;
        let n = match self.keep {
            Keep::All => return None,
            Keep::Failing => return passing.then_some(index),
            Keep::Last(n) => n,
        };
        assert!(n >= 1, "last:0 would prune the run just judged");
        if !passing {
            return None;
        }
        self.whole.push_back(index);
        let out = if self.whole.len() as u64 > n { self.whole.pop_front() } else { None };
        assert!(self.whole.len() as u64 <= n);
        assert!(out != Some(index));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs pruned, in order, for a sequence of outcomes (true: passing), runs 1, 2, ...
    fn pruned(keep: Keep, outcomes: &[bool]) -> Vec<u64> {
        let mut w = Window::new(keep);
        outcomes.iter().zip(1..).filter_map(|(&passing, index)| w.judged(index, passing)).collect()
    }

    #[test]
    fn the_default_keeps_the_last_three_passing_runs_and_every_failing_one() {
        let p = true;
        let f = false;
        assert_eq!(pruned(Keep::default(), &[]), Vec::<u64>::new());
        assert_eq!(pruned(Keep::default(), &[p, p, p]), Vec::<u64>::new());
        // The fourth passing run pushes the first out, at once.
        assert_eq!(pruned(Keep::default(), &[p, p, p, p]), vec![1]);
        assert_eq!(pruned(Keep::default(), &[p, p, p, p, p, p]), vec![1, 2, 3]);
        // Failing runs neither count in the window nor are ever pruned.
        assert_eq!(pruned(Keep::default(), &[f, p, f, p, p, f, p, p]), vec![2, 4]);
        assert_eq!(pruned(Keep::default(), &[f, f, f, f, f]), Vec::<u64>::new());
        // Each prune happens when the run that pushes it out is judged.
        let mut w = Window::new(Keep::default());
        let when: Vec<Option<u64>> =
            [p, p, f, p, p, f, p].iter().zip(1..).map(|(&o, i)| w.judged(i, o)).collect();
        assert_eq!(when, vec![None, None, None, None, Some(1), None, Some(2)]);
    }

    #[test]
    fn last_n_and_all() {
        let six = [true; 6];
        assert_eq!(pruned(Keep::Last(1), &six), vec![1, 2, 3, 4, 5]);
        assert_eq!(pruned(Keep::Last(5), &six), vec![1]);
        assert_eq!(pruned(Keep::Last(6), &six), Vec::<u64>::new());
        assert_eq!(pruned(Keep::All, &six), Vec::<u64>::new());
        assert_eq!(pruned(Keep::All, &[false, true, false]), Vec::<u64>::new());
        assert_eq!(pruned(Keep::Failing, &six), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(pruned(Keep::Failing, &[false, true, false, true]), vec![2, 4]);
        // Each at once: the run just judged.
        let mut w = Window::new(Keep::Failing);
        assert_eq!(w.judged(1, true), Some(1));
        assert_eq!(w.judged(2, false), None);
        assert_eq!(w.judged(3, true), Some(3));
    }

    #[test]
    #[should_panic(expected = "judged in order")]
    fn runs_out_of_order_are_a_bug() {
        let mut w = Window::new(Keep::default());
        w.judged(2, true);
        w.judged(2, true);
    }

    #[test]
    fn the_flag_takes_default_all_and_last_n_and_names_what_it_must_be() {
        assert_eq!(keep_flag("default"), Ok(Keep::Last(3)));
        assert_eq!(keep_flag("all"), Ok(Keep::All));
        assert_eq!(keep_flag("failing"), Ok(Keep::Failing));
        assert_eq!(Keep::Failing.to_string(), "failing");
        assert_eq!(keep_flag("last:7"), Ok(Keep::Last(7)));
        assert_eq!(keep_flag("last:1000000"), Ok(Keep::Last(MAX_LAST)));
        for bad in ["", "none", "last:", "last:0", "last:-1", "last:x", "last:1000001", "ALL", "3"] {
            let e = keep_flag(bad).unwrap_err();
            assert!(e.starts_with(&format!("`{bad}`: must be `default`")), "{bad}: {e}");
        }
        assert_eq!(Keep::default().to_string(), "last:3");
        assert_eq!(serde_json::to_string(&Keep::All).unwrap(), "\"all\"");
    }
}
