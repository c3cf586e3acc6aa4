//! `synod show RUN`: the run's summary and its first anomaly (with that instance's
//! diagram); `--instance I`: one instance's diagram; `--events`: the raw timeline. All three
//! take `--from`/`--to` (seconds since the run started) and `--nodes`.

use super::diagram;
use super::summary::{ms, RunInfo};
use super::timeline::{self, Filter};
use crate::cli::ShowArgs;
use crate::nodes::parse_list;
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::io::{BufRead, Write as _};
use std::path::Path;

pub fn show(args: ShowArgs) -> Result<i32> {
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
        return Ok(0);
    }
    let shown: Vec<u64> = if filter.nodes.is_empty() {
        (1..=u64::from(info.config.nodes)).collect()
    } else {
        filter.nodes.iter().copied().collect()
    };
    if let Some(instance) = args.instance {
        let known = instances_in(&history)?;
        if !known.contains(&instance) {
            bail!("instance {instance} is not in this run: {}", describe_instances(&known));
        }
        print!("{}", instance_diagram(&history, &filter, &shown, instance)?);
        return Ok(0);
    }
    print!("{}", summary(&info));
    if let Some(instance) = first_anomaly_instance(&info) {
        let f = Filter { instance: Some(instance), ..filter };
        print!("\n{}", instance_diagram(&history, &f, &shown, instance)?);
    }
    Ok(0)
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

/// Every instance an event of the history names (client events and message bodies).
fn instances_in(history: &Path) -> Result<BTreeSet<u64>> {
    let file = synod_checker::history_file::open(history)?;
    let mut instances = BTreeSet::new();
    for line in file.lines() {
        let line = line.with_context(|| format!("cannot read {}", history.display()))?;
        if !line.contains("\"instance\"") {
            continue;
        }
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        instances.extend(e["instance"].as_u64().or_else(|| e["body"]["instance"].as_u64()));
    }
    Ok(instances)
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

/// The history's lines that pass the filter, as recorded.
fn print_events(history: &Path, filter: &Filter) -> Result<()> {
    let file = synod_checker::history_file::open(history)?;
    let mut kept_msgs = std::collections::HashSet::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in file.lines() {
        let line = line.with_context(|| format!("cannot read {}", history.display()))?;
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let t = e["t"].as_u64().unwrap_or(0);
        let node_ok = |v: &serde_json::Value| {
            filter.nodes.is_empty() || v.as_u64().is_some_and(|n| filter.nodes.contains(&n))
        };
        let in_time = filter.from_us.is_none_or(|f| t >= f) && filter.to_us.is_none_or(|to| t <= to);
        let keep = match e["type"].as_str().unwrap_or("") {
            "send" => {
                let ok = in_time
                    && (node_ok(&e["src"]) || node_ok(&e["dest"]))
                    && filter.instance.is_none_or(|i| e["body"]["instance"].as_u64() == Some(i));
                if ok {
                    kept_msgs.insert(e["msg"].as_u64().unwrap_or(0));
                }
                ok
            }
            "recv" | "drop" => e["msg"].as_u64().is_some_and(|m| kept_msgs.contains(&m)),
            "nemesis" => in_time && filter.instance.is_none(),
            _ => {
                in_time
                    && (e.get("node").is_none() || node_ok(&e["node"]))
                    && filter.instance.is_none_or(|i| e["instance"].as_u64() == Some(i))
            }
        };
        if keep && writeln!(out, "{line}").is_err() {
            break; // the reader went away (a pipe into head)
        }
    }
    Ok(())
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
}
