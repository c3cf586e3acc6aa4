//! One pass over a history for the report: every op's latency and outcome, the first learn
//! of every instance, the fault windows, and a few contended instances (those with a nack)
//! to draw.

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Info,
    Fail,
}

#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// When the op was invoked, and how long it took to end.
    pub t_us: u64,
    pub latency_us: u64,
    pub outcome: Outcome,
}

/// A fault in force from `from_us` to `to_us`. `network` faults (loss, partition, ...) are
/// labelled on the charts; process ones (a node down or paused) are only shaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from_us: u64,
    pub to_us: u64,
    pub label: String,
    pub network: bool,
}

#[derive(Debug, Default)]
pub struct Data {
    pub ops: Vec<Op>,
    pub first_learns_us: Vec<u64>,
    pub windows: Vec<Window>,
    pub end_us: u64,
    /// Instances where some proposer was nacked, in the order first seen.
    pub contended: Vec<u64>,
}

/// Contended instances kept for diagrams, at most.
pub const MAX_CONTENDED: usize = 3;

pub fn read(history: &Path) -> Result<Data> {
    let file = synod_checker::history_file::open(history)?;
    let mut data = Data::default();
    let mut invoked: HashMap<u64, u64> = HashMap::new();
    let mut learned: HashSet<u64> = HashSet::new();
    let mut open: BTreeMap<String, (u64, bool)> = BTreeMap::new();
    for line in file.lines() {
        let line = line.with_context(|| format!("cannot read {}", history.display()))?;
        // Cheap test first: most lines are message events, parsed only when they are nacks.
        if line.starts_with("{\"type\":\"send\"")
            || line.starts_with("{\"type\":\"recv\"")
            || line.starts_with("{\"type\":\"drop\"")
        {
            if data.contended.len() < MAX_CONTENDED && line.contains("\"type\":\"nack\"") {
                if let Ok(e) = serde_json::from_str::<Value>(&line) {
                    if let Some(i) = e["body"]["instance"].as_u64() {
                        if !data.contended.contains(&i) {
                            data.contended.push(i);
                        }
                    }
                }
            }
            if let Some(t) = t_of(&line) {
                data.end_us = data.end_us.max(t);
            }
            continue;
        }
        let Ok(e) = serde_json::from_str::<Value>(&line) else { continue };
        let t = e["t"].as_u64().unwrap_or(0);
        data.end_us = data.end_us.max(t);
        match e["type"].as_str().unwrap_or("") {
            "invoke" => {
                if let Some(op) = e["op"].as_u64() {
                    invoked.insert(op, t);
                }
            }
            kind @ ("ok" | "info" | "fail") => {
                if let Some(start) = e["op"].as_u64().and_then(|op| invoked.remove(&op)) {
                    let outcome = match kind {
                        "ok" => Outcome::Ok,
                        "info" => Outcome::Info,
                        _ => Outcome::Fail,
                    };
                    data.ops.push(Op { t_us: start, latency_us: t.saturating_sub(start), outcome });
                }
            }
            "learn" => {
                if let Some(i) = e["instance"].as_u64() {
                    if learned.insert(i) {
                        data.first_learns_us.push(t);
                    }
                }
            }
            "nemesis" => nemesis(&e, t, &mut open, &mut data.windows),
            _ => {}
        }
    }
    for (label, (from_us, network)) in open {
        data.windows.push(Window { from_us, to_us: data.end_us, label, network });
    }
    data.windows.sort_by_key(|w| w.from_us);
    Ok(data)
}

/// The `t` of a line without parsing it all.
fn t_of(line: &str) -> Option<u64> {
    let rest = &line[line.find("\"t\":")? + 4..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn nemesis(e: &Value, t: u64, open: &mut BTreeMap<String, (u64, bool)>, out: &mut Vec<Window>) {
    let action = e["action"].as_str().unwrap_or("");
    let nodes: Vec<u64> =
        e["nodes"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
    let mut close = |key: &str, open: &mut BTreeMap<String, (u64, bool)>| {
        if let Some((from_us, network)) = open.remove(key) {
            out.push(Window { from_us, to_us: t, label: key.to_string(), network });
        }
    };
    match action {
        "loss" | "delay" | "duplicate" | "reorder" | "partition" | "crash-point" => {
            open.entry(action.to_string()).or_insert((t, true));
        }
        "heal" => close("partition", open),
        "kill" | "kill-all" | "power-loss" | "power-loss-all" => nodes.iter().for_each(|n| {
            open.entry(format!("n{n} down")).or_insert((t, false));
        }),
        "restart" => nodes.iter().for_each(|n| close(&format!("n{n} down"), open)),
        "stop" => nodes.iter().for_each(|n| {
            open.entry(format!("n{n} paused")).or_insert((t, false));
        }),
        "cont" => nodes.iter().for_each(|n| close(&format!("n{n} paused"), open)),
        "heal-all" => {
            let keys: Vec<String> = open.keys().cloned().collect();
            keys.iter().for_each(|k| close(k, open));
        }
        other => {
            if let Some(base) = other.strip_suffix("-off") {
                close(base, open);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_open_and_close_by_action() {
        let mut open = BTreeMap::new();
        let mut out = Vec::new();
        let ev = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        nemesis(&ev(r#"{"action":"loss","p":0.2}"#), 10, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"kill","nodes":[2]}"#), 20, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"loss-off"}"#), 30, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"restart","nodes":[2]}"#), 40, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"partition","cut":[[1,2]]}"#), 50, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"power-loss","nodes":[3],"torn":true}"#), 55, &mut open, &mut out);
        nemesis(&ev(r#"{"action":"heal-all","final":true}"#), 60, &mut open, &mut out);
        let got: Vec<(u64, u64, &str, bool)> =
            out.iter().map(|w| (w.from_us, w.to_us, w.label.as_str(), w.network)).collect();
        assert_eq!(
            got,
            vec![
                (10, 30, "loss", true),
                (20, 40, "n2 down", false),
                (55, 60, "n3 down", false),
                (50, 60, "partition", true)
            ]
        );
        assert!(open.is_empty());
        assert_eq!(t_of(r#"{"type":"recv","t":12345,"msg":1}"#), Some(12345));
    }
}
