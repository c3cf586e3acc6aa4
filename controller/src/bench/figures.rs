//! The bench's figures as bench.json and `--json` hold them, typed: a renamed or dropped
//! figure is a compile error in the render, not a `null` in the file. Fields are declared in
//! alphabetical order, the order in which the JSON has always listed its keys.

use super::etcd::EtcdFigures;
use super::history::{CheckerFigures, HistoryDisk};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchFigures {
    pub checker: CheckerFigures,
    pub decision_latency_us: DecisionLatency,
    pub decisions_per_s: DecisionsPerS,
    /// Only with an `etcd` binary on PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_ratios: Option<EtcdRatios>,
    pub floor_us: Floor,
    pub history_disk: HistoryDisk,
    pub lazy_fs: LazyFs,
    pub model: ModelFigures,
    /// n3's p50 over the floor (two net round trips plus two fdatasyncs); `null` when no
    /// round trip was seen.
    pub ratio_to_floor: Option<f64>,
    pub ratio_to_floor_two_phase: Option<f64>,
    pub sim: SimFigures,
}

/// `synod model`'s search on its default spec, bounded by a count of states (model.rs in
/// the bench): unique states per second, and the bytes its tables hold per state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelFigures {
    pub states: u64,
    pub states_per_s: u64,
    pub table_bytes_per_state: u64,
    /// Whether the space was explored completely within the bound.
    pub complete: bool,
}

/// The simulator beside the processes on the default run configuration (sim.rs): decisions
/// per wall-clock second of each, their ratio, and simulated seconds per wall second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimFigures {
    pub decisions_per_s: u64,
    pub process_decisions_per_s: u64,
    /// Seconds of simulated run time per second of wall time.
    pub simulated_to_wall: f64,
    /// `decisions_per_s` over `process_decisions_per_s`.
    pub speedup: f64,
}

impl SimFigures {
    pub fn new(
        sim_decisions: u64,
        sim_wall_s: f64,
        simulated_us: u64,
        process_decisions: u64,
        process_wall_s: f64,
    ) -> SimFigures {
        let per_s = |decisions: u64, wall_s: f64| (decisions as f64 / wall_s.max(1e-9)).round() as u64;
        let (decisions_per_s, process_decisions_per_s) =
            (per_s(sim_decisions, sim_wall_s), per_s(process_decisions, process_wall_s));
        SimFigures {
            decisions_per_s,
            process_decisions_per_s,
            simulated_to_wall: round2(simulated_us as f64 / 1e6 / sim_wall_s.max(1e-9)),
            speedup: round2(decisions_per_s as f64 / process_decisions_per_s.max(1) as f64),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The floor under a decision: a net round trip (`None` when the run's history held none)
/// and a 64-byte append plus fdatasync, p50 and p99, in a fresh file and in preallocated
/// zeros.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Floor {
    pub fsync: u64,
    pub fsync_p99: u64,
    pub fsync_preallocated: u64,
    pub fsync_preallocated_p99: u64,
    pub net_rtt: Option<u64>,
}

/// Decision latency quantiles of one run, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
}

/// At concurrency 1: 3 nodes, 5 nodes, and 3 nodes without the fast round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLatency {
    pub n3: Quantiles,
    pub n3_two_phase: Quantiles,
    pub n5: Quantiles,
}

/// Decisions per second on 3 nodes at concurrency 1 to 256, and at 64 with one change each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionsPerS {
    pub c1: u64,
    pub c16: u64,
    pub c256: u64,
    pub c64: u64,
    pub c64_jsonl: u64,
    pub c64_trace_ops: u64,
    pub c64_two_phase: u64,
}

/// The n3 latency and c64 runs again with the data dirs on the lazy filesystem, or why
/// they were not run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LazyFs {
    Measured { c64_per_s: u64, n3_p50: u64, n3_p99: u64 },
    Unavailable { unavailable: String },
}

/// synod's figures over etcd's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtcdRatios {
    pub decision_p50_to_put_p50: f64,
    pub decisions_c64_to_puts_c64: f64,
}

impl EtcdRatios {
    pub fn new(decision_p50_us: u64, decisions_per_s_c64: u64, etcd: &EtcdFigures) -> EtcdRatios {
        EtcdRatios {
            decision_p50_to_put_p50: ratio(decision_p50_us as f64, etcd.put_p50_us as f64),
            decisions_c64_to_puts_c64: ratio(decisions_per_s_c64 as f64, etcd.puts_per_s_c64 as f64),
        }
    }
}

/// `a / b` to two decimals; 0 when `b` is not above 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        (a / b * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// `p50_us` over the floor (two net round trips plus two fdatasyncs) to two decimals, or
/// `None` without a round trip.
pub fn ratio_to_floor(p50_us: u64, floor: &Floor) -> Option<f64> {
    let floor_us = 2 * floor.net_rtt? + 2 * floor.fsync;
    Some((p50_us as f64 / floor_us as f64 * 100.0).round() / 100.0)
}

/// The figures of a real bench run (`synod bench --time 1` before the figures were typed),
/// with etcd's added.
#[cfg(test)]
pub(super) fn sample() -> BenchFigures {
    use super::history::DiskBytes;
    let floor_us = Floor {
        fsync: 136,
        fsync_p99: 4046,
        fsync_preallocated: 93,
        fsync_preallocated_p99: 2358,
        net_rtt: Some(188),
    };
    let etcd = EtcdFigures { put_p50_us: 812, put_p99_us: 2490, puts_per_s_c64: 14021 };
    BenchFigures {
        checker: CheckerFigures {
            bytes: 86968475,
            bytes_zst: 10000534,
            events: 999948,
            events_per_s: 1237091,
            events_per_s_zst: 1141465,
            peak_rss_mb: 13.5,
        },
        decision_latency_us: DecisionLatency {
            n3: Quantiles { p50: 1096, p99: 13887, p999: 20207 },
            n3_two_phase: Quantiles { p50: 2073, p99: 29071, p999: 31183 },
            n5: Quantiles { p50: 1344, p99: 13287, p999: 20287 },
        },
        decisions_per_s: DecisionsPerS {
            c1: 552,
            c16: 1702,
            c256: 3191,
            c64: 2964,
            c64_jsonl: 3110,
            c64_trace_ops: 2250,
            c64_two_phase: 1336,
        },
        etcd_ratios: Some(EtcdRatios::new(1096, 2964, &etcd)),
        etcd: Some(etcd),
        ratio_to_floor: ratio_to_floor(1096, &floor_us),
        ratio_to_floor_two_phase: ratio_to_floor(2073, &floor_us),
        floor_us,
        history_disk: HistoryDisk {
            jsonl: DiskBytes { bytes: 2441511, bytes_per_decision: 14979, decisions: 163 },
            ratio: 13.2,
            time_s: 2.0,
            zst: DiskBytes { bytes: 545780, bytes_per_decision: 1132, decisions: 482 },
        },
        lazy_fs: LazyFs::Measured { c64_per_s: 1699, n3_p50: 1482, n3_p99: 16095 },
        model: ModelFigures {
            states: 2_000_000,
            states_per_s: 400_000,
            table_bytes_per_state: 204,
            complete: false,
        },
        sim: SimFigures::new(24_000, 2.0, 12_500_000, 5_000, 10.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// bench.json of that run as the untyped figures wrote it, etcd's figures added.
    fn written_before() -> serde_json::Value {
        json!({
            "checker": {
                "bytes": 86968475, "bytes_zst": 10000534, "events": 999948,
                "events_per_s": 1237091, "events_per_s_zst": 1141465, "peak_rss_mb": 13.5
            },
            "decision_latency_us": {
                "n3": {"p50": 1096, "p99": 13887, "p999": 20207},
                "n3_two_phase": {"p50": 2073, "p99": 29071, "p999": 31183},
                "n5": {"p50": 1344, "p99": 13287, "p999": 20287}
            },
            "decisions_per_s": {
                "c1": 552, "c16": 1702, "c256": 3191, "c64": 2964,
                "c64_jsonl": 3110, "c64_trace_ops": 2250, "c64_two_phase": 1336
            },
            "etcd": {"put_p50_us": 812, "put_p99_us": 2490, "puts_per_s_c64": 14021},
            "etcd_ratios": {"decision_p50_to_put_p50": 1.35, "decisions_c64_to_puts_c64": 0.21},
            "floor_us": {
                "fsync": 136, "fsync_p99": 4046, "fsync_preallocated": 93,
                "fsync_preallocated_p99": 2358, "net_rtt": 188
            },
            "history_disk": {
                "jsonl": {"bytes": 2441511, "bytes_per_decision": 14979, "decisions": 163},
                "ratio": 13.2,
                "time_s": 2.0,
                "zst": {"bytes": 545780, "bytes_per_decision": 1132, "decisions": 482}
            },
            "lazy_fs": {"c64_per_s": 1699, "n3_p50": 1482, "n3_p99": 16095},
            "model": {"complete": false, "states": 2000000, "states_per_s": 400000, "table_bytes_per_state": 204},
            "ratio_to_floor": 1.69,
            "ratio_to_floor_two_phase": 3.2,
            "sim": {
                "decisions_per_s": 12000, "process_decisions_per_s": 500, "simulated_to_wall": 6.25,
                "speedup": 24.0
            }
        })
    }

    #[test]
    fn the_figures_serialize_to_the_keys_and_values_bench_json_always_had() {
        let typed = serde_json::to_value(sample()).unwrap();
        assert_eq!(typed, written_before());
        // In alphabetical order, as the untyped map wrote them.
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        let keys: Vec<&str> = text.lines().filter(|l| l.starts_with("  \"")).map(|l| l.trim()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn without_etcd_or_fuse_or_a_round_trip_the_figures_say_so() {
        let mut f = sample();
        f.etcd = None;
        f.etcd_ratios = None;
        f.floor_us.net_rtt = None;
        f.ratio_to_floor = ratio_to_floor(1096, &f.floor_us);
        f.lazy_fs = LazyFs::Unavailable { unavailable: "FUSE is not available".into() };
        let mut want = written_before();
        let o = want.as_object_mut().unwrap();
        o.remove("etcd");
        o.remove("etcd_ratios");
        o["floor_us"]["net_rtt"] = json!(null);
        o["ratio_to_floor"] = json!(null);
        o["lazy_fs"] = json!({"unavailable": "FUSE is not available"});
        assert_eq!(serde_json::to_value(&f).unwrap(), want);
    }

    #[test]
    fn a_ratio_over_nothing_is_zero() {
        let etcd = EtcdFigures { put_p50_us: 0, put_p99_us: 0, puts_per_s_c64: 0 };
        assert_eq!(
            EtcdRatios::new(1096, 2964, &etcd),
            EtcdRatios { decision_p50_to_put_p50: 0.0, decisions_c64_to_puts_c64: 0.0 }
        );
    }
}
