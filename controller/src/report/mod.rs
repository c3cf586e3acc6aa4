//! `synod report RUN`: a self-contained `report.html` in the run folder. Everything is
//! inline (styles, SVG charts drawn with plotters, SVG message diagrams), so it opens from
//! disk with no network: the verdicts, op latency over time by outcome with the fault
//! windows shaded and labelled, latency quantiles over time, decisions per second, each
//! safety anomaly with its instance's diagram, and diagrams of a few contended instances.

pub mod charts;
pub mod data;
pub mod lamport;

use crate::inspect::summary::{ms, RunInfo};
use crate::inspect::timeline::{self, Filter, Item};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use synod_checker::{Figures, Report, RuleReport};

pub const REPORT_HTML: &str = "report.html";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes `report.html` into the run folder (checking the history first if the run has no
/// report.json yet); returns its path.
pub fn write(run_dir: &Path) -> Result<PathBuf> {
    let mut info = RunInfo::load(run_dir)?;
    if info.report.is_none() {
        let report = synod_checker::check_path(run_dir).context("cannot check the history")?;
        synod_checker::write_report_json(run_dir, &report).context("cannot write report.json")?;
        info.report = Some(report);
    }
    let report = info.report.as_ref().expect("checked above");
    let history = synod_checker::history_file::find(run_dir)?;
    let data = data::read(&history)?;
    let nodes: Vec<u64> = (1..=u64::from(info.config.nodes)).collect();
    let anomalies: Vec<&RuleReport> = report.safety.iter().filter(|r| !r.ok).collect();
    let items = diagram_items(&history, &anomalies, &data)?;
    let diagram = |instance: u64| lamport::render(&timeline::split_instance(&items, instance), &nodes);

    let mut h = String::new();
    head(&mut h, &info, run_dir);
    verdict(&mut h, report);
    figures(&mut h, &report.figures);
    over_time(&mut h, &data)?;
    anomaly_sections(&mut h, &anomalies, &diagram);
    contended(&mut h, &data, &diagram);
    h.push_str("</body></html>\n");
    let path = run_dir.join(REPORT_HTML);
    std::fs::write(&path, h).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The events of the instances the report draws: each anomaly's first instance and the
/// contended ones (one pass over the history for all of them).
fn diagram_items(history: &Path, anomalies: &[&RuleReport], data: &data::Data) -> Result<Vec<Item>> {
    let mut wanted: BTreeSet<u64> =
        anomalies.iter().filter_map(|r| r.first.as_ref().map(|a| a.instance)).collect();
    wanted.extend(data.contended.iter().copied());
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    Ok(timeline::read(history, &Filter { instances: wanted, ..Filter::default() })?.0)
}

/// The page's head and title, and the run's line: start, seed, nodes, faults, mutant, folder.
fn head(h: &mut String, info: &RunInfo, run_dir: &Path) {
    let title = format!("synod run {}", info.run_id);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head><body>\n",
        esc(&title),
        STYLE
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(
        h,
        "<p class=\"meta\">started {} &middot; seed {} &middot; {} nodes &middot; faults: {} &middot; mutant: {} &middot; {}</p>",
        esc(&info.started_at),
        info.config.seed,
        info.config.nodes,
        esc(&info.faults()),
        esc(&info.mutant()),
        esc(&run_dir.display().to_string())
    );
}

/// The verdict, a row per safety rule, and the liveness judgement.
fn verdict(h: &mut String, report: &Report) {
    let verdict_class = if !report.safe {
        "bad"
    } else if report.live == Some(false) {
        "warn"
    } else {
        "good"
    };
    let _ = writeln!(
        h,
        "<h2>Verdict</h2><p class=\"verdict {verdict_class}\">{} (exit {})</p>",
        report.verdict.name(),
        report.exit_code()
    );
    h.push_str("<table><tr><th>safety rule</th><th>result</th><th>instances violating</th></tr>\n");
    for r in &report.safety {
        let (class, text) = if r.ok { ("good", "ok") } else { ("bad", "VIOLATED") };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"{class}\">{text}</td><td>{}</td></tr>",
            r.rule, r.violations
        );
    }
    h.push_str("</table>\n");
    let l = &report.liveness;
    let live = match report.live {
        Some(true) => {
            "live: every invoked instance was learned by every learner and answered ok to a client".to_string()
        }
        Some(false) => format!(
            "NOT LIVE: learners: {} of {} invoked instances not learned by every learner; clients: {} never answered ok",
            l.not_learned_by_all, l.invoked_instances, l.clients.unanswered
        ),
        None if report.aborted => "liveness not judged (the run aborted before its nodes ran)".to_string(),
        None => "liveness not judged (truncated or interrupted history)".to_string(),
    };
    let _ = writeln!(h, "<p>{}</p>", esc(&live));
}

/// Decisions, messages and drops, and the latency quantiles in calm and fault windows.
fn figures(h: &mut String, f: &Figures) {
    let _ = writeln!(
        h,
        "<h2>Figures</h2><p>{} decisions ({:.0}/s), {:.1} Paxos messages per decision, {} drops ({})</p>",
        f.decisions,
        f.decisions_per_s,
        f.messages_per_decision,
        f.drops_total,
        esc(&f.drops.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "))
    );
    h.push_str("<table><tr><th>latency (ms)</th><th>window</th><th>n</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n");
    for (name, split) in [
        ("decision, first learn", &f.decision_latency_first_learn),
        ("decision, all learners", &f.decision_latency_all_learned),
        ("op, invoke to ok", &f.op_latency),
    ] {
        for (window, q) in [("calm", &split.calm), ("fault", &split.fault)] {
            let _ = writeln!(
                h,
                "<tr><td>{name}</td><td>{window}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                q.count,
                ms(Some(q.p50_us)),
                ms(Some(q.p90_us)),
                ms(Some(q.p99_us)),
                ms(Some(q.p999_us)),
                ms(Some(q.max_us))
            );
        }
    }
    h.push_str("</table>\n");
}

/// The charts over time, with their legend.
fn over_time(h: &mut String, data: &data::Data) -> Result<()> {
    h.push_str("<h2>Over time</h2>\n<p class=\"legend\">Shaded: <span class=\"net\">network faults</span> (labelled), <span class=\"proc\">nodes down or paused</span>.</p>\n");
    for chart in [
        charts::latency_over_time(data)?,
        charts::quantiles_over_time(data)?,
        charts::decisions_per_second(data)?,
    ] {
        let _ = writeln!(h, "<div class=\"chart\">{chart}</div>");
    }
    Ok(())
}

/// Each violated rule's first anomaly: its message, its events and its instance's diagram.
fn anomaly_sections(h: &mut String, anomalies: &[&RuleReport], diagram: &dyn Fn(u64) -> String) {
    h.push_str("<h2>Anomalies</h2>\n");
    if anomalies.is_empty() {
        h.push_str("<p>None: every safety rule held.</p>\n");
    }
    for r in anomalies {
        let Some(a) = &r.first else { continue };
        let _ = writeln!(h, "<h3>{} (instance {})</h3><p>{}</p><ul>", r.rule, a.instance, esc(&a.message));
        for e in &a.events {
            let _ = writeln!(h, "<li>line {}: {}</li>", e.line, esc(&e.text));
        }
        let _ = writeln!(h, "</ul><div class=\"diagram\">{}</div>", diagram(a.instance));
    }
}

/// The diagrams of the instances where a proposer was nacked.
fn contended(h: &mut String, data: &data::Data, diagram: &dyn Fn(u64) -> String) {
    h.push_str("<h2>Contended instances</h2>\n");
    if data.contended.is_empty() {
        h.push_str("<p>No proposer was nacked in this run.</p>\n");
    }
    for &i in &data.contended {
        let _ = writeln!(h, "<h3>instance {i}</h3><div class=\"diagram\">{}</div>", diagram(i));
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;max-width:1100px;color:#222}\
h1{font-size:22px}h2{margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}\
.good{color:#070}.bad{color:#c00;font-weight:bold}.warn{color:#a50;font-weight:bold}\
.verdict{font-size:18px}.meta{color:#555}.chart,.diagram{overflow-x:auto;margin:8px 0}\
.net{background:rgba(255,140,0,.25);padding:0 4px}.proc{background:rgba(90,90,90,.15);padding:0 4px}";
