//! `synod model`: flags to a [`Spec`] and [`Limits`], the search, its outcome printed (text or
//! JSON), and a violation's shortest path written as a run folder (exit 1).

use crate::cli::ModelArgs;
use crate::exit::Exit;
use crate::model::walk::{walk, WalkLimits};
use crate::model::world::{World, MAX_PROPOSALS};
use crate::model::{explore_with, trace, Limits, Reduction, Spec};
use anyhow::{Context, Result};
use serde_json::json;
use std::time::Duration;
use synod_node::paxos::Bug;

pub fn model(args: ModelArgs) -> Result<Exit> {
    let bug = args.bug.as_deref().map(str::parse::<Bug>).transpose()?;
    anyhow::ensure!(
        args.proposers <= args.nodes,
        "--proposers {} is above --nodes {}",
        args.proposers,
        args.nodes
    );
    let spec = Spec {
        nodes: args.nodes,
        proposers: args.proposers,
        instances: args.instances,
        max_ballots: args.max_ballots,
        crashes: args.crashes,
        decided_retries: args.decided_retries,
        duplicate: !args.no_duplicate,
        bug,
    };
    anyhow::ensure!(
        spec.proposals() <= MAX_PROPOSALS,
        "--proposers {} times --instances {} is {} client proposals; the model tracks at most {MAX_PROPOSALS}",
        spec.proposers,
        spec.instances,
        spec.proposals()
    );
    let limits = Limits {
        max_states: (args.max_states > 0).then_some(args.max_states),
        max_depth: args.max_depth,
        time: args.time.map(Duration::from_secs_f64),
    };
    let reduction = match (args.no_reduction, args.no_symmetry) {
        (true, _) => Reduction::None,
        (false, true) => Reduction::NoSymmetry,
        (false, false) => Reduction::Full,
    };
    let mut outcome = explore_with(&spec, limits, reduction);
    let walks =
        (outcome.violation.is_none() && outcome.bounded_by.is_some() && args.walk_time > 0.0).then(|| {
            let limits = WalkLimits {
                max_walks: args.max_walks,
                ..WalkLimits::new(Duration::from_secs_f64(args.walk_time), args.walk_len, args.seed)
            };
            let (mut world, root) = World::new(&spec, false);
            walk(&mut world, root, limits)
        });
    // A walk's violation is real, but only the search's is known to be a shortest one.
    let shortest = outcome.violation.is_some();
    if let Some(found) = walks.as_ref().and_then(|w| w.found.as_ref()) {
        outcome.violation = Some((found.violation.clone(), found.actions.clone()));
    }
    let run_dir = match &outcome.violation {
        Some((v, path)) => {
            let argv: Vec<String> = std::env::args().collect();
            Some(
                trace::write_run(&spec, path, v, &args.runs_dir, &argv)
                    .context("cannot write the counterexample")?,
            )
        }
        None => None,
    };
    let peak_rss = peak_rss_bytes();
    if args.json {
        let report = json!({
            "model": trace::spec_json(&spec),
            "states": outcome.states,
            "transitions": outcome.transitions,
            "depth": outcome.depth,
            "judged_depth": outcome.judged_depth,
            "elapsed_s": outcome.elapsed.as_secs_f64(),
            "states_per_s": outcome.states_per_s().round(),
            "peak_rss_bytes": peak_rss,
            "table_bytes": outcome.table_bytes,
            "node_states": outcome.node_states,
            "core_steps": outcome.core_steps,
            "dead_messages": outcome.dead_messages,
            "symmetry": outcome.symmetry,
            "unfolded_states": outcome.unfolded_states,
            "walks": walks.as_ref().map(|w| json!({
                "walks": w.walks,
                "steps": w.steps,
                "elapsed_s": w.elapsed.as_secs_f64(),
                "violations": w.violations,
                "found_at_step": w.found.as_ref().map(|f| f.walk_len),
            })),
            "combinations": outcome.combinations,
            "complete": outcome.complete(),
            "bounded_by": outcome.bounded_by,
            "violation": outcome.violation.as_ref().map(|(v, path)| json!({
                "rule": v.rule.name(),
                "detail": v.detail,
                "steps": path.len(),
                "found_by": if shortest { "search" } else { "walk" },
                "shortest": shortest,
                "run": run_dir.as_ref().map(|d| d.display().to_string()),
            })),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verdict = match (&outcome.violation, outcome.bounded_by) {
            (Some(_), _) => "VIOLATION".to_string(),
            (None, Some(bound)) => format!("bounded by {bound}: no violation in the states visited"),
            (None, None) => "complete: no violation".to_string(),
        };
        println!(
            "{verdict}; {} unique states, {} transitions, depth {}, {:.2} s, {:.0} states/s, peak memory {} MiB",
            outcome.states,
            outcome.transitions,
            outcome.depth,
            outcome.elapsed.as_secs_f64(),
            outcome.states_per_s(),
            peak_rss.map_or("?".to_string(), |b| (b >> 20).to_string()),
        );
        if let Some(w) = &walks {
            println!(
                "walks: {} walks, {} steps, {:.2} s{}",
                w.walks,
                w.steps,
                w.elapsed.as_secs_f64(),
                w.found.as_ref().map_or(String::new(), |f| format!(
                    "; {} broke a rule, the shortest kept (its walk broke it at step {})",
                    w.violations, f.walk_len
                )),
            );
        }
        if let (Some((v, path)), Some(dir)) = (&outcome.violation, &run_dir) {
            println!("{v}");
            if shortest {
                println!("shortest counterexample: {} steps, run: {}", path.len(), dir.display());
            } else {
                println!(
                    "counterexample found by a walk, shrunk to {} steps (none is {} steps or shorter: \
                     the search judged every such path), run: {}",
                    path.len(),
                    outcome.judged_depth,
                    dir.display()
                );
            }
        }
    }
    Ok(if outcome.violation.is_some() { Exit::Unsafe } else { Exit::Ok })
}

/// The process's peak resident memory (Linux `VmHWM`), if it can be read.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
