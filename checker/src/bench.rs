//! Synthetic histories for benchmarks (`examples/bench_checker.rs`, later `synod bench`).
//!
//! The generator writes a *valid* history with the shape of a real run: a `run` header,
//! many instances in flight at once whose events interleave, each with its invoke(s), the
//! full Paxos exchange as `send` events (prepare, promise, accept, accepted from every
//! acceptor to every other node, nack), `recv` or `drop` for every send, the learns of every
//! learner and the ok; a share of instances is contended by a second proposer with a higher
//! ballot that must adopt the value a minority already accepted; a nemesis that alternates
//! fault and calm windows (partition, kill + restart with `process` events, pause, loss);
//! and the `end` line. The checker must find it valid, which the tests assert.
//!
//! Everything is drawn from `GenConfig::seed`, so a history is reproducible.

use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Events to write, approximately (the last instances are completed, then `end`).
    pub events: u64,
    /// Nodes 1..=nodes; each is acceptor, proposer and learner.
    pub nodes: u64,
    /// Instances in flight at once.
    pub concurrency: usize,
    /// Share of instances that a second proposer contends for.
    pub contention: f64,
    /// Share of messages dropped instead of delivered.
    pub loss: f64,
    /// Events between two nemesis actions (0: no nemesis).
    pub nemesis_every: u64,
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 1_000_000,
            nodes: 5,
            concurrency: 32,
            contention: 0.1,
            loss: 0.01,
            nemesis_every: 25_000,
            seed: 42,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    pub events: u64,
    pub instances: u64,
    pub ops: u64,
    pub bytes: u64,
}

/// Writes a valid history of about `events` events with the default shape (5 nodes, 32
/// instances in flight, 10% contended, 1% loss, a nemesis every 25,000 events).
pub fn generate_history<W: Write>(events: u64, writer: W) -> io::Result<GenStats> {
    generate_history_with(&GenConfig { events, ..GenConfig::default() }, writer)
}

/// Writes a valid history shaped by `cfg`.
pub fn generate_history_with<W: Write>(cfg: &GenConfig, writer: W) -> io::Result<GenStats> {
    Generator::new(cfg, writer).run()
}

/// xorshift64*: small, fast, seeded; quality is ample for shaping a workload.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

type B = (u64, u64);

#[derive(Debug, Clone, Copy)]
enum Body {
    Prepare(B),
    Promise(B, Option<(B, usize)>),
    Nack(B, B),
    Accept(B, usize),
    Accepted(B, usize),
}

/// One step of an instance's script; `usize` values index the script's value names.
#[derive(Debug, Clone, Copy)]
enum Step {
    Invoke {
        op: u64,
        node: u64,
        value: usize,
    },
    Ok {
        op: u64,
        node: u64,
        value: usize,
    },
    Learn {
        node: u64,
        value: usize,
    },
    Send {
        key: usize,
        src: u64,
        dest: u64,
        body: Body,
    },
    /// Delivery (or drop) of the script's message `key`.
    Deliver {
        key: usize,
    },
}

struct Script {
    instance: u64,
    values: Vec<String>,
    steps: Vec<Step>,
    pos: usize,
    /// Message ids by script-local key, assigned when the send is written.
    msg_ids: Vec<u64>,
}

struct Generator<'c, W: Write> {
    cfg: &'c GenConfig,
    out: CountingWriter<W>,
    rng: Rng,
    t: u64,
    next_msg: u64,
    next_op: u64,
    next_instance: u64,
    events: u64,
    nemesis: Nemesis,
}

struct CountingWriter<W: Write> {
    inner: io::BufWriter<W>,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The fault currently injected, if any.
#[derive(Default)]
struct Nemesis {
    active: Option<(&'static str, u64)>,
    turn: u64,
    since: u64,
}

impl<'c, W: Write> Generator<'c, W> {
    fn new(cfg: &'c GenConfig, writer: W) -> Self {
        Generator {
            cfg,
            out: CountingWriter { inner: io::BufWriter::with_capacity(1 << 16, writer), bytes: 0 },
            rng: Rng::new(cfg.seed),
            t: 0,
            next_msg: 1,
            next_op: 1,
            next_instance: 1,
            events: 0,
            nemesis: Nemesis::default(),
        }
    }

    fn run(mut self) -> io::Result<GenStats> {
        let n = self.cfg.nodes.max(1);
        let nodes: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        let list = nodes.join(",");
        writeln!(
            self.out,
            r#"{{"type":"run","t":0,"run_id":"bench-{}","seed":{},"nodes":[{list}],"acceptors":[{list}],"proposers":[{list}],"learners":[{list}],"config":{{"generator":"synod_checker::bench","concurrency":{},"contention":{},"loss":{}}}}}"#,
            self.cfg.seed, self.cfg.seed, self.cfg.concurrency, self.cfg.contention, self.cfg.loss
        )?;
        self.events += 1;
        // Keep room for the last scripts' tails, the nemesis' last heal and `end`.
        let budget = self.cfg.events.saturating_sub(4);
        let mut active: Vec<Script> = Vec::with_capacity(self.cfg.concurrency);
        let mut pending: u64 = 0;
        let (mut instances, mut ops) = (0, 0);
        let mut draining = false;
        loop {
            while !draining && active.len() < self.cfg.concurrency.max(1) {
                let script = self.script();
                if self.events + pending + script.steps.len() as u64 > budget {
                    draining = true;
                    break;
                }
                pending += script.steps.len() as u64;
                instances += 1;
                ops += script.steps.iter().filter(|s| matches!(s, Step::Invoke { .. })).count() as u64;
                active.push(script);
            }
            if active.is_empty() {
                break;
            }
            let i = self.rng.below(active.len() as u64) as usize;
            self.step(&mut active[i])?;
            pending -= 1;
            if active[i].pos == active[i].steps.len() {
                active.swap_remove(i);
            }
            self.maybe_nemesis()?;
        }
        if let Some((action, node)) = self.nemesis.active.take() {
            self.end_fault(action, node)?;
        }
        self.t += 1;
        writeln!(self.out, r#"{{"type":"end","t":{}}}"#, self.t)?;
        self.events += 1;
        self.out.flush()?;
        Ok(GenStats { events: self.events, instances, ops, bytes: self.out.bytes })
    }

    /// Builds the script of the next instance.
    fn script(&mut self) -> Script {
        let instance = self.next_instance;
        self.next_instance += 1;
        let n = self.cfg.nodes.max(1);
        let p = 1 + self.rng.below(n);
        let contended = n >= 3 && self.rng.chance(self.cfg.contention);
        let mut s = ScriptBuilder { steps: Vec::with_capacity(96), keys: 0, values: Vec::new() };
        let op_p = self.take_op();
        let vp = s.value(format!("i{instance}-op{op_p}"));
        s.steps.push(Step::Invoke { op: op_p, node: p, value: vp });
        let others = |x: u64| (1..=n).filter(move |&a| a != x);
        if !contended {
            let b = (1, p);
            s.round_trip(p, others(p), |_| Body::Prepare(b), |_| Body::Promise(b, None));
            s.broadcast(p, others(p), Body::Accept(b, vp));
            for a in 1..=n {
                s.broadcast(a, others(a), Body::Accepted(b, vp));
            }
            s.learns(n, vp, &mut self.rng);
            s.steps.push(Step::Ok { op: op_p, node: p, value: vp });
        } else {
            let q = 1 + (p + self.rng.below(n - 1)) % n; // q != p
            let a1 = (1..=n).find(|&a| a != p && a != q).unwrap_or(p);
            let op_q = self.take_op();
            let vq = s.value(format!("i{instance}-op{op_q}"));
            s.steps.push(Step::Invoke { op: op_q, node: q, value: vq });
            let (bp, bq) = ((1, p), (2, q));
            // p: phase 1 succeeds everywhere; its accept reaches only a1 in time.
            s.round_trip(p, others(p), |_| Body::Prepare(bp), |_| Body::Promise(bp, None));
            let late: Vec<(usize, u64)> = others(p)
                .map(|a| {
                    let key = s.send(p, a, Body::Accept(bp, vp));
                    if a == a1 {
                        s.steps.push(Step::Deliver { key });
                    }
                    (key, a)
                })
                .collect();
            for a in [p, a1] {
                s.broadcast(a, others(a), Body::Accepted(bp, vp));
            }
            // q: phase 1 with a higher ballot; p and a1 report what they accepted.
            s.round_trip(
                q,
                others(q),
                |_| Body::Prepare(bq),
                |a| Body::Promise(bq, (a == p || a == a1).then_some((bp, vp))),
            );
            // p's accept reaches the others late: they promised bq, so they refuse it.
            for (key, a) in late {
                if a != a1 {
                    s.steps.push(Step::Deliver { key });
                    let nack = s.send(a, p, Body::Nack(bp, bq));
                    s.steps.push(Step::Deliver { key: nack });
                }
            }
            // q must adopt vp (the highest-ballot accepted value reported).
            s.broadcast(q, others(q), Body::Accept(bq, vp));
            for a in 1..=n {
                s.broadcast(a, others(a), Body::Accepted(bq, vp));
            }
            s.learns(n, vp, &mut self.rng);
            s.steps.push(Step::Ok { op: op_p, node: p, value: vp });
            s.steps.push(Step::Ok { op: op_q, node: q, value: vp });
        }
        Script { instance, values: s.values, msg_ids: vec![0; s.keys], steps: s.steps, pos: 0 }
    }

    fn take_op(&mut self) -> u64 {
        let op = self.next_op;
        self.next_op += 1;
        op
    }

    fn tick(&mut self) -> u64 {
        self.t += 1 + self.rng.below(8);
        self.t
    }

    fn step(&mut self, s: &mut Script) -> io::Result<()> {
        let step = s.steps[s.pos];
        s.pos += 1;
        let t = self.tick();
        let i = s.instance;
        self.events += 1;
        let out = &mut self.out;
        match step {
            Step::Invoke { op, node, value } => writeln!(
                out,
                r#"{{"type":"invoke","t":{t},"op":{op},"node":{node},"instance":{i},"value":"{}"}}"#,
                s.values[value]
            ),
            Step::Ok { op, node, value } => writeln!(
                out,
                r#"{{"type":"ok","t":{t},"op":{op},"node":{node},"instance":{i},"value":"{}"}}"#,
                s.values[value]
            ),
            Step::Learn { node, value } => writeln!(
                out,
                r#"{{"type":"learn","t":{t},"node":{node},"instance":{i},"value":"{}"}}"#,
                s.values[value]
            ),
            Step::Send { key, src, dest, body } => {
                let msg = self.next_msg;
                self.next_msg += 1;
                s.msg_ids[key] = msg;
                write!(out, r#"{{"type":"send","t":{t},"msg":{msg},"src":{src},"dest":{dest},"body":"#)?;
                write_body(out, i, body, &s.values)?;
                writeln!(out, "}}")
            }
            Step::Deliver { key } => {
                let msg = s.msg_ids[key];
                if self.rng.chance(self.cfg.loss) {
                    let reason = match self.nemesis.active {
                        Some(("partition", _)) => "partition",
                        Some(("kill", _)) => "down",
                        _ => "loss",
                    };
                    writeln!(out, r#"{{"type":"drop","t":{t},"msg":{msg},"reason":"{reason}"}}"#)
                } else {
                    writeln!(out, r#"{{"type":"recv","t":{t},"msg":{msg}}}"#)
                }
            }
        }
    }

    fn maybe_nemesis(&mut self) -> io::Result<()> {
        let every = self.cfg.nemesis_every;
        if every == 0 || self.events < self.nemesis.since + every {
            return Ok(());
        }
        self.nemesis.since = self.events;
        match self.nemesis.active.take() {
            Some((action, node)) => self.end_fault(action, node),
            None => {
                const FAULTS: [&str; 4] = ["partition", "kill", "pause", "loss"];
                let action = FAULTS[(self.nemesis.turn % 4) as usize];
                self.nemesis.turn += 1;
                let node = 1 + self.rng.below(self.cfg.nodes.max(1));
                let t = self.tick();
                match action {
                    "partition" => writeln!(
                        self.out,
                        r#"{{"type":"nemesis","t":{t},"action":"partition","nodes":[[{node}],[]],"shape":"isolate"}}"#
                    )?,
                    "loss" => writeln!(self.out, r#"{{"type":"nemesis","t":{t},"action":"loss","p":0.05}}"#)?,
                    _ => writeln!(
                        self.out,
                        r#"{{"type":"nemesis","t":{t},"action":"{action}","nodes":[{node}]}}"#
                    )?,
                }
                self.events += 1;
                if action == "kill" {
                    let t = self.tick();
                    writeln!(
                        self.out,
                        r#"{{"type":"process","t":{t},"node":{node},"event":"exit","pid":{}}}"#,
                        1000 + node
                    )?;
                    self.events += 1;
                }
                self.nemesis.active = Some((action, node));
                Ok(())
            }
        }
    }

    fn end_fault(&mut self, action: &str, node: u64) -> io::Result<()> {
        let t = self.tick();
        match action {
            "kill" => {
                writeln!(self.out, r#"{{"type":"nemesis","t":{t},"action":"restart","nodes":[{node}]}}"#)?;
                let t = self.tick();
                writeln!(
                    self.out,
                    r#"{{"type":"process","t":{t},"node":{node},"event":"up","pid":{}}}"#,
                    2000 + node
                )?;
                self.events += 1;
            }
            "pause" => {
                writeln!(self.out, r#"{{"type":"nemesis","t":{t},"action":"cont","nodes":[{node}]}}"#)?
            }
            _ => writeln!(self.out, r#"{{"type":"nemesis","t":{t},"action":"heal"}}"#)?,
        }
        self.events += 1;
        Ok(())
    }
}

fn write_body(out: &mut impl Write, i: u64, body: Body, values: &[String]) -> io::Result<()> {
    match body {
        Body::Prepare((r, n)) => write!(out, r#"{{"type":"prepare","instance":{i},"ballot":[{r},{n}]}}"#),
        Body::Promise((r, n), None) => {
            write!(out, r#"{{"type":"promise","instance":{i},"ballot":[{r},{n}],"accepted":null}}"#)
        }
        Body::Promise((r, n), Some(((ar, an), v))) => write!(
            out,
            r#"{{"type":"promise","instance":{i},"ballot":[{r},{n}],"accepted":{{"ballot":[{ar},{an}],"value":"{}"}}}}"#,
            values[v]
        ),
        Body::Nack((r, n), (pr, pn)) => {
            write!(out, r#"{{"type":"nack","instance":{i},"ballot":[{r},{n}],"promised":[{pr},{pn}]}}"#)
        }
        Body::Accept((r, n), v) => {
            write!(out, r#"{{"type":"accept","instance":{i},"ballot":[{r},{n}],"value":"{}"}}"#, values[v])
        }
        Body::Accepted((r, n), v) => {
            write!(out, r#"{{"type":"accepted","instance":{i},"ballot":[{r},{n}],"value":"{}"}}"#, values[v])
        }
    }
}

struct ScriptBuilder {
    steps: Vec<Step>,
    keys: usize,
    values: Vec<String>,
}

impl ScriptBuilder {
    fn value(&mut self, v: String) -> usize {
        self.values.push(v);
        self.values.len() - 1
    }

    fn send(&mut self, src: u64, dest: u64, body: Body) -> usize {
        let key = self.keys;
        self.keys += 1;
        self.steps.push(Step::Send { key, src, dest, body });
        key
    }

    /// `src` sends `body` to each of `dests`, and each is delivered.
    fn broadcast(&mut self, src: u64, dests: impl Iterator<Item = u64>, body: Body) {
        let keys: Vec<usize> = dests.map(|d| self.send(src, d, body)).collect();
        for key in keys {
            self.steps.push(Step::Deliver { key });
        }
    }

    /// `src` sends a request to each of `dests`; each replies.
    fn round_trip(
        &mut self,
        src: u64,
        dests: impl Iterator<Item = u64> + Clone,
        request: impl Fn(u64) -> Body,
        reply: impl Fn(u64) -> Body,
    ) {
        for d in dests {
            let key = self.send(src, d, request(d));
            self.steps.push(Step::Deliver { key });
            let back = self.send(d, src, reply(d));
            self.steps.push(Step::Deliver { key: back });
        }
    }

    /// Every node learns `value`, in a random order.
    fn learns(&mut self, n: u64, value: usize, rng: &mut Rng) {
        let mut order: Vec<u64> = (1..=n).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for node in order {
            self.steps.push(Step::Learn { node, value });
        }
    }
}
