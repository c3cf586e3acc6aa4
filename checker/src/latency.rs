//! Latency histograms (hdrhistogram, 3 significant figures, microseconds), each split into
//! calm and fault windows (see `faults.rs` for which is which).

use crate::report::{LatencySummary, SplitLatency};
use hdrhistogram::Histogram;

#[derive(Debug)]
pub(crate) struct SplitHistogram {
    calm: Histogram<u64>,
    fault: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // Auto-resizing, 3 significant figures: constant arguments that are always valid.
    Histogram::new(3).expect("3 significant figures is a valid histogram precision")
}

impl Default for SplitHistogram {
    fn default() -> Self {
        SplitHistogram { calm: histogram(), fault: histogram() }
    }
}

impl SplitHistogram {
    pub fn record(&mut self, us: u64, fault: bool) {
        let h = if fault { &mut self.fault } else { &mut self.calm };
        // `record` grows the histogram as needed (`saturating_record` would clamp instead).
        if h.record(us).is_err() {
            h.saturating_record(us);
        }
    }

    pub fn summary(&self) -> SplitLatency {
        // A fresh histogram auto-resizes, so adding cannot fail (a clone would not).
        let mut all = histogram();
        let _ = all.add(&self.calm);
        let _ = all.add(&self.fault);
        SplitLatency { all: summarize(&all), calm: summarize(&self.calm), fault: summarize(&self.fault) }
    }
}

fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        mean_us: (h.mean() * 10.0).round() / 10.0,
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_merges() {
        let mut h = SplitHistogram::default();
        for us in 1..=100 {
            h.record(us, false);
        }
        h.record(5000, true);
        let s = h.summary();
        assert_eq!(s.calm.count, 100);
        assert_eq!(s.calm.p50_us, 50);
        assert_eq!(s.calm.max_us, 100);
        assert_eq!(s.fault.count, 1);
        assert_eq!(s.all.count, 101);
        assert!(s.all.max_us >= 5000, "{s:?}");
    }
}
