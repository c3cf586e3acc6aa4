//! The benchmark's generated histories must be valid: otherwise the benchmark measures the
//! checker's slow path (anomaly reports) instead of its normal one.

use synod_checker::bench::{generate_history, generate_history_with, GenConfig};
use synod_checker::{check_reader, Verdict};

#[test]
fn generated_history_is_valid_and_counted() {
    let mut buf = Vec::new();
    let stats = generate_history(60_000, &mut buf).unwrap();
    assert!(stats.events > 59_000 && stats.events <= 60_000, "{stats:?}");
    assert_eq!(stats.bytes, buf.len() as u64);
    let report = check_reader(&buf[..], "generated").unwrap();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.render_text());
    assert_eq!(report.lines, stats.events);
    assert_eq!(report.events, stats.events);
    assert_eq!(report.liveness.invoked_instances, stats.instances);
    assert_eq!(report.figures.ops.invoked, stats.ops);
    assert_eq!(report.figures.ops.ok, stats.ops);
    assert!(report.figures.faults.windows >= 1);
    assert!(report.figures.decision_latency_first_learn.fault.count > 0);
    assert!(report.figures.decision_latency_first_learn.calm.count > 0);
    assert!(report.figures.drops_total > 0);
}

#[test]
fn small_and_three_node_shapes_are_valid_too() {
    for cfg in [
        GenConfig { events: 5_000, nodes: 3, contention: 0.5, seed: 7, ..GenConfig::default() },
        GenConfig { events: 3_000, nodes: 7, concurrency: 1, nemesis_every: 0, ..GenConfig::default() },
    ] {
        let mut buf = Vec::new();
        let stats = generate_history_with(&cfg, &mut buf).unwrap();
        let report = check_reader(&buf[..], "generated").unwrap();
        assert_eq!(report.exit_code(), 0, "{cfg:?}\n{}", report.render_text());
        assert_eq!(report.liveness.invoked_instances, stats.instances);
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    generate_history(5_000, &mut a).unwrap();
    generate_history(5_000, &mut b).unwrap();
    assert_eq!(a, b);
}
