//! The nemesis: which faults a run injects, and when.
//!
//! A schedule is a list of timed [`Action`]s, fixed before the run starts: generated from
//! the run's seed ([`generate`]), read from a file (`--schedule`, [`file`]) or taken from a
//! recorded history (`--replay`). The run applies each action when its time comes (see
//! `run/nemesis.rs`) and records it as a `nemesis` event. Fixing the schedule up front keeps
//! the choices independent of how the run happens to go, which is what makes a replay
//! reproduce the faults (though not the OS's interleavings).

pub mod action;
pub mod file;
pub mod generate;
pub mod shapes;

pub use action::{Action, MatchPoint, MessageMatch, Schedule, Timed, Trigger};

use crate::net::faults::DelayDist;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of fault, as named in `--nemesis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Loss,
    Delay,
    Duplicate,
    Reorder,
    Partition,
    Kill,
    Pause,
    KillAll,
    CrashPoint,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::KillAll,
        FaultKind::CrashPoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::KillAll => "kill-all",
            FaultKind::CrashPoint => "crash-point",
        }
    }

    /// Which fault kind an action starts, if it starts one.
    pub fn started_by(action: &Action) -> Option<FaultKind> {
        Some(match action {
            Action::Loss { .. } => FaultKind::Loss,
            Action::Delay { .. } => FaultKind::Delay,
            Action::Duplicate { .. } => FaultKind::Duplicate,
            Action::Reorder { .. } => FaultKind::Reorder,
            Action::Partition { .. } => FaultKind::Partition,
            Action::Kill { .. } => FaultKind::Kill,
            Action::Stop { .. } => FaultKind::Pause,
            Action::KillAll { .. } => FaultKind::KillAll,
            Action::CrashPoint { .. } => FaultKind::CrashPoint,
            _ => return None,
        })
    }

    /// Parses `--nemesis`: a comma list of kinds, `all`, or `none`.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, String> {
        let mut kinds = Vec::new();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "all" => kinds.extend(FaultKind::ALL),
                "none" => {}
                _ => match FaultKind::ALL.iter().find(|k| k.name() == word) {
                    Some(&k) => kinds.push(k),
                    None => {
                        let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                        return Err(format!(
                            "unknown fault `{word}`; known: {}, all, none",
                            known.join(", ")
                        ));
                    }
                },
            }
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The faults a generated schedule draws from, and how hard they hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NemesisConfig {
    pub faults: Vec<FaultKind>,
    /// Mean length of each fault window and each calm window (they alternate).
    pub interval_s: f64,
    /// Loss probability while `loss` is on.
    pub loss: f64,
    /// Mean delay while `delay` is on, drawn from `delay_dist`.
    pub delay_ms: f64,
    pub delay_dist: DelayDist,
    /// Duplication probability while `duplicate` is on.
    pub duplicate: f64,
    /// Probability that a message is held back while `reorder` is on, and for how long at most.
    pub reorder: f64,
    pub reorder_ms: f64,
    /// Mean time a killed node stays down, and a paused node stays paused.
    pub down_ms: f64,
    pub pause_ms: f64,
    /// While `crash-point` is on: probability that a node sending the chosen message type
    /// is killed right after it.
    pub crash_p: f64,
}

impl Default for NemesisConfig {
    fn default() -> NemesisConfig {
        NemesisConfig {
            faults: FaultKind::ALL.to_vec(),
            interval_s: 3.0,
            loss: 0.2,
            delay_ms: 10.0,
            delay_dist: DelayDist::Exponential,
            duplicate: 0.1,
            reorder: 0.3,
            reorder_ms: 50.0,
            down_ms: 800.0,
            pause_ms: 800.0,
            crash_p: 0.05,
        }
    }
}

impl NemesisConfig {
    /// Checks every intensity; the message says which flag is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (flag, p) in [("--loss", self.loss), ("--duplicate", self.duplicate), ("--reorder", self.reorder)]
        {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{flag} {p}: a probability must be between 0 and 1"));
            }
        }
        for (flag, v) in [
            ("--delay-ms", self.delay_ms),
            ("--reorder-ms", self.reorder_ms),
            ("--down-ms", self.down_ms),
            ("--pause-ms", self.pause_ms),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("{flag} {v}: must be a non-negative number"));
            }
        }
        if !(self.interval_s > 0.0 && self.interval_s.is_finite()) {
            return Err(format!("--nemesis-interval-s {}: must be positive", self.interval_s));
        }
        Ok(())
    }

    pub fn names(&self) -> String {
        if self.faults.is_empty() {
            return "none".into();
        }
        self.faults.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_all_none_and_names() {
        assert_eq!(FaultKind::parse_list("all").unwrap(), FaultKind::ALL.to_vec());
        assert_eq!(FaultKind::parse_list("none").unwrap(), vec![]);
        assert_eq!(FaultKind::parse_list("kill, loss,kill").unwrap(), vec![FaultKind::Loss, FaultKind::Kill]);
        let e = FaultKind::parse_list("loss,flood").unwrap_err();
        assert!(e.contains("unknown fault `flood`") && e.contains("kill-all"), "{e}");
    }

    #[test]
    fn intensities_are_checked() {
        assert!(NemesisConfig::default().validate().is_ok());
        let bad = NemesisConfig { loss: 2.0, ..NemesisConfig::default() };
        assert!(bad.validate().unwrap_err().starts_with("--loss 2"));
        let bad = NemesisConfig { interval_s: 0.0, ..NemesisConfig::default() };
        assert!(bad.validate().is_err());
    }
}
