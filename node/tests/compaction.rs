//! Compaction under SIGKILL, with real processes: a node that retires decisions to its
//! archive and compacts its log every few kilobytes is killed at random moments, often in the
//! middle of an archive flush or a log rewrite, and must still honour every vote it
//! acknowledged: a lower `prepare` for an accepted instance gets a `nack` above it (live) or
//! the `decided` value (retired), never a promise.

mod common;

use common::{temp_dir, Conn, FakeController, NodeProcess};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;
use synod_node::paxos::msg::{Accept, Decided, Prepare};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{Ballot, Tuning};
use synod_node::protocol::{Body, Envelope};

const ME: u32 = 1;
/// The ballot the fake proposer (node 2) accepts with, and a lower one node 3 prepares with.
const HIGH: Ballot = Ballot { round: 2, node: 2 };
const LOW: Ballot = Ballot { round: 1, node: 3 };

fn tuning() -> Tuning {
    Tuning { retain_decided: 8, compact_log_bytes: 4096, ..Tuning::default() }
}

fn accept(instance: u64, value: &str) -> Envelope {
    Envelope { src: 2, dest: ME, body: Body::Accept(Accept { instance, ballot: HIGH, value: value.into() }) }
}

fn decided(instance: u64, value: &str) -> Envelope {
    Envelope { src: 2, dest: ME, body: Body::Decided(Decided { instance, value: value.into() }) }
}

/// The instance of an `accepted` the node sent to node 2: its acknowledgement of the accept.
fn ack_of(env: &Envelope) -> Option<u64> {
    match &env.body {
        Body::Accepted(a) if env.dest == 2 && a.ballot == HIGH => Some(a.instance),
        _ => None,
    }
}

/// Every acknowledged vote is still there: a lower prepare is refused with a promise at
/// least HIGH, or answered with the decided value.
fn check_votes(conn: &mut Conn, acked: &BTreeMap<u64, String>) -> (u64, u64) {
    let (mut nacked, mut decided) = (0, 0);
    for (&instance, value) in acked {
        conn.send(&Envelope { src: 3, dest: ME, body: Body::Prepare(Prepare { instance, ballot: LOW }) });
        let reply = conn.recv_until(|env| match &env.body {
            Body::Promise(p) if env.dest == 3 && p.instance == instance => Some(env.body.clone()),
            Body::Nack(n) if env.dest == 3 && n.instance == instance => Some(env.body.clone()),
            Body::Decided(d) if env.dest == 3 && d.instance == instance => Some(env.body.clone()),
            _ => None,
        });
        match reply {
            Body::Nack(n) if n.promised >= HIGH => nacked += 1,
            Body::Decided(d) if d.value == *value => decided += 1,
            other => panic!("instance {instance}: an acknowledged vote for {value:?} was lost: {other:?}"),
        }
    }
    (nacked, decided)
}

#[test]
fn acknowledged_votes_survive_sigkills_in_the_middle_of_compactions() {
    let dir = temp_dir("compact-kill");
    let ctl = FakeController::new();
    let mut rng = Rng::new(17);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut next = 1u64;
    let (mut compactions, mut retired_answers, mut cut_short) = (0, 0, 0);
    for round in 0..30 {
        let mut node = NodeProcess::spawn(&ctl.addr(), ME, &dir);
        let mut conn = ctl.accept_with(ME, &[1, 2, 3], tuning());
        // A sample of what was acknowledged so far (all of it at the end).
        let sample: BTreeMap<u64, String> = acked
            .iter()
            .filter(|_| rng.below(acked.len() as u64 / 200 + 1) == 0)
            .map(|(i, v)| (*i, v.clone()))
            .collect();
        let (_, decided_answers) = check_votes(&mut conn, &sample);
        retired_answers += decided_answers;
        // Votes and decisions in small turns (each may end in a compaction), and a SIGKILL
        // at a random moment among them.
        let turns = 20 + rng.below(60);
        let mut sent = BTreeMap::new();
        let (mut writer, collector) = conn.collect_in_background();
        for _ in 0..turns {
            for _ in 0..5 {
                let value = format!("v{next}-r{round}");
                writer.write_all(&accept(next, &value).to_frame()).unwrap();
                writer.write_all(&decided(next, &value).to_frame()).unwrap();
                sent.insert(next, value);
                next += 1;
            }
            std::thread::sleep(Duration::from_micros(100 + rng.below(400)));
        }
        std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        node.sigkill();
        drop(writer);
        // Whatever left the node before it died was acknowledged, and must survive.
        for env in collector.join().unwrap() {
            if let Some(instance) = ack_of(&env) {
                acked.insert(instance, sent[&instance].clone());
            }
        }
        let stderr = node.stderr();
        compactions += stderr.matches("compacted the log").count();
        cut_short += stderr.matches("cut short").count();
    }
    let node = NodeProcess::spawn(&ctl.addr(), ME, &dir);
    let mut conn = ctl.accept_with(ME, &[1, 2, 3], tuning());
    let (nacked, decided) = check_votes(&mut conn, &acked);
    println!(
        "{} votes acknowledged of {} sent, all kept: {nacked} live (nack), {decided} retired (decided); \
         {compactions} compactions logged, {cut_short} found cut short by a kill, \
         {retired_answers} retired answers before the last start",
        acked.len(),
        next - 1
    );
    assert!(acked.len() > 300, "enough votes were acknowledged to mean something: {}", acked.len());
    assert!(
        decided > acked.len() as u64 / 2,
        "most acknowledged instances were retired and answered from the archive"
    );
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("decided-"))
        .count();
    assert!(segments > 5, "the archive got segments: {segments}");
    assert!(compactions > 30, "the log was compacted: {compactions}");
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}
