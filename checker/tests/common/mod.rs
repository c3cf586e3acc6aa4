//! Helpers shared by the fixture tests.
#![allow(dead_code)]

use std::path::PathBuf;
use synod_checker::{check_path, Report, Verdict};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn check(name: &str) -> Report {
    match check_path(&fixture(name)) {
        Ok(r) => r,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Asserts that exactly `rule` is violated, exit code 1, and its first anomaly is in full.
pub fn assert_only(report: &Report, rule: &str) {
    let text = report.render_text();
    assert_eq!(report.exit_code(), 1, "{text}");
    assert_eq!(report.exit_code, 1);
    assert_eq!(report.verdict, Verdict::Invalid);
    assert!(!report.safe);
    assert_eq!(report.violated_rules(), vec![rule], "{text}");
    let r = report.rule(rule).unwrap();
    assert_eq!(r.violations, 1, "{text}");
    let a = r.first.as_ref().expect("first anomaly in full");
    assert_eq!(a.rule, rule);
    // Rules about one event (a value nobody invoked, a decision nothing backs) may have
    // only that event to show.
    let single = ["validity", "learned-only-if-chosen", "truthful-promise"].contains(&rule);
    assert!(a.events.len() >= 2 || (single && !a.events.is_empty()), "conflicting events: {text}");
    assert!(a.events.iter().all(|e| e.line > 0));
    assert!(!a.trace.is_empty(), "trace: {text}");
    assert!(text.contains(&format!("{rule} violated")), "{text}");
}

pub fn assert_valid(report: &Report) {
    let text = report.render_text();
    assert_eq!(report.exit_code(), 0, "{text}");
    assert_eq!(report.verdict, Verdict::Valid, "{text}");
    assert!(report.safe && report.live == Some(true) && !report.truncated, "{text}");
    assert!(report.violated_rules().is_empty());
    assert!(report.warnings.is_empty(), "{text}");
}

/// Line numbers of the first anomaly's events.
pub fn event_lines(report: &Report, rule: &str) -> Vec<u64> {
    let a = report.rule(rule).and_then(|r| r.first.as_ref()).expect("an anomaly");
    a.events.iter().map(|e| e.line).collect()
}
