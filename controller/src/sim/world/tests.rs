use super::*;
use crate::net::conn::Outbound;
use synod_node::protocol::Body;

/// One node's world, with the controller's end of its link, as a fault-free net.
struct Bench {
    world: SimWorld,
    link: Option<mpsc::Sender<Outbound>>,
}

impl Bench {
    fn new() -> Bench {
        Bench { world: SimWorld::new(1, 5, Clock::simulated(), SimTiming::default()), link: None }
    }

    /// Runs the world until it has nothing left to do (at most `steps` steps). A frame
    /// between nodes (here, the node to itself) goes back on its link; the frames for the
    /// controller, by body type, and the exits are returned.
    fn run(&mut self, steps: usize) -> (Vec<&'static str>, Vec<(u32, String)>) {
        let (mut replies, mut exits) = (Vec::new(), Vec::new());
        for _ in 0..steps {
            let now = self.world.clock().now_us();
            self.world.notice(now);
            let Some(at) = self.world.next_event_us() else { break };
            self.world.clock().set_us(at.max(now));
            for ev in self.world.step(at.max(now)) {
                match ev {
                    Event::Frame { env, .. } if env.dest != 0 => self.send(Outbound::Envelope(env)),
                    Event::Frame { env, .. } => replies.push(env.body.type_name()),
                    Event::Connected { tx, .. } => self.link = Some(tx),
                    Event::Exited { pid, status, .. } => exits.push((pid, status)),
                    _ => {}
                }
            }
        }
        (replies, exits)
    }

    fn send(&self, out: Outbound) {
        self.link.as_ref().expect("connected").try_send(out).unwrap();
    }

    fn send_body(&self, body: &str) {
        let body: Body = serde_json::from_str(body).unwrap();
        self.send(Outbound::Frame(Envelope { src: 0, dest: 1, body }.to_frame()));
    }

    fn propose(&self, op: u64, instance: u64, value: &str) {
        self.send_body(&format!(
            r#"{{"type":"propose","msg_id":{op},"instance":{instance},"value":"{value}"}}"#
        ));
    }

    /// Starts the node and hands it its init once connected.
    fn start(&mut self) -> u32 {
        let pid = self.world.spawn(1).unwrap();
        self.run(10);
        self.send_body(
            r#"{"type":"init","node":1,"nodes":[1],"acceptors":[1],"proposers":[1],"learners":[1],"config":{}}"#,
        );
        pid
    }
}

/// A node started, given its init and a proposal, decides (alone) and answers; killed with
/// frames waiting and a turn queued, it exits, and a restart connects again and answers from
/// what it wrote (a turn queued for the dead process does not hold back the new one's).
#[test]
fn a_node_answers_and_a_restart_answers_again() {
    let mut bench = Bench::new();
    let pid = bench.start();
    assert_eq!(bench.world.state(1), ProcState::Running);
    bench.propose(1, 1, "a");
    assert_eq!(bench.run(50).0, ["learned", "propose_ok"]);
    // Frames wait on the link and a turn is queued for them: then the kill.
    bench.propose(2, 2, "b");
    bench.world.notice(bench.world.clock().now_us());
    bench.world.signal(1, Signal::SIGKILL).unwrap();
    assert_eq!(bench.world.state(1), ProcState::Dying);
    let (replies, exits) = bench.run(50);
    assert!(replies.is_empty(), "a killed node answered: {replies:?}");
    assert_eq!(exits, [(pid, "signal SIGKILL".to_string())]);
    bench.world.exited(1, pid);
    assert_eq!(bench.world.state(1), ProcState::Down);
    assert!(bench.world.signal(1, Signal::SIGKILL).is_err(), "a node that is down cannot be signalled");
    // The restart: a new pid, a new link; instance 1 is still decided.
    let again = bench.start();
    assert_ne!(again, pid);
    bench.propose(3, 1, "c");
    let mut replies = bench.run(50).0;
    replies.sort();
    assert_eq!(replies, ["learned", "propose_ok"], "the restarted node did not answer");
}

/// A paused node takes no turn; resumed, it does. SIGTERM ends it cleanly (exit 0).
#[test]
fn a_paused_node_waits_until_resumed() {
    let mut bench = Bench::new();
    let pid = bench.start();
    bench.world.signal(1, Signal::SIGSTOP).unwrap();
    assert_eq!(bench.world.state(1), ProcState::Stopped);
    bench.propose(1, 1, "a");
    assert!(bench.run(50).0.is_empty(), "a paused node answered");
    bench.world.signal(1, Signal::SIGCONT).unwrap();
    assert_eq!(bench.run(50).0, ["learned", "propose_ok"]);
    bench.world.signal(1, Signal::SIGTERM).unwrap();
    assert_eq!(bench.run(10).1, [(pid, "exit 0".to_string())]);
}
