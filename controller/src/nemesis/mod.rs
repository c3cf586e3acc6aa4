//! The nemesis: which faults a run injects, and when.
//!
//! A schedule is a list of timed [`Action`]s, fixed before the run starts: generated from
//! the run's seed ([`generate`]), read from a file (`--schedule`, [`file`]) or taken from a
//! recorded history (`--replay`). During a run, [`state`] decides, sans-IO, what each action
//! does when its time or its message comes, and returns it as effects, which the run performs
//! (`run/nemesis.rs`) and records as `nemesis` events. Fixing the schedule up front keeps the
//! choices independent of how the run happens to go, which is what makes a replay reproduce
//! the faults (though not the OS's interleavings).

pub mod action;
pub mod event;
pub mod file;
pub mod generate;
pub mod shapes;
pub mod state;

pub use action::{Action, MatchPoint, MessageMatch, Schedule, Timed, Trigger};

use crate::limits::{self, Invalid};
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
    PowerLoss,
    PowerLossAll,
}

impl FaultKind {
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::KillAll,
        FaultKind::CrashPoint,
        FaultKind::PowerLoss,
        FaultKind::PowerLossAll,
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
            FaultKind::PowerLoss => "power-loss",
            FaultKind::PowerLossAll => "power-loss-all",
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
            Action::PowerLoss { .. } => FaultKind::PowerLoss,
            Action::PowerLossAll { .. } => FaultKind::PowerLossAll,
            _ => return None,
        })
    }

    /// Whether this fault cuts power (and so needs the lazy filesystem, FUSE).
    pub fn cuts_power(self) -> bool {
        matches!(self, FaultKind::PowerLoss | FaultKind::PowerLossAll)
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

/// Power-loss faults need the lazy filesystem (FUSE). When it cannot be mounted here (`fuse`
/// says why), a `--nemesis` that names `power-loss` or `power-loss-all` is refused before
/// the run starts, and `all` leaves them out: the returned warning says so. Never a silent
/// no-op: a run that was asked for power losses either has them or does not start.
pub fn check_power(
    text: &str,
    faults: &mut Vec<FaultKind>,
    fuse: impl FnOnce() -> Result<(), String>,
) -> Result<Option<String>, String> {
    if !faults.iter().any(|k| k.cuts_power()) {
        return Ok(None);
    }
    let Err(why) = fuse() else { return Ok(None) };
    let named: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|w| FaultKind::ALL.iter().any(|k| k.cuts_power() && k.name() == *w))
        .collect();
    if !named.is_empty() {
        return Err(format!("{} needs the lazy filesystem, and {why}", named.join(", ")));
    }
    faults.retain(|k| !k.cuts_power());
    Ok(Some(format!("`all` leaves out power-loss and power-loss-all here: {why}")))
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
    /// Checks every intensity against its bounds (see `limits`); the error names the flag
    /// and the field (`nemesis.<field>` in a run's config).
    pub fn validate(&self) -> Result<(), Invalid> {
        let bad = |field: &str, flag, v: f64, must: String| {
            Err(Invalid::new(format!("nemesis.{field}"), Some(flag), v, must))
        };
        for (field, flag, p) in [
            ("loss", "--loss", self.loss),
            ("duplicate", "--duplicate", self.duplicate),
            ("reorder", "--reorder", self.reorder),
            ("crash_p", "--crash-p", self.crash_p),
        ] {
            if let Err(must) = limits::probability(p) {
                return bad(field, flag, p, must);
            }
        }
        for (field, flag, v) in [
            ("delay_ms", "--delay-ms", self.delay_ms),
            ("reorder_ms", "--reorder-ms", self.reorder_ms),
            ("down_ms", "--down-ms", self.down_ms),
            ("pause_ms", "--pause-ms", self.pause_ms),
        ] {
            if let Err(must) = limits::millis(v) {
                return bad(field, flag, v, must);
            }
        }
        let interval = self.interval_s;
        if !(interval > 0.0 && limits::seconds(interval, limits::MAX_TIME_S, "7 days").is_ok()) {
            let must =
                format!("must be a number of seconds above 0, at most {} (7 days)", limits::MAX_TIME_S);
            return bad("interval_s", "--nemesis-interval-s", interval, must);
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
    fn power_faults_without_fuse_are_refused_when_named_and_left_out_of_all() {
        let no_fuse = || Err("FUSE is not available: /dev/fuse is missing".to_string());
        let mut faults = FaultKind::parse_list("kill,power-loss").unwrap();
        let e = check_power("kill,power-loss", &mut faults, no_fuse).unwrap_err();
        assert!(e.starts_with("power-loss needs the lazy filesystem") && e.contains("/dev/fuse"), "{e}");
        let mut faults = FaultKind::parse_list("all").unwrap();
        let warning = check_power("all", &mut faults, no_fuse).unwrap().expect("a warning");
        assert!(warning.contains("leaves out power-loss"), "{warning}");
        assert!(!faults.iter().any(|k| k.cuts_power()) && faults.contains(&FaultKind::Kill));
        // With FUSE, or without power faults, nothing changes and nobody asks.
        let mut faults = FaultKind::parse_list("all").unwrap();
        assert_eq!(check_power("all", &mut faults, || Ok(())), Ok(None));
        assert_eq!(faults, FaultKind::ALL.to_vec());
        let mut faults = FaultKind::parse_list("kill").unwrap();
        assert_eq!(check_power("kill", &mut faults, || panic!("not asked")), Ok(None));
    }

    #[test]
    fn intensities_are_checked() {
        assert!(NemesisConfig::default().validate().is_ok());
        let bad = NemesisConfig { loss: 2.0, ..NemesisConfig::default() };
        assert!(bad.validate().unwrap_err().as_flag().starts_with("--loss 2.0: must be a probability"));
        let bad = NemesisConfig { interval_s: 0.0, ..NemesisConfig::default() };
        assert!(bad.validate().is_err());
        let bad = NemesisConfig { crash_p: f64::NAN, ..NemesisConfig::default() };
        assert_eq!(bad.validate().unwrap_err().field, "nemesis.crash_p");
        for (down_ms, pause_ms) in [(1e300, 800.0), (800.0, 1e300), (3_600_001.0, 1.0)] {
            let bad = NemesisConfig { down_ms, pause_ms, ..NemesisConfig::default() };
            let e = bad.validate().unwrap_err().as_flag();
            assert!(e.contains("from 0 to 3600000 (1 hour)"), "{e}");
        }
    }
}
