//! `synod show RUN`: the run's summary and its first anomaly (with that instance's
//! diagram); `--instance I`: one instance's diagram; `--events`: the raw timeline. All three
//! take `--from`/`--to` (seconds since the run started) and `--nodes`.

use super::diagram;
use super::summary::{ms, RunInfo};
use super::timeline::{self, Filter};
use crate::exit::Exit;
use crate::nodes::parse_list;
use anyhow::{bail, Result};
use serde_json::value::RawValue;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;
use std::io::{BufRead, Write as _};
use std::path::Path;
use synod_checker::history::{parse_line, Event, Events, ReadError};

/// What `synod show` was asked for (its flags, unchecked: they are checked against the run).
#[derive(Debug, Clone)]
pub struct ShowRequest {
    /// A run folder, `latest`, or a run id under `runs_dir`.
    pub run: std::path::PathBuf,
    pub runs_dir: std::path::PathBuf,
    /// Draw this instance's messages (`--instance`).
    pub instance: Option<u64>,
    /// Print the raw events that pass the filters (`--events`).
    pub events: bool,
    /// Seconds after the run started (`--from`, `--to`).
    pub from: Option<f64>,
    pub to: Option<f64>,
    /// A node list (`--nodes`), read against the run's number of nodes.
    pub nodes: Option<String>,
}

pub fn show(args: ShowRequest) -> Result<Exit> {
    let dir = crate::rundir::resolve(&args.run, &args.runs_dir);
    if !dir.join("meta.json").is_file() {
        bail!("{}: not a run folder (no meta.json)", dir.display());
    }
    crate::pruned::require_history(&dir)?;
    let info = RunInfo::load(&dir)?;
    let seconds = |flag: &str, v: Option<f64>| -> Result<Option<u64>> {
        match v {
            Some(s) if !(s.is_finite() && s >= 0.0) => bail!("--{flag} {s}: seconds since the run started"),
            Some(s) => Ok(Some((s * 1e6) as u64)),
            None => Ok(None),
        }
    };
    let nodes: BTreeSet<u64> = match &args.nodes {
        Some(list) => parse_list(list, info.config.nodes)
            .map_err(|e| anyhow::anyhow!("--nodes: {e}"))?
            .into_iter()
            .map(u64::from)
            .collect(),
        None => BTreeSet::new(),
    };
    let filter = Filter {
        instance: args.instance,
        from_us: seconds("from", args.from)?,
        to_us: seconds("to", args.to)?,
        nodes,
        instances: BTreeSet::new(),
    };
    let history = synod_checker::history_file::find(&dir)?;
    if args.events {
        print_events(&history, &filter)?;
        return Ok(Exit::Ok);
    }
    let shown: Vec<u64> = if filter.nodes.is_empty() {
        (1..=u64::from(info.config.nodes)).collect()
    } else {
        filter.nodes.iter().copied().collect()
    };
    if let Some(instance) = args.instance {
        let (known, bad) = instances_in(&history)?;
        if !known.contains(&instance) {
            for b in bad {
                eprintln!("{b}");
            }
            bail!("instance {instance} is not in this run: {}", describe_instances(&known));
        }
        print!("{}", instance_diagram(&history, &filter, &shown, instance)?);
        return Ok(Exit::Ok);
    }
    print!("{}", summary(&info));
    if let Some(instance) = first_anomaly_instance(&info) {
        let f = Filter { instance: Some(instance), ..filter };
        print!("\n{}", instance_diagram(&history, &f, &shown, instance)?);
    }
    Ok(Exit::Ok)
}

fn instance_diagram(history: &Path, filter: &Filter, nodes: &[u64], instance: u64) -> Result<String> {
    let (items, bad) = timeline::read(history, filter)?;
    for b in bad {
        eprintln!("{b}");
    }
    if !items.iter().any(|i| matches!(i, timeline::Item::Message(_))) && items.len() <= 1 {
        bail!("instance {instance}: no events in {} (with these filters)", history.display());
    }
    let mut out = format!("instance {instance} ({} events)\n", items.len());
    out.push_str(&diagram::render(&items, nodes));
    Ok(out)
}

/// Every instance an event of the history names (client events and message bodies), and
/// what could not be read (for when no diagram is drawn to report it).
fn instances_in(history: &Path) -> Result<(BTreeSet<u64>, Vec<String>)> {
    let mut events = Events::open(history)?;
    let mut instances = BTreeSet::new();
    let mut bad = Vec::new();
    while let Some(ev) = events.next() {
        match ev {
            Ok(e) => instances.extend(e.instance()),
            Err(e @ ReadError::Malformed { .. }) => bad.push(timeline::skipped(&e)),
            Err(e) => return Err(e.into()),
        }
    }
    if events.torn() {
        bad.push(timeline::cut_short(events.path(), events.line()));
    }
    Ok((instances, bad))
}

/// "its instances are 1-250", "its instances are 1-3, 7, 9-12", or "it has no instances";
/// a long list is cut after a few ranges.
fn describe_instances(instances: &BTreeSet<u64>) -> String {
    const SHOWN: usize = 8;
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for &i in instances {
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == i => *hi = i,
            _ => ranges.push((i, i)),
        }
    }
    if ranges.is_empty() {
        return "it has no instances".into();
    }
    let mut parts: Vec<String> = ranges
        .iter()
        .take(SHOWN)
        .map(|&(lo, hi)| if lo == hi { format!("{lo}") } else { format!("{lo}-{hi}") })
        .collect();
    if ranges.len() > SHOWN {
        parts.push(format!("... ({} instances in all, up to {})", instances.len(), ranges.last().unwrap().1));
    }
    format!("its instances are {}", parts.join(", "))
}

fn first_anomaly_instance(info: &RunInfo) -> Option<u64> {
    let report = info.report.as_ref()?;
    report.safety.iter().find(|r| !r.ok).and_then(|r| r.first.as_ref()).map(|a| a.instance)
}

/// The run in a few lines, and its first anomaly.
pub fn summary(info: &RunInfo) -> String {
    let c = &info.config;
    let mut out = String::new();
    let _ = writeln!(out, "run      {} ({})", info.run_id, info.path.display());
    let _ = writeln!(out, "started  {}   seed {}   nodes {}", info.started_at, c.seed, c.nodes);
    let _ = writeln!(out, "faults   {}   mutant {}", info.faults(), info.mutant());
    let Some(r) = &info.report else {
        let _ = writeln!(out, "verdict  unchecked (no report.json; `synod check` makes one)");
        return out;
    };
    let _ = writeln!(out, "verdict  {} (exit {})", r.verdict.name(), r.exit_code());
    let f = &r.figures;
    let d = &f.decision_latency_first_learn.all;
    let _ = writeln!(
        out,
        "figures  {} decisions ({:.0}/s), decision p50 {} ms p99 {} ms, {:.1} messages a decision",
        f.decisions,
        f.decisions_per_s,
        ms(Some(d.p50_us)),
        ms(Some(d.p99_us)),
        f.messages_per_decision
    );
    match r.safety.iter().find(|rule| !rule.ok) {
        Some(rule) => {
            let _ = writeln!(out, "anomaly  {} violated in {} instance(s)", rule.rule, rule.violations);
            if let Some(a) = &rule.first {
                let _ = writeln!(out, "first    {}", a.message);
                for e in &a.events {
                    let _ = writeln!(out, "         line {}: {}", e.line, e.text);
                }
            }
        }
        None if r.live == Some(false) => {
            let l = &r.liveness;
            let _ = writeln!(
                out,
                "anomaly  not live: {} invoked instances not learned by all learners, {} never answered ok to a client",
                l.not_learned_by_all, l.clients.unanswered
            );
        }
        None => {
            let _ = writeln!(out, "anomaly  none");
        }
    }
    out
}

/// The history's lines that pass the filter, as recorded; what could not be read goes to
/// stderr after them.
fn print_events(history: &Path, filter: &Filter) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let bad = write_events(history, filter, &mut out)?;
    let _ = out.flush();
    for b in bad {
        eprintln!("{b}");
    }
    Ok(())
}

/// Writes the lines of the history that pass `filter` to `out`, each exactly as recorded
/// (`--events` promises the raw lines: a line the schema reads is never rewritten, so fields
/// it does not know and unknown event types come out whole). Each line is read through the
/// schema's parser to be filtered; one it cannot read is skipped and listed in the result
/// (file, line number, why), as is a torn end. Stops quietly when `out` goes away (a pipe
/// into `head`).
///
/// It reads lines itself rather than through [`Events`], which hands out parsed events
/// only: printing them again (`Event::to_json`) would drop what the schema does not keep.
fn write_events(history: &Path, filter: &Filter, out: &mut impl std::io::Write) -> Result<Vec<String>> {
    let mut file = synod_checker::history_file::open(history)?;
    let mut kept_msgs = HashSet::new();
    let mut bad = Vec::new();
    let mut buf = Vec::with_capacity(1024);
    let mut line = 0u64;
    let mut torn = false;
    loop {
        buf.clear();
        match file.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => {
                let path = file.path().to_path_buf();
                return Err(match synod_checker::history_file::corrupt_stream(&source) {
                    Some(_) => ReadError::Corrupt(source),
                    None => ReadError::Io { path, line, source },
                }
                .into());
            }
        }
        line += 1;
        let complete = buf.last() == Some(&b'\n');
        // As recorded, without its line end.
        let recorded = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let recorded = recorded.strip_suffix(b"\r").unwrap_or(recorded);
        let text = buf.trim_ascii_end();
        if text.is_empty() {
            continue;
        }
        let ev = match parse_line(text) {
            Ok(ev) => ev,
            Err(_) if !complete => {
                torn = true;
                break;
            }
            Err(reason) => {
                let e = ReadError::Malformed { path: file.path().to_path_buf(), line, reason };
                bad.push(timeline::skipped(&e));
                continue;
            }
        };
        if keep_event(&ev, text, filter, &mut kept_msgs)
            && (out.write_all(recorded).is_err() || out.write_all(b"\n").is_err())
        {
            break; // the reader went away (a pipe into head)
        }
    }
    if torn || file.cut() {
        bad.push(timeline::cut_short(file.path(), line));
    }
    Ok(bad)
}

/// Whether `--events` shows `ev` (whose line is `text`). A message is shown with its `recv`
/// and `drop`; a nemesis action when no instance is asked for; any other event when it is
/// about a shown node (or about none) and the asked instance.
fn keep_event(ev: &Event, text: &[u8], filter: &Filter, kept_msgs: &mut HashSet<u64>) -> bool {
    let in_time = filter.in_time(ev.t());
    let instance_ok = |i: Option<u64>| filter.instance.is_none_or(|want| i == Some(want));
    match ev {
        Event::Send(s) => {
            let ok = in_time
                && (filter.node_ok(Some(s.src)) || filter.node_ok(Some(s.dest)))
                && instance_ok(s.body.instance());
            if ok {
                kept_msgs.insert(s.msg.unwrap_or(0));
            }
            ok
        }
        Event::Recv(r) => r.msg.is_some_and(|m| kept_msgs.contains(&m)),
        Event::Drop(d) => d.msg.is_some_and(|m| kept_msgs.contains(&m)),
        Event::Nemesis(_) => in_time && filter.instance.is_none(),
        Event::Unknown { .. } => {
            // The schema keeps no node or instance of a type it does not know: look at the
            // line's own, as for any other event.
            let at: Whereabouts = serde_json::from_slice(text).unwrap_or_default();
            in_time && at.node.is_none_or(|n| filter.node_ok(id(n))) && instance_ok(at.instance.and_then(id))
        }
        e => in_time && e.node().is_none_or(|n| filter.node_ok(Some(n))) && instance_ok(e.instance()),
    }
}

/// The `node` and `instance` fields of a line of an unknown type, as written.
#[derive(Default, serde::Deserialize)]
struct Whereabouts<'a> {
    #[serde(borrow)]
    node: Option<&'a RawValue>,
    #[serde(borrow)]
    instance: Option<&'a RawValue>,
}

/// A field's value as an id, if it is one.
fn id(raw: &RawValue) -> Option<u64> {
    raw.get().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_described_as_ranges_and_long_lists_are_cut() {
        let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        assert_eq!(describe_instances(&set(&[])), "it has no instances");
        assert_eq!(describe_instances(&(1..=250).collect()), "its instances are 1-250");
        assert_eq!(describe_instances(&set(&[1, 2, 3, 7, 9, 10])), "its instances are 1-3, 7, 9-10");
        let sparse: BTreeSet<u64> = (1..=20).map(|i| i * 10).collect();
        let text = describe_instances(&sparse);
        assert!(text.starts_with("its instances are 10, 20, 30"), "{text}");
        assert!(text.ends_with("... (20 instances in all, up to 200)"), "{text}");
    }

    /// Lines as a node or a newer writer may write them: spaces, fields out of the schema's
    /// order, a field it does not know, an unknown type; and lines it cannot read.
    const HISTORY: &str = concat!(
        "{\"type\":\"run\",\"t\":0,\"run_id\":\"e\",\"nodes\":[1,2,3]}\n",
        "{\"type\": \"invoke\", \"t\": 10, \"value\": \"a\", \"op\": 1, \"node\": 1, \"instance\": 1, \"extra\": [1]}\n",
        "{\"type\":\"send\",\"t\":20,\"msg\":1,\"src\":2,\"dest\":3,\"body\":{\"ballot\":[1,2],\"type\":\"prepare\",\"instance\":1}}\n",
        "{\"type\":\"recv\",\"t\":21,\"msg\":1}\n",
        "{\"type\":\"send\",\"t\":22,\"msg\":2,\"src\":1,\"dest\":2,\"body\":{\"type\":\"catchup\",\"instance\":2}}\n",
        "{\"type\":\"drop\",\"t\":23,\"msg\":2,\"reason\":\"loss\"}\n",
        "\n",
        "{\"type\":\"snapshot\",\"t\":30,\"node\":2,\"instance\":1,\"bytes\":7}\n",
        "{\"type\":\"invoke\",\"t\":31,\"node\":2,\"instance\":2,\"value\":\"b\"}\n",
        "{\"type\":\"nemesis\",\"t\":40,\"action\":\"kill\",\"nodes\":[3]}\n",
        "{\"type\":\"process\",\"t\":50,\"node\":3,\"event\":\"exit\",\"status\":\"signal SIGKILL\"}\n",
        "{\"type\":\"learn\",\"t\":60,\"node\":2,\"instance\":1,\"value\":\"a\"}\n",
        "{\"type\":\"learn\",\"t\":70,\"node\":2,\"inst",
    );

    fn events(filter: &Filter) -> (Vec<String>, Vec<String>) {
        let dir = std::env::temp_dir().join(format!(
            "synod-events-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(&path, HISTORY).unwrap();
        let mut out = Vec::new();
        let bad = write_events(&path, filter, &mut out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let bad = bad.into_iter().map(|b| b.replace(&path.display().to_string(), "H")).collect();
        (String::from_utf8(out).unwrap().lines().map(str::to_string).collect(), bad)
    }

    /// `--events` prints every line it keeps exactly as recorded, and says what it skipped.
    #[test]
    fn events_are_the_recorded_lines_and_skipped_ones_are_named() {
        let lines: Vec<&str> = HISTORY.lines().collect();
        let (all, bad) = events(&Filter::default());
        let want: Vec<String> =
            [0, 1, 2, 3, 4, 5, 7, 9, 10, 11].iter().map(|&i| lines[i].to_string()).collect();
        assert_eq!(all, want);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0], "H:9: `invoke` event lacks field `op`, skipped");
        assert!(bad[1].starts_with("H: the history is cut short at line 13"), "{bad:?}");
    }

    /// The filters look at the same fields as before the schema: a message goes with its
    /// receipt and drop, an unknown event by its own node and instance fields.
    #[test]
    fn events_filter_by_node_instance_and_time() {
        let lines: Vec<&str> = HISTORY.lines().collect();
        let pick = |idx: &[usize]| -> Vec<String> { idx.iter().map(|&i| lines[i].to_string()).collect() };
        let (n1, _) = events(&Filter { nodes: [1].into(), ..Filter::default() });
        assert_eq!(n1, pick(&[0, 1, 4, 5, 9]));
        let (n2, _) = events(&Filter { nodes: [2].into(), ..Filter::default() });
        assert_eq!(n2, pick(&[0, 2, 3, 4, 5, 7, 9, 11]));
        let (i1, _) = events(&Filter { instance: Some(1), ..Filter::default() });
        assert_eq!(i1, pick(&[1, 2, 3, 7, 11]));
        let (i2, _) = events(&Filter { instance: Some(2), ..Filter::default() });
        assert_eq!(i2, pick(&[4, 5]));
        let (late, _) = events(&Filter { from_us: Some(30), to_us: Some(50), ..Filter::default() });
        assert_eq!(late, pick(&[7, 9, 10]));
    }
}
