//! The scenarios. Each names what it shows, runs it, and checks that it happened.
//!
//! Each variant changes `synod run`'s defaults on its number of nodes (with no faults but its
//! schedule's, and no revisits: scenario/mod.rs). The scenarios about the two phases turn the
//! fast round off (`--no-fast-round`): every ballot, including the first, then prepares
//! before it accepts, as in "Paxos Made Simple".

use super::{Facts, Scenario, Variant};
use crate::run::config::RunConfig;
use synod_checker::history::{Event, Msg};
use synod_checker::Ballot;
use synod_node::paxos::Bug;

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "lost-accept",
        about: "one acceptor's accept is lost; the value is still chosen by the majority and learned by all",
        variants: &[Variant {
            label: "lost accept",
            nodes: 3,
            setup: |c| {
                c.proposers = vec![1];
                c.contention = 1;
                c.instances = Some(1);
                c.tuning.fast_round = false;
            },
            schedule: r#"{"on": {"type": "accept", "src": 1, "dest": 3, "instance": 1}, "action": "drop-message"}"#,
        }],
        instance: 1,
        check: lost_accept,
    },
    Scenario {
        name: "proposer-dies-mid-accept",
        about: "n1's accept reaches one acceptor, n1 dies; n2's prepare finds that value and n1's value is decided",
        variants: &[Variant {
            label: "n1 dies mid-accept",
            nodes: 3,
            setup: |c| {
                c.proposers = vec![1, 2];
                c.instances = Some(1);
                c.tuning.fast_round = false;
            },
            schedule: r#"{"at_s": 0, "action": "stop", "nodes": [2]}
{"on": {"type": "accept", "src": 1, "dest": 1, "instance": 1}, "action": "drop-message"}
{"on": {"type": "accept", "src": 1, "dest": 2, "instance": 1}, "action": "drop-message"}
{"on": {"type": "accept", "src": 1, "dest": 3, "instance": 1, "at": "delivery"}, "action": "kill", "nodes": [1]}
{"at_s": 0.5, "action": "cont", "nodes": [2]}"#,
        }],
        instance: 1,
        check: proposer_dies_mid_accept,
    },
    Scenario {
        name: "dueling-proposers",
        about: "three proposers per instance preempt each other; without backoff far more often than with randomized backoff",
        variants: &[
            Variant {
                label: "no backoff",
                nodes: 3,
                setup: |c| {
                    duel(c);
                    c.tuning.backoff = false;
                },
                schedule: DUEL_DELAY,
            },
            Variant {
                label: "randomized backoff",
                nodes: 3,
                setup: duel,
                schedule: DUEL_DELAY,
            },
        ],
        instance: 1,
        check: dueling,
    },
    Scenario {
        name: "acceptor-restart",
        about: "an acceptor promises, is SIGKILLed and restarted, and still rejects the lower ballot; a volatile acceptor does not",
        variants: &[
            Variant {
                label: "correct acceptor",
                nodes: 3,
                setup: |c| {
                    c.proposers = vec![1, 2];
                    c.instances = Some(1);
                    c.tuning.fast_round = false;
                },
                schedule: ACCEPTOR_RESTART,
            },
            Variant {
                label: "volatile acceptor (--bug volatile-acceptor on n3)",
                nodes: 3,
                setup: |c| {
                    c.proposers = vec![1, 2];
                    c.instances = Some(1);
                    c.tuning.fast_round = false;
                    c.tuning.bug = Some(Bug::VolatileAcceptor);
                    c.bug_nodes = vec![3];
                },
                schedule: ACCEPTOR_RESTART,
            },
        ],
        instance: 1,
        check: acceptor_restart,
    },
    Scenario {
        name: "minority-partition",
        about: "the minority side decides nothing, the majority side decides; after the heal every node learns the same",
        variants: &[Variant {
            label: "n1,n2 | n3,n4,n5",
            nodes: 5,
            setup: |c| {
                c.contention = 1;
                c.concurrency = 4;
                c.time_s = 2.0;
            },
            schedule: r#"{"at_s": 0, "action": "partition", "shape": "halves", "components": [[1, 2], [3, 4, 5]]}
{"at_s": 1.0, "action": "heal"}"#,
        }],
        instance: 1,
        check: minority_partition,
    },
    Scenario {
        name: "paused-proposer",
        about: "a proposer stopped between its phases wakes with a stale ballot and is rejected; safety holds",
        variants: &[Variant {
            label: "n1 paused after its promises",
            // No instance limit: the run goes on after n1 wakes, so that the answers to its
            // stale accept are recorded. A long phase timeout: n1 must not give up its
            // ballot on waking (its timer would otherwise race its queued promise).
            nodes: 3,
            setup: |c| {
                c.proposers = vec![1, 2];
                c.concurrency = 1;
                c.time_s = 1.5;
                c.tuning.fast_round = false;
                c.tuning.phase_timeout_ms = 5000;
            },
            schedule: r#"{"at_s": 0, "action": "stop", "nodes": [2]}
{"on": {"type": "promise", "dest": 1, "instance": 1, "at": "delivery", "nth": 2}, "action": "stop", "nodes": [1]}
{"at_s": 0.2, "action": "cont", "nodes": [2]}
{"at_s": 0.8, "action": "cont", "nodes": [1]}"#,
        }],
        instance: 1,
        check: paused_proposer,
    },
    Scenario {
        name: "asynchrony",
        about: "delays of up to a second and reordering, no timing bound: safety holds, decisions are only delayed",
        variants: &[Variant {
            label: "delays up to 1.6 s",
            nodes: 3,
            setup: |c| {
                c.concurrency = 4;
                c.time_s = 4.5;
            },
            schedule: r#"{"at_s": 0, "action": "delay", "dist": "uniform", "mean_ms": 400}
{"at_s": 0, "action": "reorder", "p": 0.5, "max_ms": 800}
{"at_s": 4, "action": "delay-off"}
{"at_s": 4, "action": "reorder-off"}"#,
        }],
        instance: 1,
        check: asynchrony,
    },
    Scenario {
        name: "fast-round",
        about: "the owner of round 0 skips phase 1 and decides in one round trip; a proposer that missed it prepares a higher ballot, finds that value and proposes it",
        variants: &[Variant {
            label: "n2 owns round 0 of instance 1; n1 is cut off",
            // Instance 1 belongs to proposers[1 mod 2] = n2. n1 is stopped and cut off, so
            // it hears nothing of the decision until it proposes itself. The run goes on past
            // the heal (no instance limit): the final phase would heal at once, and n2's
            // `decided` could reach n1 before n1's own proposal.
            nodes: 3,
            setup: |c| {
                c.proposers = vec![1, 2];
                c.concurrency = 1;
                c.time_s = 1.0;
            },
            schedule: r#"{"at_s": 0, "action": "stop", "nodes": [1]}
{"at_s": 0, "action": "partition", "shape": "isolate", "components": [[1], [2, 3]]}
{"at_s": 0.45, "action": "heal"}
{"at_s": 0.45, "action": "cont", "nodes": [1]}"#,
        }],
        instance: 1,
        check: fast_round,
    },
];

/// Both dueling runs: three proposers on every instance, one instance at a time, both phases.
fn duel(c: &mut RunConfig) {
    c.proposers = vec![1, 2, 3];
    c.contention = 3;
    c.instances = Some(40);
    c.concurrency = 1;
    c.tuning.fast_round = false;
}

const DUEL_DELAY: &str = r#"{"at_s": 0, "action": "delay", "dist": "exponential", "mean_ms": 5}"#;

const ACCEPTOR_RESTART: &str = r#"{"at_s": 0, "action": "stop", "nodes": [1]}
{"on": {"type": "promise", "src": 3, "dest": 2, "instance": 1}, "action": "kill", "nodes": [3]}
{"on": {"type": "accept", "src": 2, "instance": 1}, "action": "stop", "nodes": [2]}
{"at_s": 0.3, "action": "restart", "nodes": [3]}
{"at_s": 0.6, "action": "cont", "nodes": [1]}
{"at_s": 1.0, "action": "cont", "nodes": [2]}"#;

type Check = Result<String, String>;

fn safe(f: &Facts) -> Result<(), String> {
    if f.report.safe {
        Ok(())
    } else {
        Err(format!("the checker found a safety violation: {}", f.report.verdict.name()))
    }
}

fn lost_accept(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let lost = f
        .sends("accept", 1)
        .into_iter()
        .filter(|(s, _)| s.dest == 3 && f.drop_reason(s.msg) == Some("nemesis"))
        .count();
    if lost != 1 {
        return Err(format!("expected n1's accept to n3 lost once, saw {lost}"));
    }
    let value = f.agreed(1)?;
    let proposed = f.invoked_by(1, 1).ok_or("n1 never proposed")?;
    if value != proposed {
        return Err(format!("decided {value}, but n1 proposed {proposed}"));
    }
    Ok(format!("n1's accept to n3 was lost, yet {value} was chosen by n1 and n2 and learned by all three"))
}

fn proposer_dies_mid_accept(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let n1_value = f.invoked_by(1, 1).ok_or("n1 never proposed")?;
    let n2_value = f.invoked_by(2, 1).ok_or("n2 never proposed")?;
    let carried = f.sends("promise", 1).into_iter().any(|(p, m)| {
        p.src == 3
            && p.dest == 2
            && matches!(m, Msg::Promise { accepted: Some(a), .. } if a.value == n1_value.as_str())
    });
    if !carried {
        return Err("no promise from n3 to n2 carried n1's accepted value".into());
    }
    let value = f.agreed(1)?;
    if value != n1_value {
        return Err(format!("decided {value}, not n1's {n1_value}"));
    }
    Ok(format!(
        "n3's promise to n2 carried n1's accepted {n1_value}; n2 proposed it instead of its own {n2_value}, and it was decided"
    ))
}

fn dueling(runs: &[Facts]) -> Check {
    let (off, on) = (&runs[0], &runs[1]);
    safe(off)?;
    safe(on)?;
    for (label, f) in [("without", off), ("with", on)] {
        if f.report.live != Some(true) {
            return Err(format!("{label} backoff, some instance was never decided"));
        }
    }
    let (n_off, n_on) = (off.count_sends("nack"), on.count_sends("nack"));
    let (p_off, p_on) = (off.count_sends("prepare"), on.count_sends("prepare"));
    if n_off * 10 < n_on * 11 {
        return Err(format!(
            "without backoff {n_off} nacks, with backoff {n_on}: no more duelling without it"
        ));
    }
    // A ballot is one prepare to each acceptor; three proposers share each instance.
    let per = |p: usize, f: &Facts| {
        p as f64 / f.nodes as f64 / f.report.liveness.invoked_instances.max(1) as f64 / 3.0
    };
    Ok(format!(
        "without backoff: {n_off} nacks, {:.1} ballots an instance per proposer; with randomized backoff: {n_on} nacks, {:.1}; both decided every instance, safely",
        per(p_off, off),
        per(p_on, on)
    ))
}

fn acceptor_restart(runs: &[Facts]) -> Check {
    let (good, bad) = (&runs[0], &runs[1]);
    safe(good)?;
    let restart = good.nemesis_t("restart").ok_or("n3 was never restarted")?;
    let rejected = good
        .sends("nack", 1)
        .into_iter()
        .any(|(n, m)| n.src == 3 && n.dest == 1 && n.t > restart && m.ballot().is_some_and(|b| b.0 == 1));
    if !rejected {
        return Err("the restarted n3 did not reject n1's lower ballot".into());
    }
    if bad.report.safe {
        return Err("the volatile acceptor's run was judged safe".into());
    }
    let rules: Vec<&str> = bad.report.safety.iter().filter(|r| !r.ok).map(|r| r.rule.as_str()).collect();
    Ok(format!(
        "after its restart n3 still nacked n1's ballot [1,1] below its promise [1,2]; with --bug volatile-acceptor it forgot the promise and the checker reports: {}",
        rules.join(", ")
    ))
}

fn minority_partition(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let (from, to) = (f.nemesis_t("partition").ok_or("no partition")?, f.nemesis_t("heal").ok_or("no heal")?);
    let learned_during = |nodes: &[u64]| {
        f.events
            .iter()
            .filter(|e| matches!(e, Event::Learn(l) if (from..to).contains(&l.t) && nodes.contains(&l.node)))
            .count()
    };
    let (minority, majority) = (learned_during(&[1, 2]), learned_during(&[3, 4, 5]));
    if minority > 0 {
        return Err(format!("the minority learned {minority} decisions during the partition"));
    }
    if majority == 0 {
        return Err("the majority decided nothing during the partition".into());
    }
    if f.report.live != Some(true) {
        return Err("after the heal not every node learned every instance".into());
    }
    Ok(format!(
        "during the partition n1,n2 learned nothing and n3,n4,n5 learned {majority} decisions; after the heal all five learned all {} instances, the same values",
        f.report.liveness.invoked_instances
    ))
}

fn paused_proposer(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let stop = f.nemesis_on("stop", 1).ok_or("n1 was never stopped")?;
    // Resumed by the schedule, or by the final phase if the run was over by then.
    let cont = f.nemesis_on("cont", 1).or_else(|| f.nemesis_t("heal-all")).ok_or("n1 was never resumed")?;
    let promises_to_n1 = f.sends("promise", 1).into_iter().filter(|(p, _)| p.dest == 1 && p.t < stop).count();
    let stale = f
        .sends("accept", 1)
        .into_iter()
        .find(|(a, _)| a.src == 1 && a.t >= cont)
        .and_then(|(_, m)| m.ballot())
        .ok_or("n1 sent no accept after it woke")?;
    let rejected = f.sends("nack", 1).into_iter().any(|(n, m)| n.dest == 1 && m.ballot() == Some(stale));
    let stale = stale.to_string();
    if !rejected {
        return Err(format!("n1's stale accept at {stale} was not rejected"));
    }
    let value = f.agreed(1)?;
    Ok(format!(
        "n1 had {promises_to_n1} promises and believed it led; paused, it woke and sent accept at stale ballot {stale}, which was nacked; n2 led meanwhile, {value} was decided and safety held"
    ))
}

fn fast_round(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let n1_value = f.invoked_by(1, 1).ok_or("n1 never proposed")?;
    let n2_value = f.invoked_by(2, 1).ok_or("n2 never proposed")?;
    let zero = Ballot(0, 2);
    if f.sends("prepare", 1).iter().any(|(p, _)| p.src == 2) {
        return Err("n2 prepared, though it owns round 0".into());
    }
    if !f.sends("accept", 1).iter().any(|(a, m)| a.src == 2 && m.ballot() == Some(zero)) {
        return Err("n2 sent no accept at [0,2]".into());
    }
    // Healed by the schedule, or by the final phase if the run was over by then.
    let heal = f.nemesis_t("heal").or_else(|| f.nemesis_t("heal-all")).ok_or("never healed")?;
    let (event, first_learn) = f
        .events
        .iter()
        .find_map(|e| match e {
            Event::Learn(l) if l.instance == 1 => Some((e, l)),
            _ => None,
        })
        .ok_or("instance 1 was never learned")?;
    if first_learn.t >= heal || first_learn.value != n2_value.as_str() {
        return Err(format!("n2's value was not learned before the heal: {}", event.to_json()));
    }
    let found = f.sends("promise", 1).into_iter().any(|(p, m)| {
        p.dest == 1
            && matches!(m, Msg::Promise { accepted: Some(a), .. }
                if a.ballot == zero && a.value == n2_value.as_str())
    });
    if !found {
        return Err("no promise to n1 carried n2's round-0 value".into());
    }
    let (n1_ballot, n1_value_sent) = f
        .sends("accept", 1)
        .into_iter()
        .find_map(|(a, m)| match m {
            Msg::Accept { ballot, value, .. } if a.src == 1 => Some((*ballot, value)),
            _ => None,
        })
        .ok_or("n1 sent no accept")?;
    if n1_value_sent != n2_value.as_str() {
        return Err(format!("n1 proposed {n1_value_sent:?} instead of n2's {n2_value}"));
    }
    let value = f.agreed(1)?;
    Ok(format!(
        "n2 sent accept [0,2] without a prepare and {value} was chosen in one round trip; n1 woke with its own {n1_value}, prepared {}, found [0,2] in a promise and proposed {value} in its place",
        n1_ballot
    ))
}

fn asynchrony(runs: &[Facts]) -> Check {
    let f = &runs[0];
    safe(f)?;
    let lat = &f.report.figures.decision_latency_first_learn;
    if lat.fault.count == 0 {
        return Err("nothing was decided while the delays were on".into());
    }
    if lat.fault.p50_us < 100_000 {
        return Err(format!("decisions under delay took only {} us (p50)", lat.fault.p50_us));
    }
    Ok(format!(
        "safe; {} decisions under delays took {:.0} ms (p50), {} in calm took {:.1} ms: only delayed",
        lat.fault.count,
        lat.fault.p50_us as f64 / 1000.0,
        lat.calm.count,
        lat.calm.p50_us as f64 / 1000.0
    ))
}
