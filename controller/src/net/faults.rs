//! Per-link fault settings: loss, delay distribution, duplication, reordering and cut links.
//! The nemesis sets them; the router asks them about every message.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;

/// How long the net holds a message before delivering it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Delay {
    None,
    Constant { ms: f64 },
    Uniform { max_ms: f64 },
    Exponential { mean_ms: f64 },
}

/// The distribution of the nemesis's delays (`--delay-dist`, cli.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DelayDist {
    Constant,
    Uniform,
    Exponential,
}

impl Delay {
    /// `--delay-ms MS` with `--delay-dist`: constant MS, uniform in [0, 2 MS] (mean MS), or
    /// exponential with mean MS. Zero means no delay.
    pub fn from_flags(dist: DelayDist, ms: f64) -> Delay {
        if ms <= 0.0 {
            return Delay::None;
        }
        match dist {
            DelayDist::Constant => Delay::Constant { ms },
            DelayDist::Uniform => Delay::Uniform { max_ms: 2.0 * ms },
            DelayDist::Exponential => Delay::Exponential { mean_ms: ms },
        }
    }

    pub fn sample_us(&self, rng: &mut Rng) -> u64 {
        match *self {
            Delay::None => 0,
            Delay::Constant { ms } => (ms * 1000.0) as u64,
            Delay::Uniform { max_ms } => (uniform(rng) * max_ms * 1000.0) as u64,
            Delay::Exponential { mean_ms } => {
                // Inverse transform; capped at 20 means so one sample cannot stall a run.
                let u = uniform(rng).max(1e-12);
                ((-u.ln()).min(20.0) * mean_ms * 1000.0) as u64
            }
        }
    }
}

/// Uniform in [0, 1).
pub fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Drop(&'static str),
    /// Deliver after this delay; `duplicate` delivers a second copy after its own delay.
    Deliver {
        delay_us: u64,
        duplicate: Option<u64>,
    },
}

/// Reordering: a message is held back with probability `p`, for up to `max_ms`, so that
/// messages sent after it overtake it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reorder {
    pub p: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Faults {
    pub loss: f64,
    pub delay: Delay,
    pub duplicate: f64,
    pub reorder: Option<Reorder>,
    /// Directed links (src, dest) that drop everything.
    pub cut: HashSet<(NodeId, NodeId)>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults { loss: 0.0, delay: Delay::None, duplicate: 0.0, reorder: None, cut: HashSet::new() }
    }
}

impl Faults {
    /// Decides the fate of a message from `src` to `dest`. Messages a node sends itself never
    /// cross a link, so they are never lost or cut, but they may be delayed like any other.
    pub fn fate(&self, rng: &mut Rng, src: NodeId, dest: NodeId) -> Fate {
        if src != dest {
            if self.cut.contains(&(src, dest)) {
                return Fate::Drop("partition");
            }
            if self.loss > 0.0 && uniform(rng) < self.loss {
                return Fate::Drop("loss");
            }
        }
        let delay_us = self.delay_us(rng);
        let duplicate = (self.duplicate > 0.0 && uniform(rng) < self.duplicate).then(|| self.delay_us(rng));
        Fate::Deliver { delay_us, duplicate }
    }

    fn delay_us(&self, rng: &mut Rng) -> u64 {
        let mut us = self.delay.sample_us(rng);
        if let Some(r) = self.reorder {
            if uniform(rng) < r.p {
                us += (uniform(rng) * r.max_ms * 1000.0) as u64;
            }
        }
        us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rate_is_honoured_and_self_messages_are_never_lost() {
        let f = Faults { loss: 0.3, ..Faults::default() };
        let mut rng = Rng::new(1);
        let lost = (0..10_000).filter(|_| f.fate(&mut rng, 1, 2) == Fate::Drop("loss")).count();
        assert!((2_700..3_300).contains(&lost), "{lost}");
        assert!((0..1000).all(|_| f.fate(&mut rng, 2, 2) != Fate::Drop("loss")));
    }

    #[test]
    fn cut_links_drop_one_way_only() {
        let mut f = Faults::default();
        f.cut.insert((1, 2));
        let mut rng = Rng::new(1);
        assert_eq!(f.fate(&mut rng, 1, 2), Fate::Drop("partition"));
        assert!(matches!(f.fate(&mut rng, 2, 1), Fate::Deliver { .. }));
    }

    #[test]
    fn reordering_holds_back_the_given_share_of_messages() {
        let f = Faults { reorder: Some(Reorder { p: 0.3, max_ms: 50.0 }), ..Faults::default() };
        let mut rng = Rng::new(5);
        let held: Vec<u64> = (0..10_000)
            .filter_map(|_| match f.fate(&mut rng, 1, 2) {
                Fate::Deliver { delay_us, .. } if delay_us > 0 => Some(delay_us),
                _ => None,
            })
            .collect();
        assert!((2_700..3_300).contains(&held.len()), "{}", held.len());
        assert!(held.iter().all(|&us| us <= 50_000));
    }

    #[test]
    fn delay_flags_pick_the_distribution_with_the_given_mean() {
        assert_eq!(Delay::from_flags(DelayDist::Exponential, 0.0), Delay::None);
        assert_eq!(Delay::from_flags(DelayDist::Constant, 3.0), Delay::Constant { ms: 3.0 });
        assert_eq!(Delay::from_flags(DelayDist::Uniform, 3.0), Delay::Uniform { max_ms: 6.0 });
        assert_eq!(Delay::from_flags(DelayDist::Exponential, 3.0), Delay::Exponential { mean_ms: 3.0 });
    }

    #[test]
    fn delays_follow_their_distribution() {
        let mut rng = Rng::new(3);
        let n = 20_000;
        let mean = |d: Delay, rng: &mut Rng| (0..n).map(|_| d.sample_us(rng)).sum::<u64>() as f64 / n as f64;
        assert_eq!(Delay::Constant { ms: 2.0 }.sample_us(&mut rng), 2000);
        let u = mean(Delay::Uniform { max_ms: 10.0 }, &mut rng);
        assert!((4_700.0..5_300.0).contains(&u), "{u}");
        let e = mean(Delay::Exponential { mean_ms: 4.0 }, &mut rng);
        assert!((3_700.0..4_300.0).contains(&e), "{e}");
    }
}
