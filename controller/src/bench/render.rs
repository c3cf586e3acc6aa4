//! The bench's figures as text: one line a measurement, the units in the line. Fractions
//! print as in bench.json (`2.0`, `null`), so the text and the file read the same.

use super::etcd::EtcdFigures;
use super::figures::{BenchFigures, EtcdRatios, LazyFs, Quantiles};
use super::history::{CheckerFigures, HistoryDisk};

pub fn render(f: &BenchFigures) -> String {
    let mut out = String::new();
    let fl = &f.floor_us;
    out.push_str(&format!(
        "floor             net round trip {}   64-byte append + fdatasync p50 {} p99 {}   (into preallocated zeros, as the node's log: p50 {} p99 {})\n",
        ms(fl.net_rtt),
        ms(Some(fl.fsync)),
        ms(Some(fl.fsync_p99)),
        ms(Some(fl.fsync_preallocated)),
        ms(Some(fl.fsync_preallocated_p99))
    ));
    let l = &f.decision_latency_us;
    out.push_str(&latency("decision n3      ", &l.n3));
    out.push_str(&latency("decision n5      ", &l.n5));
    out.push_str(&latency("n3 both phases   ", &l.n3_two_phase));
    out.push_str(&format!(
        "ratio to floor    {} (n3 p50 / (2 net round trips + 2 fdatasyncs)); both phases {}\n",
        fraction(f.ratio_to_floor),
        fraction(f.ratio_to_floor_two_phase)
    ));
    let d = &f.decisions_per_s;
    out.push_str(&format!(
        "decisions/s       c1 {}   c16 {}   c64 {}   c256 {}   c64 with --trace ops {}   c64 both phases {}   c64 plain history {}\n",
        d.c1, d.c16, d.c64, d.c256, d.c64_trace_ops, d.c64_two_phase, d.c64_jsonl
    ));
    out.push_str(&lazy_fs(f));
    out.push_str(&checker(&f.checker));
    out.push_str(&history_disk(&f.history_disk));
    out.push_str(&format!(
        "model checker     {} states/s (default spec, {} {} states), {} table bytes a state\n",
        f.model.states_per_s,
        if f.model.complete { "complete:" } else { "first" },
        f.model.states,
        f.model.table_bytes_per_state
    ));
    out.push_str(&format!(
        "simulation        default run: {} decisions/s simulated, {} as processes ({}x); {}x simulated seconds per wall second\n",
        f.sim.decisions_per_s, f.sim.process_decisions_per_s, f.sim.speedup, f.sim.simulated_to_wall
    ));
    match (&f.etcd, &f.etcd_ratios) {
        (Some(e), Some(r)) => out.push_str(&etcd(e, r)),
        _ => out.push_str("etcd              not on PATH (Debian: apt install etcd-server)\n"),
    }
    out
}

fn latency(label: &str, q: &Quantiles) -> String {
    format!("{label} p50 {}   p99 {}   p99.9 {}\n", ms(Some(q.p50)), ms(Some(q.p99)), ms(Some(q.p999)))
}

fn lazy_fs(f: &BenchFigures) -> String {
    match &f.lazy_fs {
        LazyFs::Unavailable { unavailable } => format!("lazy filesystem   not measured: {unavailable}\n"),
        LazyFs::Measured { c64_per_s, n3_p50, n3_p99 } => format!(
            "lazy filesystem   decision n3 p50 {} p99 {} (without: {})   c64 {c64_per_s}/s (without: {})\n",
            ms(Some(*n3_p50)),
            ms(Some(*n3_p99)),
            ms(Some(f.decision_latency_us.n3.p50)),
            f.decisions_per_s.c64
        ),
    }
}

fn checker(c: &CheckerFigures) -> String {
    format!(
        "checker           {} events/s plain, {} events/s compressed ({} MB -> {} MB), peak {} MB\n",
        c.events_per_s,
        c.events_per_s_zst,
        mb(c.bytes),
        mb(c.bytes_zst),
        fraction(Some(c.peak_rss_mb))
    )
}

fn history_disk(h: &HistoryDisk) -> String {
    format!(
        "history on disk   {} bytes/decision compressed, {} plain ({}x; default settings, {} s)\n",
        h.zst.bytes_per_decision,
        h.jsonl.bytes_per_decision,
        fraction(Some(h.ratio)),
        fraction(Some(h.time_s))
    )
}

fn etcd(e: &EtcdFigures, r: &EtcdRatios) -> String {
    format!(
        "etcd 3 members    put p50 {}   p99 {}   puts/s at c64 {}  (HTTP gateway, keep-alive Rust client)\n\
         synod / etcd      decision p50 / put p50 = {}   decisions/s / puts/s at c64 = {}\n",
        ms(Some(e.put_p50_us)),
        ms(Some(e.put_p99_us)),
        e.puts_per_s_c64,
        fraction(Some(r.decision_p50_to_put_p50)),
        fraction(Some(r.decisions_c64_to_puts_c64))
    )
}

/// Microseconds as milliseconds to two decimals; `-` for none.
fn ms(us: Option<u64>) -> String {
    us.map(|us| format!("{:.2} ms", us as f64 / 1000.0)).unwrap_or_else(|| "-".into())
}

/// Bytes as megabytes to one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// A fraction as JSON writes it: `2.0` (not `2`), `null` for none or not finite.
fn fraction(v: Option<f64>) -> String {
    serde_json::Value::from(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::figures::sample;

    /// What the untyped render printed for the same figures.
    #[test]
    fn the_text_is_the_one_the_untyped_figures_gave() {
        let want = "\
floor             net round trip 0.19 ms   64-byte append + fdatasync p50 0.14 ms p99 4.05 ms   (into preallocated zeros, as the node's log: p50 0.09 ms p99 2.36 ms)
decision n3       p50 1.10 ms   p99 13.89 ms   p99.9 20.21 ms
decision n5       p50 1.34 ms   p99 13.29 ms   p99.9 20.29 ms
n3 both phases    p50 2.07 ms   p99 29.07 ms   p99.9 31.18 ms
ratio to floor    1.69 (n3 p50 / (2 net round trips + 2 fdatasyncs)); both phases 3.2
decisions/s       c1 552   c16 1702   c64 2964   c256 3191   c64 with --trace ops 2250   c64 both phases 1336   c64 plain history 3110
lazy filesystem   decision n3 p50 1.48 ms p99 16.09 ms (without: 1.10 ms)   c64 1699/s (without: 2964)
checker           1237091 events/s plain, 1141465 events/s compressed (87.0 MB -> 10.0 MB), peak 13.5 MB
history on disk   1132 bytes/decision compressed, 14979 plain (13.2x; default settings, 2.0 s)
model checker     400000 states/s (default spec, first 2000000 states), 204 table bytes a state
simulation        default run: 12000 decisions/s simulated, 500 as processes (24x); 6.25x simulated seconds per wall second
etcd 3 members    put p50 0.81 ms   p99 2.49 ms   puts/s at c64 14021  (HTTP gateway, keep-alive Rust client)
synod / etcd      decision p50 / put p50 = 1.35   decisions/s / puts/s at c64 = 0.21
";
        assert_eq!(render(&sample()), want);
    }

    #[test]
    fn missing_figures_print_as_the_untyped_render_printed_them() {
        let mut f = sample();
        f.etcd = None;
        f.etcd_ratios = None;
        f.floor_us.net_rtt = None;
        f.ratio_to_floor = None;
        f.ratio_to_floor_two_phase = None;
        f.history_disk.time_s = 10.0;
        f.lazy_fs = LazyFs::Unavailable { unavailable: "FUSE is not available: SYNOD_NO_FUSE is set".into() };
        let text = render(&f);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("floor             net round trip -   64-byte"), "{text}");
        assert_eq!(
            lines[4],
            "ratio to floor    null (n3 p50 / (2 net round trips + 2 fdatasyncs)); both phases null"
        );
        assert_eq!(lines[6], "lazy filesystem   not measured: FUSE is not available: SYNOD_NO_FUSE is set");
        assert_eq!(
            lines[8],
            "history on disk   1132 bytes/decision compressed, 14979 plain (13.2x; default settings, 10.0 s)"
        );
        assert_eq!(lines[11], "etcd              not on PATH (Debian: apt install etcd-server)");
        assert_eq!(lines.len(), 12);
    }
}
