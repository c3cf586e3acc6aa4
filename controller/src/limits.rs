//! The bounds of everything a run can be asked to do, and the one error that says which
//! value broke which bound.
//!
//! A run's settings come in by several ways: flags (`run`, `soak`, `mutants`, `bench`,
//! `scenario`), a recorded run's meta.json (`--replay`), a schedule file (`--schedule`) and
//! a recorded history's nemesis events. The bounds live here and in the types that carry
//! them (`RunConfig::validate`, `NemesisConfig::validate`, `Action::validate`), so every way
//! in is held to the same limits and a doctored meta.json cannot get past what the flags
//! refuse. Each bound is far above any useful setting and far below what would overflow the
//! microsecond arithmetic of a run (docs/cli.md lists them).

use std::fmt;

/// Node processes in a run, at most.
pub const MAX_NODES: u32 = 64;
/// Seconds of workload in one run, at most: 7 days.
pub const MAX_TIME_S: f64 = 7.0 * 86_400.0;
/// Seconds of a soak (or of a mutant's hunt), at most: 365 days.
pub const MAX_SOAK_S: f64 = 365.0 * 86_400.0;
/// Seconds the final phase may wait, at most: 1 hour.
pub const MAX_FINAL_S: f64 = 3_600.0;
/// Any duration in milliseconds (op and phase timeouts, down, pause, delay, reorder, the
/// node's own tunables), at most: 1 hour. The node enforces the same bound on `init`.
pub const MAX_DURATION_MS: u64 = synod_node::paxos::MAX_DURATION_MS;
/// Instances in flight at once, at most.
pub const MAX_CONCURRENCY: usize = 100_000;
/// Proposers per instance, at most (more than a run's proposers means all of them).
pub const MAX_CONTENTION: usize = MAX_NODES as usize;
/// Actions in one nemesis schedule (generated, scripted or replayed), at most.
pub const MAX_SCHEDULE_ACTIONS: usize = 1_000_000;

/// A setting out of its bounds: the config field (as in meta.json), the flag that sets it
/// (if one does), the value as given, and what it must be.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub field: String,
    pub flag: Option<&'static str>,
    pub value: String,
    pub must: String,
}

impl Invalid {
    /// `value` is shown as Rust's `{:?}` shows it: floats as `1e20` (not 21 digits), lists
    /// as `[1, 2]`.
    pub fn new(
        field: impl Into<String>,
        flag: Option<&'static str>,
        value: impl fmt::Debug,
        must: impl Into<String>,
    ) -> Invalid {
        Invalid { field: field.into(), flag, value: format!("{value:?}"), must: must.into() }
    }

    /// Said of a flag: `--time 1e20: must be ...` (the field's name if no flag sets it).
    pub fn as_flag(&self) -> String {
        match self.flag {
            Some(flag) => format!("{flag} {}: {}", self.value, self.must),
            None => format!("{} {}: {}", self.field, self.value, self.must),
        }
    }

    /// Said of a file: `runs/x/meta.json: config.time_s -1: must be ...`.
    pub fn in_file(&self, file: &str, prefix: &str) -> String {
        format!("{file}: {prefix}{} {}: {}", self.field, self.value, self.must)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_flag())
    }
}

impl std::error::Error for Invalid {}

/// Seconds from 0 to `max` (`what` says how much `max` is, e.g. "7 days").
pub fn seconds(v: f64, max: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be a number of seconds from 0 to {max} ({what})"))
    }
}

/// Milliseconds (a float) from 0 to [`MAX_DURATION_MS`].
pub fn millis(v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=MAX_DURATION_MS as f64).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be a number of milliseconds from 0 to {MAX_DURATION_MS} (1 hour)"))
    }
}

/// A probability, from 0 to 1.
pub fn probability(v: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a probability from 0 to 1".into())
    }
}

/// A clap value parser: seconds from 0 to [`MAX_TIME_S`] (one run's workload).
pub fn run_seconds_flag(text: &str) -> Result<f64, String> {
    let v: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    seconds(v, MAX_TIME_S, "7 days")
}

/// A clap value parser: seconds above 0, at most [`MAX_SOAK_S`] (a soak's or a hunt's budget).
pub fn soak_seconds_flag(text: &str) -> Result<f64, String> {
    let v: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    match seconds(v, MAX_SOAK_S, "365 days") {
        Ok(v) if v > 0.0 => Ok(v),
        _ => Err(format!("must be a number of seconds above 0, at most {MAX_SOAK_S} (365 days)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_what_overflows_and_what_is_not_a_number() {
        assert_eq!(seconds(0.0, MAX_TIME_S, "7 days"), Ok(0.0));
        assert_eq!(seconds(MAX_TIME_S, MAX_TIME_S, "7 days"), Ok(MAX_TIME_S));
        for bad in [-1.0, 1e20, f64::NAN, f64::INFINITY, MAX_TIME_S + 1.0] {
            assert!(seconds(bad, MAX_TIME_S, "7 days").is_err(), "{bad}");
        }
        for bad in [-0.5, 1e300, f64::NAN, 3_600_001.0] {
            assert!(millis(bad).is_err(), "{bad}");
        }
        assert!(probability(f64::NAN).is_err() && probability(1.01).is_err() && probability(1.0).is_ok());
        assert!(run_seconds_flag("1e20").unwrap_err().contains("7 days"));
        assert!(run_seconds_flag("x").unwrap_err().contains("`x` is not a number"));
        assert!(soak_seconds_flag("0").is_err() && soak_seconds_flag("60").is_ok());
    }

    #[test]
    fn an_invalid_value_names_the_flag_or_the_field_in_its_file() {
        let e = Invalid::new("time_s", Some("--time"), -1.0, "must be positive");
        assert_eq!(e.as_flag(), "--time -1.0: must be positive");
        assert_eq!(e.in_file("m.json", "config."), "m.json: config.time_s -1.0: must be positive");
        assert_eq!(Invalid::new("t", Some("--t"), 1e20, "x").as_flag(), "--t 1e20: x");
        let e = Invalid::new("tuning.backoff_max_ms", None, 9, "too long");
        assert_eq!(e.as_flag(), "tuning.backoff_max_ms 9: too long");
    }
}
