//! The nemesis state machine in-process: a schedule and the processes' states in, the
//! effects out, with no process started.

use super::*;
use crate::cluster::ProcState::{Down, Dying, Running, Stopped};
use crate::nemesis::state::Message;
use crate::nemesis::{MatchPoint, MessageMatch};
use synod_checker::history::Event as HistoryEvent;

/// The processes' states, node 1 first.
fn procs(states: &[ProcState]) -> impl Fn(NodeId) -> ProcState + '_ {
    move |n| states[n as usize - 1]
}

fn nemesis(timed: Vec<(u64, Action)>, triggers: Vec<Trigger>) -> Nemesis {
    let timed = timed.into_iter().map(|(at_us, action)| Timed { at_us, action }).collect();
    Nemesis::new(3, Schedule { timed, triggers }, 1)
}

/// The effects, with each recorded event as its history line and the faults as a summary.
fn show(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Record(event) => HistoryEvent::Nemesis(event.clone()).to_json(),
            Effect::SetFaults(f) => format!("faults loss {} cut {} delay {:?}", f.loss, f.cut.len(), f.delay),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn scheduled_actions_come_due_in_order_from_the_workload_start() {
    let mut n = nemesis(
        vec![(100, Action::Loss { p: 0.5 }), (200, Action::Kill { nodes: vec![2] }), (300, Action::Heal)],
        vec![],
    );
    n.start(1_000);
    assert_eq!(n.next_action_us(), Some(1_100));
    assert_eq!(n.poll_due(1_099), None);
    assert_eq!(n.poll_due(1_200), Some(Action::Loss { p: 0.5 }));
    assert_eq!(n.poll_due(1_200), Some(Action::Kill { nodes: vec![2] }));
    assert_eq!(n.poll_due(1_200), None, "the heal is not due yet");
    assert_eq!(n.next_action_us(), Some(1_300));
    // The final phase ends the schedule: nothing more is due, however late.
    n.begin_final();
    assert_eq!((n.next_action_us(), n.poll_due(u64::MAX)), (None, None));
}

#[test]
fn an_action_acts_on_the_nodes_in_the_right_state_and_records_what_the_schedule_asked() {
    let mut n = nemesis(vec![], vec![]);
    let fx = n.apply(7, Action::Kill { nodes: vec![1, 2, 3] }, procs(&[Running, Down, Stopped]));
    assert_eq!(
        show(&fx),
        [r#"{"type":"nemesis","t":7,"action":"kill","nodes":[1,3],"targets":[1,2,3]}"#, "Kill([1, 3])"]
    );
    let fx = n.apply(8, Action::Stop { nodes: vec![1, 2] }, procs(&[Running, Stopped, Running]));
    assert_eq!(
        show(&fx),
        [r#"{"type":"nemesis","t":8,"action":"stop","nodes":[1],"targets":[1,2]}"#, "Stop([1])"]
    );
    let fx = n.apply(9, Action::Cont { nodes: vec![2] }, procs(&[Running, Stopped, Running]));
    assert_eq!(show(&fx), [r#"{"type":"nemesis","t":9,"action":"cont","nodes":[2]}"#, "Cont([2])"]);
    // kill-all names the nodes it killed; power-loss-all every node, a node down too.
    let fx = n.apply(10, Action::KillAll { nodes: vec![] }, procs(&[Running, Down, Stopped]));
    assert_eq!(show(&fx), [r#"{"type":"nemesis","t":10,"action":"kill-all","nodes":[1,3]}"#, "Kill([1, 3])"]);
    let fx = n.apply(11, Action::PowerLossAll { nodes: vec![], torn: true }, procs(&[Running, Down, Dying]));
    assert_eq!(fx.len(), 2);
    assert!(matches!(&fx[1], Effect::CutPower { nodes, torn: true } if nodes == &[1, 2, 3]), "{fx:?}");
    let kinds: Vec<(FaultKind, u64)> = n.exercised().iter().map(|(&k, &c)| (k, c)).collect();
    assert_eq!(
        kinds,
        [(FaultKind::Kill, 1), (FaultKind::Pause, 1), (FaultKind::KillAll, 1), (FaultKind::PowerLossAll, 1)]
    );
}

#[test]
fn a_restart_starts_a_node_that_is_down_and_waits_for_one_that_is_dying() {
    let mut n = nemesis(vec![], vec![]);
    let fx = n.apply(5, Action::Restart { nodes: vec![1, 2, 3] }, procs(&[Dying, Down, Running]));
    assert_eq!(
        show(&fx),
        [r#"{"type":"nemesis","t":5,"action":"restart","nodes":[1,2],"targets":[1,2,3]}"#, "Start(2)"]
    );
    assert!(n.on_exited(3, Down).is_empty(), "no restart was waiting for n3");
    assert_eq!(show(&n.on_exited(1, Down)), ["Start(1)"], "n1 starts once its exit is seen");
    assert!(n.on_exited(1, Down).is_empty(), "and only once");
}

#[test]
fn link_faults_add_up_until_turned_off_and_a_heal_ends_only_partitions() {
    let mut n = nemesis(vec![], vec![]);
    let all_up = [Running, Running, Running];
    n.apply(1, Action::Loss { p: 0.25 }, procs(&all_up));
    n.apply(2, Action::Delay { dist: crate::net::faults::DelayDist::Constant, mean_ms: 5.0 }, procs(&all_up));
    let partition = Action::Partition { shape: None, components: vec![vec![1], vec![2, 3]], cut: vec![] };
    let fx = n.apply(3, partition, procs(&all_up));
    assert_eq!(show(&fx[1..]), ["faults loss 0.25 cut 4 delay Constant { ms: 5.0 }"]);
    assert_eq!(
        n.in_force(procs(&[Running, Stopped, Dying])),
        "loss 0.25, delay, partition, n2 paused, n3 down"
    );
    let fx = n.apply(4, Action::Heal, procs(&all_up));
    assert_eq!(show(&fx[1..]), ["faults loss 0.25 cut 0 delay Constant { ms: 5.0 }"]);
    n.apply(5, Action::LossOff, procs(&all_up));
    n.apply(6, Action::DelayOff, procs(&all_up));
    assert_eq!(n.in_force(procs(&all_up)), "calm");
    assert_eq!((n.faults().loss, n.faults().delay), (0.0, Delay::None));
}

#[test]
fn a_crash_point_kills_one_sender_at_a_time_and_schedules_its_restart() {
    let mut n = nemesis(vec![], vec![]);
    n.start(1_000);
    let crash = Action::CrashPoint { msg: "accept".into(), p: 1.0, down_ms: 50.0 };
    assert_eq!(n.apply(1_500, crash, procs(&[Running; 3])).len(), 1, "only recorded");
    assert_eq!(n.in_force(procs(&[Running; 3])), "crash after accept");
    assert!(n.on_sent(2_000, 2, "prepare", Running).is_empty(), "another message type");
    assert!(n.on_sent(2_000, 2, "accept", Stopped).is_empty(), "a paused node sends nothing");
    let fx = n.on_sent(2_000, 2, "accept", Running);
    assert_eq!(
        show(&fx),
        [r#"{"type":"nemesis","t":2000,"action":"kill","nodes":[2],"trigger":"accept"}"#, "Kill([2])"]
    );
    // Counted when armed and at each crash.
    assert_eq!(n.exercised().get(&FaultKind::CrashPoint), Some(&2));
    assert!(n.is_crash_victim(2, Dying) && n.is_crash_victim(2, Down));
    assert!(!n.is_crash_victim(2, Running) && !n.is_crash_victim(3, Down));
    assert!(n.on_sent(2_100, 3, "accept", Running).is_empty(), "one victim at a time");
    // Its restart comes after the down time, counted from the workload's start.
    assert_eq!(n.next_action_us(), Some(2_000 + 50_000));
    let restart = n.poll_due(52_000).expect("the restart is due");
    assert_eq!(restart, Action::Restart { nodes: vec![2] });
    assert_eq!(show(&n.apply(52_000, restart, procs(&[Running, Down, Running]))[1..]), ["Start(2)"]);
    assert!(!n.is_crash_victim(2, Down), "restarted: no longer the victim");
    assert_eq!(n.on_sent(52_100, 3, "accept", Running).len(), 2, "the next victim");
    // With the crash point off, or at probability 0, nobody dies.
    n.apply(53_000, Action::CrashPointOff, procs(&[Running; 3]));
    assert!(n.on_sent(53_100, 1, "accept", Running).is_empty());
    let never = Action::CrashPoint { msg: "accept".into(), p: 0.0, down_ms: 50.0 };
    let mut n = nemesis(vec![], vec![]);
    n.apply(0, never, procs(&[Running; 3]));
    assert!((0..1_000).all(|t| n.on_sent(t, 1, "accept", Running).is_empty()));
}

#[test]
fn triggers_fire_on_their_nth_match_at_send_or_at_delivery() {
    let on = |kind: &str, src: Option<NodeId>, nth: u32, at: MatchPoint| MessageMatch {
        kind: kind.into(),
        src,
        dest: None,
        instance: None,
        nth,
        at,
    };
    let triggers = vec![
        Trigger { on: on("accept", Some(1), 2, MatchPoint::Send), action: Action::DropMessage },
        Trigger { on: on("accept", Some(1), 1, MatchPoint::Send), action: Action::Stop { nodes: vec![3] } },
        Trigger { on: on("promise", None, 1, MatchPoint::Delivery), action: Action::Kill { nodes: vec![1] } },
    ];
    let mut n = nemesis(vec![], triggers);
    let msg = |id, src, kind| Message { id, src, dest: 2, kind, instance: Some(1) };
    let first = n.on_send(&msg(1, 1, "accept"));
    assert_eq!(
        first,
        Routing { drop: false, watch: false, after_send: vec![Action::Stop { nodes: vec![3] }] }
    );
    assert_eq!(n.on_send(&msg(2, 2, "accept")), Routing::default(), "another sender");
    assert_eq!(n.on_send(&msg(3, 1, "accept")), Routing { drop: true, ..Routing::default() }, "the 2nd");
    assert_eq!(n.on_send(&msg(4, 1, "accept")), Routing::default(), "each fires once");
    let promise = n.on_send(&msg(5, 3, "promise"));
    assert_eq!(promise, Routing { watch: true, ..Routing::default() });
    assert_eq!(n.on_delivered(4), None);
    assert_eq!(n.on_delivered(5), Some(Action::Kill { nodes: vec![1] }));
    assert_eq!(n.on_delivered(5), None, "once");
}

#[test]
fn a_heal_clears_the_net_then_resumes_and_restarts_the_nodes_as_they_are_then() {
    let mut n = nemesis(vec![], vec![]);
    let all_up = [Running; 3];
    n.apply(1, Action::Loss { p: 0.5 }, procs(&all_up));
    n.apply(2, Action::CrashPoint { msg: "promise".into(), p: 1.0, down_ms: 1.0 }, procs(&all_up));
    let fx = n.apply(3, Action::HealAll, procs(&all_up));
    assert_eq!(show(&fx), [r#"{"type":"nemesis","t":3,"action":"heal-all"}"#, "HealAll"]);
    assert_eq!(show(&n.heal_net()), ["faults loss 0 cut 0 delay None", "FlushNet"]);
    assert_eq!(n.in_force(procs(&all_up)), "crash after promise", "the crash point goes with the nodes");
    let states = [Stopped, Dying, Down];
    assert_eq!(n.to_heal(procs(&states)), (vec![1], vec![2, 3]));
    assert_eq!(show(&n.heal_nodes(procs(&states))), ["Cont([1])", "Start(3)"]);
    assert_eq!(n.in_force(procs(&all_up)), "calm");
    assert_eq!(show(&n.on_exited(2, Down)), ["Start(2)"], "the dying node restarts once reaped");
    assert!(!n.final_started());
    n.begin_final();
    assert!(n.final_started());
}
