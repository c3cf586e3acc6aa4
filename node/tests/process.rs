//! Real node processes: durability across SIGKILL, refusal to start on a corrupt log,
//! recovery of a torn tail, and robustness against malformed frames.

mod common;

use common::{temp_dir, FakeController, NodeProcess};
use std::time::Duration;
use synod_node::paxos::msg::{Accept, Nack, Prepare};
use synod_node::paxos::{Ballot, Record};
use synod_node::protocol::{Body, Envelope};
use synod_node::storage::log::{encode_batch, MAGIC};
use synod_node::storage::LOG_FILE;

fn prepare(dest: u32, instance: u64, ballot: Ballot) -> Envelope {
    Envelope { src: 2, dest, body: Body::Prepare(Prepare { instance, ballot }) }
}

#[test]
fn promise_survives_sigkill_and_restart() {
    let dir = temp_dir("sigkill");
    let ctl = FakeController::new();
    let mut node = NodeProcess::spawn(&ctl.addr(), 1, &dir);
    let mut conn = ctl.accept(1, &[1, 2, 3]);
    conn.send(&prepare(1, 7, Ballot::new(5, 2)));
    let reply = conn.recv();
    assert!(matches!(reply.body, Body::Promise(ref p) if p.ballot == Ballot::new(5, 2)), "{reply:?}");
    // The promise left the node, so it is on disk. Kill at once: no chance to flush anything.
    let old_pid = node.pid();
    node.sigkill();
    drop(conn);

    let node = NodeProcess::spawn(&ctl.addr(), 1, &dir);
    assert_ne!(node.pid(), old_pid);
    let mut conn = ctl.accept(1, &[1, 2, 3]);
    conn.send(&prepare(1, 7, Ballot::new(3, 2)));
    let want = Nack { instance: 7, ballot: Ballot::new(3, 2), promised: Ballot::new(5, 2) };
    assert_eq!(conn.recv().body, Body::Nack(want));
    let accept = Accept { instance: 7, ballot: Ballot::new(4, 3), value: "late".into() };
    conn.send(&Envelope { src: 3, dest: 1, body: Body::Accept(accept) });
    assert!(matches!(conn.recv().body, Body::Nack(ref n) if n.promised == Ballot::new(5, 2)));
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The log a node would have written for `records`, one batch a record.
fn log_bytes(records: &[Record]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    for r in records {
        encode_batch(std::slice::from_ref(r), &mut bytes);
    }
    bytes
}

fn promises() -> Vec<Record> {
    vec![
        Record::Promise { instance: 1, ballot: Ballot::new(2, 2) },
        Record::Promise { instance: 1, ballot: Ballot::new(5, 2) },
        Record::Promise { instance: 2, ballot: Ballot::new(1, 3) },
    ]
}

#[test]
fn corrupt_middle_record_makes_the_node_refuse_to_start() {
    let dir = temp_dir("corrupt");
    let mut bytes = log_bytes(&promises());
    let first = log_bytes(&promises()[..1]).len();
    bytes[first + 20] ^= 0x01; // inside the second batch's record
    std::fs::write(dir.join(LOG_FILE), &bytes).unwrap();
    // No controller needed: the node must stop before it dials.
    let mut node = NodeProcess::spawn("127.0.0.1:1", 1, &dir);
    let status = node.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(3), "stderr: {}", node.stderr());
    let stderr = node.stderr();
    assert!(stderr.contains("acceptor.log"), "{stderr}");
    assert!(stderr.contains(&format!("the batch at byte {first} (record #2 on)")), "{stderr}");
    assert!(stderr.contains("Refusing to start"), "{stderr}");
    assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), bytes, "the evidence is left untouched");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torn_tail_is_cut_and_the_node_keeps_its_promises() {
    let dir = temp_dir("torn");
    let good = log_bytes(&promises()[..2]);
    let mut bytes = good.clone();
    let third = log_bytes(&promises()[2..]);
    bytes.extend_from_slice(&third[..third.len() / 2]);
    std::fs::write(dir.join(LOG_FILE), &bytes).unwrap();
    let ctl = FakeController::new();
    let node = NodeProcess::spawn(&ctl.addr(), 1, &dir);
    let mut conn = ctl.accept(1, &[1, 2, 3]);
    conn.send(&prepare(1, 1, Ballot::new(4, 3)));
    assert!(matches!(conn.recv().body, Body::Nack(ref n) if n.promised == Ballot::new(5, 2)));
    // The torn half record is gone; the nack wrote nothing.
    assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), good);
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_and_oversized_frames_are_skipped_not_fatal() {
    let dir = temp_dir("garbage");
    let ctl = FakeController::new();
    let mut node = NodeProcess::spawn(&ctl.addr(), 1, &dir);
    let mut conn = ctl.accept(1, &[1, 2, 3]);
    conn.send_raw(b"this is not json\n");
    conn.send_raw(b"{\"src\":2,\"dest\":1,\"body\":{\"type\":\"prepare\",\"instance\":\"seven\"}}\n");
    conn.send_raw(&vec![b'x'; 200 * 1024]);
    conn.send_raw(b"\n\xff\xfe\n");
    conn.send(&prepare(1, 9, Ballot::new(1, 2)));
    assert!(matches!(conn.recv().body, Body::Promise(ref p) if p.instance == 9));
    assert!(node.child.try_wait().unwrap().is_none(), "the node must still run");
    drop(conn);
    // The controller hanging up ends the node cleanly.
    assert_eq!(node.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let stderr = node.stderr();
    assert!(
        stderr.contains("malformed frame skipped") && stderr.contains("oversized frame skipped"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
