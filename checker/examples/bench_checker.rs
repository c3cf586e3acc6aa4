//! Benchmark (not a timed test): generates a realistic valid history of 1,000,000 events
//! (`synod_checker::bench`), checks it, and prints events/s and peak RSS.
//!
//!     CARGO_TARGET_DIR=target-checker cargo run --release -p synod-checker --example bench_checker [-- EVENTS [PATH]]
//!
//! The history is written to PATH (default: a file in the temp dir, removed afterwards),
//! then read back through `check_path`, i.e. the same buffered file reading `synod check`
//! does. Peak RSS is the process's VmHWM (Linux), which includes the generator's (small)
//! footprint.

use std::time::Instant;
use synod_checker::bench::generate_history;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().and_then(|a| a.replace('_', "").parse().ok()).unwrap_or(1_000_000);
    let (path, keep) = match args.next() {
        Some(p) => (std::path::PathBuf::from(p), true),
        None => (std::env::temp_dir().join(format!("synod-bench-{}.jsonl", std::process::id())), false),
    };

    let started = Instant::now();
    let file = std::fs::File::create(&path).expect("create the history file");
    let stats = generate_history(events, file).expect("write the history");
    let gen_s = started.elapsed().as_secs_f64();
    println!(
        "generated {} events ({} instances, {} ops, {:.1} MB) in {:.2} s -> {}",
        stats.events,
        stats.instances,
        stats.ops,
        stats.bytes as f64 / 1e6,
        gen_s,
        path.display()
    );
    let rss_before = vm_hwm_kib();

    let started = Instant::now();
    let report = synod_checker::check_path(&path).expect("check the history");
    let check_s = started.elapsed().as_secs_f64();
    let rate = report.lines as f64 / check_s;
    println!(
        "checked   {} lines in {:.3} s: {:.0} events/s, {:.1} MB/s; verdict {} (exit {})",
        report.lines,
        check_s,
        rate,
        stats.bytes as f64 / 1e6 / check_s,
        report.verdict.name(),
        report.exit_code()
    );
    match (rss_before, vm_hwm_kib()) {
        (Some(before), Some(after)) => println!(
            "peak RSS  {:.1} MB (VmHWM; {:.1} MB before checking)",
            after as f64 / 1024.0,
            before as f64 / 1024.0
        ),
        _ => println!("peak RSS  unknown (no /proc/self/status)"),
    }
    let f = &report.figures;
    println!(
        "figures   decisions {} ({:.0}/s of run time), {:.1} messages/decision, decision p99 calm {} us / fault {} us",
        f.decisions,
        f.decisions_per_s,
        f.messages_per_decision,
        f.decision_latency_first_learn.calm.p99_us,
        f.decision_latency_first_learn.fault.p99_us
    );
    if !keep {
        let _ = std::fs::remove_file(&path);
    }
    if report.exit_code() != 0 {
        eprint!("{}", report.render_text());
        std::process::exit(report.exit_code());
    }
}
