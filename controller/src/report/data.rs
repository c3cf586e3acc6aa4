//! One pass over a history for the report: every op's latency and outcome, the first learn
//! of every instance, the fault windows, and a few contended instances (those with a nack)
//! to draw.
//!
//! The history is read as typed events (`synod_checker::history`), and the fault windows
//! are the checker's ([`FaultState`]): the report shades exactly the windows the checker
//! splits its calm and fault figures by.

use anyhow::Result;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use synod_checker::history::{Body, Event, Events, FaultState, Msg};

/// A fault in force from `from_us` to `to_us`. `network` faults (loss, partition, ...) are
/// labelled on the charts; process ones (a node down or paused) are only shaded.
pub use synod_checker::history::Window;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Info,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// When the op was invoked, and how long it took to end.
    pub t_us: u64,
    pub latency_us: u64,
    pub outcome: Outcome,
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

/// Reads the history at `history` (a run folder or a history file). A line that is not a
/// valid event is an error naming its file and line; a torn last line ends the history.
pub fn read(history: &Path) -> Result<Data> {
    let mut events = Events::open(history)?;
    let mut data = Data::default();
    let mut invoked: HashMap<u64, u64> = HashMap::new();
    let mut learned: HashSet<u64> = HashSet::new();
    let mut faults = FaultState::default();
    // Most lines are message events, of which the report needs only the time, and the
    // instance of the first few nacks: they are told by their first bytes and passed over
    // unparsed (parsing them all would make this pass three times slower), but for nacks.
    let skip = |line: &[u8], end_us: &mut u64, want_nacks: bool| {
        if !MESSAGE_PREFIXES.iter().any(|p| line.starts_with(p)) {
            return false;
        }
        if let Some(t) = t_of(line) {
            *end_us = (*end_us).max(t);
        }
        let nack = || std::str::from_utf8(line).is_ok_and(|l| l.contains("\"type\":\"nack\""));
        !(want_nacks && line.starts_with(MESSAGE_PREFIXES[0]) && nack())
    };
    loop {
        let want_nacks = data.contended.len() < MAX_CONTENDED;
        let Some(ev) = events.next_unless(|line| skip(line, &mut data.end_us, want_nacks)) else { break };
        let ev = ev?;
        let t = ev.t();
        data.end_us = data.end_us.max(t);
        match ev {
            Event::Send(s) => {
                if let Body::Paxos(Msg::Nack { instance, .. }) = s.body {
                    if data.contended.len() < MAX_CONTENDED && !data.contended.contains(&instance) {
                        data.contended.push(instance);
                    }
                }
            }
            Event::Invoke(e) => {
                invoked.insert(e.op, t);
            }
            Event::Ok(e) => end_op(&mut data, &mut invoked, e.op, t, Outcome::Ok),
            Event::Info(e) => end_op(&mut data, &mut invoked, e.op, t, Outcome::Info),
            Event::Fail(e) => end_op(&mut data, &mut invoked, e.op, t, Outcome::Fail),
            Event::Learn(e) if learned.insert(e.instance) => data.first_learns_us.push(t),
            Event::Nemesis(e) => faults.apply_event(&e, &mut data.windows),
            _ => {}
        }
    }
    faults.finish(data.end_us, &mut data.windows);
    data.windows.sort_by_key(|w| w.from_us);
    Ok(data)
}

/// How message events' lines begin (the controller writes `type` first).
const MESSAGE_PREFIXES: [&[u8]; 3] = [b"{\"type\":\"send\"", b"{\"type\":\"recv\"", b"{\"type\":\"drop\""];

/// The `t` of a line without parsing it all.
fn t_of(line: &[u8]) -> Option<u64> {
    let key = line.windows(4).position(|w| w == b"\"t\":")? + 4;
    let digits = line[key..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[key..key + digits]).ok()?.parse().ok()
}

/// The op's end: its latency from its invoke (an end without an invoke, a late or second
/// reply, is not an op of its own).
fn end_op(data: &mut Data, invoked: &mut HashMap<u64, u64>, op: u64, t: u64, outcome: Outcome) {
    if let Some(start) = invoked.remove(&op) {
        data.ops.push(Op { t_us: start, latency_us: t.saturating_sub(start), outcome });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the report gets from a history: ops with their latency and outcome (replies
    /// without an invoke left out), first learns, the checker's fault windows (sorted, the
    /// ones still open ended at the last event), contended instances, the end.
    #[test]
    fn the_report_reads_ops_learns_windows_and_contention() {
        let history = r#"{"type":"run","t":0,"nodes":[1,2,3]}
{"type":"phase","t":5,"phase":"workload"}
{"type":"nemesis","t":10,"action":"loss","p":0.2}
{"type":"invoke","t":12,"op":1,"node":1,"instance":1,"value":"a"}
{"type":"send","t":13,"msg":1,"src":1,"dest":2,"body":{"type":"prepare","instance":1,"ballot":[1,1]}}
{"type":"send","t":14,"msg":2,"src":2,"dest":1,"body":{"type":"nack","instance":1,"ballot":[1,1],"promised":[2,3]}}
{"type":"send","t":15,"msg":3,"src":3,"dest":1,"body":{"type":"nack","instance":1,"ballot":[1,1],"promised":[2,3]}}
{"type":"nemesis","t":20,"action":"kill","nodes":[2]}
{"type":"learn","t":25,"node":1,"instance":1,"value":"a"}
{"type":"learn","t":26,"node":3,"instance":1,"value":"a"}
{"type":"ok","t":27,"op":1,"node":1,"instance":1,"value":"a"}
{"type":"ok","t":28,"op":1,"node":1,"instance":1,"value":"a","late":true}
{"type":"nemesis","t":30,"action":"loss-off"}
{"type":"invoke","t":31,"op":2,"node":3,"instance":2,"value":"b"}
{"type":"invoke","t":32,"op":3,"node":1,"instance":3,"value":"c"}
{"type":"nemesis","t":40,"action":"restart","nodes":[2]}
{"type":"send","t":41,"msg":4,"src":2,"dest":3,"body":{"type":"nack","instance":7,"ballot":[1,2],"promised":[3,1]}}
{"type":"fail","t":45,"op":2,"node":3,"error":"nack"}
{"type":"info","t":46,"op":3,"node":1,"error":"timeout"}
{"type":"nemesis","t":50,"action":"partition","components":[[1],[2,3]]}
{"type":"learn","t":52,"node":2,"instance":7,"value":"x"}
{"type":"nemesis","t":55,"action":"power-loss","nodes":[3],"torn":true}
{"type":"recv","t":70,"msg":4}
"#;
        let dir = std::env::temp_dir().join(format!("synod-report-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(&path, history).unwrap();
        let data = read(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        let data = data.unwrap();
        let op = |t_us, latency_us, outcome| Op { t_us, latency_us, outcome };
        assert_eq!(
            data.ops,
            vec![op(12, 15, Outcome::Ok), op(31, 14, Outcome::Fail), op(32, 14, Outcome::Info)]
        );
        assert_eq!(data.first_learns_us, vec![25, 52]);
        assert_eq!(data.contended, vec![1, 7]);
        assert_eq!(data.end_us, 70);
        let windows: Vec<(u64, u64, &str, bool)> =
            data.windows.iter().map(|w| (w.from_us, w.to_us, w.label.as_str(), w.network)).collect();
        assert_eq!(
            windows,
            vec![
                (10, 30, "loss", true),
                (20, 40, "n2 down", false),
                (50, 70, "partition", true),
                (55, 70, "n3 down", false),
            ]
        );
    }

    /// A line that is not an event is an error that names the file and line, not a line
    /// silently left out of the charts.
    #[test]
    fn a_malformed_line_is_an_error_with_its_line() {
        let dir = std::env::temp_dir().join(format!("synod-report-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(&path, "{\"type\":\"run\",\"t\":0,\"nodes\":[1]}\n{\"type\":\"invoke\",\"t\":1}\n")
            .unwrap();
        let e = read(&path).map(|_| ()).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.starts_with(&format!("{}:2: ", path.display())), "{e}");
        assert!(e.contains("`invoke` event lacks field"), "{e}");
    }
}
