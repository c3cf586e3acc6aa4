//! Swarm testing (Groce et al.): rather than every fault in every run, each run of a soak
//! gets a random subset of the enabled faults and random intensities around the configured
//! means. Runs with few faults reach states that a storm of every fault at once hides (a
//! partition is no test of anything while all messages are lost anyway).

use crate::limits::{MAX_DURATION_MS, MAX_TIME_S};
use crate::nemesis::{FaultKind, NemesisConfig};
use crate::net::faults::{uniform, DelayDist};
use synod_node::paxos::rng::Rng;

/// The smallest factor a run's nemesis interval is drawn with (times the base interval):
/// the busiest schedule a soak may draw, checked against the schedule cap at plan time.
pub const MIN_INTERVAL_FACTOR: f64 = 0.5;

/// One run's nemesis: a non-empty subset of `base.faults` (if it has any), each intensity
/// scaled by a random factor, the delay distribution drawn too.
pub fn draw(base: &NemesisConfig, rng: &mut Rng) -> NemesisConfig {
    let mut faults: Vec<FaultKind> = base.faults.iter().copied().filter(|_| rng.below(2) == 0).collect();
    if faults.is_empty() && !base.faults.is_empty() {
        faults.push(base.faults[rng.below(base.faults.len() as u64) as usize]);
    }
    let mut scale = |v: f64, lo: f64, hi: f64| v * (lo + uniform(rng) * (hi - lo));
    // Scaled up, an intensity near its bound would pass it: keep every draw within bounds.
    let ms = |v: f64| v.min(MAX_DURATION_MS as f64);
    let nemesis = NemesisConfig {
        faults,
        interval_s: scale(base.interval_s, MIN_INTERVAL_FACTOR, 2.0).min(MAX_TIME_S),
        loss: scale(base.loss, 0.25, 2.0).min(0.9),
        delay_ms: ms(scale(base.delay_ms, 0.2, 3.0)),
        delay_dist: DelayDist::Exponential,
        duplicate: scale(base.duplicate, 0.25, 3.0).min(0.9),
        reorder: scale(base.reorder, 0.25, 2.0).min(0.9),
        reorder_ms: ms(scale(base.reorder_ms, 0.2, 3.0)),
        down_ms: ms(scale(base.down_ms, 0.25, 2.0)),
        pause_ms: ms(scale(base.pause_ms, 0.25, 2.0)),
        crash_p: scale(base.crash_p, 0.25, 3.0).min(0.9),
    };
    let dists = [DelayDist::Constant, DelayDist::Uniform, DelayDist::Exponential];
    NemesisConfig { delay_dist: dists[rng.below(3) as usize], ..nemesis }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn draws_are_valid_subsets_that_vary_and_repeat_by_seed() {
        let base = NemesisConfig::default();
        let mut rng = Rng::new(11);
        let mut subsets = BTreeSet::new();
        for _ in 0..200 {
            let d = draw(&base, &mut rng);
            assert!(!d.faults.is_empty());
            assert!(d.faults.iter().all(|k| base.faults.contains(k)));
            assert!(d.validate().is_ok(), "{d:?}");
            subsets.insert(d.faults.clone());
        }
        assert!(subsets.len() > 50, "only {} distinct subsets", subsets.len());
        // Power losses are drawn like any other fault, alone or with others.
        let with_power = subsets.iter().filter(|s| s.contains(&FaultKind::PowerLoss)).count();
        assert!(with_power > 10 && with_power < subsets.len(), "{with_power} of {}", subsets.len());
        assert_eq!(draw(&base, &mut Rng::new(3)), draw(&base, &mut Rng::new(3)));
        let edge = NemesisConfig {
            interval_s: MAX_TIME_S,
            delay_ms: MAX_DURATION_MS as f64,
            reorder_ms: MAX_DURATION_MS as f64,
            down_ms: MAX_DURATION_MS as f64,
            pause_ms: MAX_DURATION_MS as f64,
            ..base.clone()
        };
        for _ in 0..50 {
            let d = draw(&edge, &mut rng);
            assert!(d.validate().is_ok(), "a draw at the bounds must stay within them: {d:?}");
        }
        let none = NemesisConfig { faults: vec![], ..base };
        assert!(draw(&none, &mut rng).faults.is_empty());
    }
}
