//! The node's own loop turn ([`Host`]) on the simulator's disk and archive (issue 19): three
//! hosts wired by hand, in one thread, as `synod sim` will run them. A crash drops a host,
//! crashes its disk (losing what was not synced) and its archive (losing what was not
//! flushed), and reopens the log on the same disk: what the node promised and decided must
//! still hold, through the same group commit, compaction and archive code as the process.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use synod_node::paxos::msg::{Catchup, Nack, Prepare, Promise};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{Ballot, Config, InstanceId, Msg, NodeId, Tuning};
use synod_node::protocol::{Body, Envelope, CONTROLLER};
use synod_node::runtime::{Compaction, Host};
use synod_node::storage::{AcceptorLog, Crash, SimArchive, SimDisk};

const DIR: &str = "/node/data";
const PENDING_BYTES_MAX: u64 = 64 << 20;
const NODES: [NodeId; 3] = [1, 2, 3];
/// Delivery rounds one `settle` may take; a cluster that has not settled by then is a bug.
const ROUNDS_MAX: usize = 10_000;
const MS: u64 = 1000;

type SimHost = Host<SimDisk, SimArchive>;

fn config(node: NodeId, tune: fn(&mut Tuning)) -> Config {
    let mut config = Config::all_roles(node, &NODES);
    tune(&mut config.tuning);
    config
}

fn open(node: NodeId, disk: SimDisk, archive: SimArchive, tune: fn(&mut Tuning)) -> SimHost {
    let (log, recovery) = AcceptorLog::open_on(disk, Path::new(DIR)).unwrap();
    Host::new(config(node, tune), log, archive, &recovery)
}

/// Three hosts, a queue of frames between them, and what they told the controller.
struct Cluster {
    hosts: BTreeMap<NodeId, SimHost>,
    tune: fn(&mut Tuning),
    queue: VecDeque<Envelope>,
    to_controller: Vec<Envelope>,
    compactions: Vec<(NodeId, Compaction)>,
    now_us: u64,
}

impl Cluster {
    fn new(tune: fn(&mut Tuning)) -> Cluster {
        let hosts =
            NODES.iter().map(|&n| (n, open(n, SimDisk::new(PENDING_BYTES_MAX), SimArchive::new(), tune)));
        Cluster {
            hosts: hosts.collect(),
            tune,
            queue: VecDeque::new(),
            to_controller: Vec::new(),
            compactions: Vec::new(),
            now_us: 0,
        }
    }

    fn host(&mut self, node: NodeId) -> &mut SimHost {
        self.hosts.get_mut(&node).unwrap()
    }

    /// One turn of every host, as the process performs it: plan, the early frames, the batch
    /// under one sync, the late frames, then a compaction if due. Returns the frames sent.
    fn turns(&mut self) -> usize {
        let mut sent = 0;
        for (&node, host) in &mut self.hosts {
            let plan = host.plan(self.now_us).unwrap();
            let early = plan.early.len();
            self.queue.extend(plan.early);
            host.persist(plan.batch).unwrap();
            assert!(self.queue.len() >= early);
            sent += early + plan.late.len();
            self.queue.extend(plan.late);
            if let Some(c) = host.maybe_compact().unwrap() {
                self.compactions.push((node, c));
            }
        }
        sent
    }

    /// Delivers every frame (the controller's to `to_controller`), with host turns between,
    /// until nothing moves; 1 ms passes per round.
    fn settle(&mut self) {
        for _ in 0..ROUNDS_MAX {
            let sent = self.turns();
            if sent == 0 && self.queue.is_empty() {
                return;
            }
            self.now_us += MS;
            while let Some(env) = self.queue.pop_front() {
                if env.dest == CONTROLLER {
                    self.to_controller.push(env);
                } else {
                    let now = self.now_us;
                    // As a frame on the wire: the host decodes it itself.
                    let frame = env.to_frame();
                    self.host(env.dest).handle_frame(now, &frame, 0);
                }
            }
        }
        panic!("the cluster did not settle in {ROUNDS_MAX} rounds");
    }

    /// Lets `ms` pass, firing every deadline due (timeouts, lazy records), and settles.
    fn advance(&mut self, ms: u64) {
        self.now_us += ms * MS;
        let now = self.now_us;
        for host in self.hosts.values_mut() {
            if host.next_deadline_us().is_some_and(|at| at <= now) {
                host.handle_deadline(now).unwrap();
            }
        }
        self.settle();
    }

    fn propose(&mut self, node: NodeId, msg_id: u64, instance: InstanceId, value: &str) {
        let body = Body::Propose { msg_id, instance, value: value.into() };
        self.queue.push_back(Envelope { src: CONTROLLER, dest: node, body });
    }

    fn send(&mut self, src: NodeId, dest: NodeId, msg: Msg) {
        self.queue.push_back(Envelope { src, dest, body: Body::from(msg) });
    }

    /// Drops `node`'s host, crashes its disk (everything unsynced lost) and its archive
    /// (everything unflushed lost), and reopens it on the same disk.
    fn crash(&mut self, node: NodeId, seed: u64) {
        let host = self.hosts.remove(&node).unwrap();
        let (log, mut archive) = host.into_parts();
        let mut disk = log.into_disk();
        disk.crash(&mut Rng::new(seed), Crash::Clean);
        archive.crash();
        self.hosts.insert(node, open(node, disk, archive, self.tune));
    }

    /// The frames `node` sent to `to` while settling, leaving the others queued nowhere:
    /// they are taken out of the delivery and returned.
    fn settle_capturing(&mut self, to: NodeId) -> Vec<Envelope> {
        let mut captured = Vec::new();
        for _ in 0..ROUNDS_MAX {
            let sent = self.turns();
            if sent == 0 && self.queue.is_empty() {
                return captured;
            }
            self.now_us += MS;
            while let Some(env) = self.queue.pop_front() {
                if env.dest == to {
                    captured.push(env);
                } else if env.dest == CONTROLLER {
                    self.to_controller.push(env);
                } else {
                    let now = self.now_us;
                    self.host(env.dest).handle_frame(now, &env.to_frame(), 0);
                }
            }
        }
        panic!("the cluster did not settle in {ROUNDS_MAX} rounds");
    }

    /// The controller's `propose_ok`s: instance -> value.
    fn decided(&self) -> BTreeMap<InstanceId, String> {
        let mut decided = BTreeMap::new();
        for env in &self.to_controller {
            if let Body::ProposeOk { instance, value, .. } = &env.body {
                let before = decided.insert(*instance, value.clone());
                assert!(
                    before.as_ref().is_none_or(|b| b == value),
                    "instance {instance} decided twice: {before:?}, {value}"
                );
            }
        }
        decided
    }
}

#[test]
fn a_cluster_of_hosts_decides_and_a_crashed_host_keeps_its_promise() {
    let mut c = Cluster::new(|_| {});
    c.propose(1, 1, 7, "seven");
    c.settle();
    assert_eq!(c.decided(), BTreeMap::from([(7, "seven".to_string())]));
    let learned =
        c.to_controller.iter().filter(|e| matches!(&e.body, Body::Learned { instance: 7, .. })).count();
    assert_eq!(learned, 3, "every learner reports the decision: {:?}", c.to_controller);

    // Node 3 makes node 2 promise a high ballot on an open instance, and hears the promise.
    let high = Ballot::new(5, 3);
    c.send(3, 2, Msg::Prepare(Prepare { instance: 50, ballot: high }));
    let to_3 = c.settle_capturing(3);
    let promised = to_3
        .iter()
        .any(|e| matches!(&e.body, Body::Promise(Promise { instance: 50, ballot, .. }) if *ballot == high));
    assert!(promised, "node 2 promised {high:?}: {to_3:?}");

    // Node 2 loses its power: the promise left after its sync, so it must survive.
    c.crash(2, 1);
    let low = Ballot::new(4, 1);
    c.send(1, 2, Msg::Prepare(Prepare { instance: 50, ballot: low }));
    let to_1 = c.settle_capturing(1);
    let bodies: Vec<&Body> = to_1.iter().map(|e| &e.body).collect();
    let want = Body::Nack(Nack { instance: 50, ballot: low, promised: high });
    assert_eq!(bodies, vec![&want], "the reopened node refuses a lower ballot");

    // And it still knows the decision (a catch-up answered from its recovered log).
    c.send(3, 2, Msg::Catchup(Catchup { from_instance: 7, to_instance: Some(7) }));
    let to_3 = c.settle_capturing(3);
    let decided =
        to_3.iter().any(|e| matches!(&e.body, Body::Decided(d) if d.instance == 7 && d.value == "seven"));
    assert!(decided, "node 2 still knows instance 7: {to_3:?}");
}

/// Many decisions on tiny logs: the hosts compact through the archive, and after a crash every
/// decision is still answered, most of them from the archive.
#[test]
fn compaction_through_the_host_keeps_every_decision_across_a_crash() {
    const INSTANCES: u64 = 300;
    let tune = |t: &mut Tuning| {
        t.compact_log_bytes = 2_000;
        t.retain_decided = 8;
    };
    let mut c = Cluster::new(tune);
    for i in 1..=INSTANCES {
        c.propose(1 + (i % 3) as NodeId, i, i, &format!("value-{i}"));
        c.settle();
    }
    c.advance(100); // the lazy records' deadline: every learned decision is synced
    let decided = c.decided();
    assert_eq!(decided.len(), INSTANCES as usize);
    for (&instance, value) in &decided {
        assert_eq!(value, &format!("value-{instance}"));
    }
    let on_1: Vec<Compaction> = c.compactions.iter().filter(|(n, _)| *n == 1).map(|(_, c)| *c).collect();
    assert!(on_1.len() >= 3, "node 1 compacted its log: {on_1:?}");
    assert!(on_1.iter().all(|c| c.log_bytes_after < c.log_bytes_before), "{on_1:?}");
    assert!(on_1.iter().map(|c| c.archived).sum::<usize>() > 0, "compactions flushed the archive: {on_1:?}");
    let log_bytes = c.host(1).log().len_bytes();
    assert!(log_bytes < 3 * 4_000, "the log stays small: {log_bytes} bytes");

    c.crash(1, 7);
    let host = c.host(1);
    let durable = host.archive().durable_len() as u64;
    assert!(durable >= INSTANCES / 2, "the archive kept the retired decisions: {durable}");

    // Node 2 asks node 1 for every decision, 64 at a time (the catch-up limit).
    let mut answers = BTreeMap::new();
    for from in (1..=INSTANCES).step_by(64) {
        let to = (from + 63).min(INSTANCES);
        c.send(2, 1, Msg::Catchup(Catchup { from_instance: from, to_instance: Some(to) }));
        for env in c.settle_capturing(2) {
            if let Body::Decided(d) = env.body {
                answers.insert(d.instance, d.value);
            }
        }
    }
    assert_eq!(answers, decided, "the reopened node answers for every decision");
}
