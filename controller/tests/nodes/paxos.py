#!/usr/bin/env python3
"""A Paxos node in Python for synod's tests: `synod run --node-cmd "python3 paxos.py"`.

Why: synod claims to test a node written in any language, and its power-loss fault (issue 15)
must catch a node that writes its state but never fsyncs it. This node is both subjects: with
SYNOD_PY_FSYNC=0 it writes the same records but never fsyncs them (nor its folder). A SIGKILL
keeps the page cache, so only losing unsynced writes, as a power loss does, exposes that bug.

It speaks docs/protocol.md: it dials SYNOD_CONTROLLER, says `hello`, takes `init`, and plays
proposer, acceptor and learner (as `init` says) for many single-decree instances. Its proposer
always runs both phases (never round 0) and retries a failed ballot with a higher one after a
randomised backoff; decisions are re-sent to learners until acknowledged. Learned values live in
memory only (a cache, as the protocol allows).

Durable state: `$SYNOD_DATA_DIR/paxos-py.jsonl`, append-only JSON lines `{"r":"promise",
"instance":7,"ballot":[3,1]}`, `{"r":"accept",...,"value":"x"}`, `{"r":"round","round":3}`.
Each loop turn (one socket read, then the due timers) collects records and frames; the records
go out in one os.write and one os.fdatasync BEFORE any of the frames (group commit). On start
the file is read back: a torn last line (no newline) is cut off; a bad complete line is damaged
acknowledged state, so the node refuses to start.

Exit codes: 0 controller closed / SIGTERM, 1 runtime or handshake error, 2 bad environment,
3 unreadable durable state. Stdlib only.
"""
import heapq
import ipaddress
import json
import os
import random
import select
import signal
import socket
import sys
import time

FRAME_BYTES_MAX = 65536  # a frame, newline excluded (docs/protocol.md "Framing")
READ_BYTES = 65536
INIT_WAIT_S = 10.0
WAITERS_MAX = 64  # ops joined to one open proposal
STATE_FILE = "paxos-py.jsonl"
CONFIG_DEFAULTS = {"phase_timeout_ms": 200, "backoff": True, "backoff_base_ms": 2, "backoff_max_ms": 500,
                   "max_attempts": 200, "decided_retry_ms": 100, "decided_retry_max_ms": 2000,
                   "decided_max_retries": 100, "max_proposals": 10000, "seed": 0}
NODE = os.environ.get("SYNOD_NODE", "?")


def log(msg):
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} paxos.py n{NODE}: {msg}\n")
    sys.stderr.flush()


def die(code, msg):
    log(msg)
    sys.exit(code)


class Malformed(Exception):
    """A frame or record with a missing or ill-typed field."""


def uint(v, what, bits=64):
    if type(v) is not int or not 0 <= v < 1 << bits:
        raise Malformed(f"{what}: {v!r} is not an unsigned {bits}-bit integer")
    return v


def ballot(v, what):
    if not (isinstance(v, list) and len(v) == 2):
        raise Malformed(f"{what}: {v!r} is not a ballot [round, node]")
    return (uint(v[0], what + ".round"), uint(v[1], what + ".node", 32))


def string(v, what):
    if not isinstance(v, str):
        raise Malformed(f"{what}: {v!r} is not a string")
    return v


class Store:
    """The append-only record file, read back once at start and appended to per turn."""

    def __init__(self, data_dir, fsync):
        self.path, self.fsync, self.pending = os.path.join(data_dir, STATE_FILE), fsync, []
        os.makedirs(data_dir, exist_ok=True)
        created = not os.path.exists(self.path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if created and fsync:  # the new file's name must survive a power loss too
            os.fdatasync(self.fd)
            dir_fd = os.open(data_dir, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)

    def load(self):
        with open(self.path, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # the last write was cut short: it was never acknowledged
            log(f"{self.path}: cutting a torn last line of {len(data) - end} bytes at offset {end}")
            os.ftruncate(self.fd, end)
            if self.fsync:
                os.fdatasync(self.fd)
        records, offset = [], 0
        for number, line in enumerate(data[:end].split(b"\n")[:-1], 1):
            try:
                records.append(self.check(json.loads(line)))
            except (ValueError, Malformed) as e:
                die(3, f"{self.path}: line {number} (offset {offset}) is bad ({e}); a complete line was "
                       f"an acknowledged write, so the state is damaged: refusing to start")
            offset += len(line) + 1
        return records

    @staticmethod
    def check(rec):
        if not isinstance(rec, dict) or rec.get("r") not in ("promise", "accept", "round"):
            raise Malformed(f"not a record: {rec!r}")
        if rec["r"] == "round":
            uint(rec.get("round"), "round")
        else:
            uint(rec.get("instance"), "instance")
            ballot(rec.get("ballot"), "ballot")
            if rec["r"] == "accept":
                string(rec.get("value"), "value")
        return rec

    def add(self, rec):
        self.pending.append(json.dumps(rec, separators=(",", ":")) + "\n")

    def flush(self):
        """Writes the turn's records and makes them durable (unless fsync is off)."""
        if not self.pending:
            return
        data = "".join(self.pending).encode()
        self.pending.clear()
        written = 0
        while written < len(data):
            written += os.write(self.fd, data[written:])
        if self.fsync:
            os.fdatasync(self.fd)


class Proposal:
    """An open proposal on one instance: its ballot, phase and the votes for that ballot."""

    def __init__(self, value):
        self.value, self.waiters, self.attempts, self.seen_round = value, [], 0, 0
        self.ballot, self.phase, self.gen, self.votes, self.proposed = None, "idle", 0, {}, None


class Announce:
    """`decided` re-sent to the learners that have not answered `decided_ok` yet."""

    def __init__(self, value, learners, delay_ms):
        self.value, self.pending, self.retries, self.delay_ms, self.gen = value, set(learners), 0, delay_ms, 0


class Node:
    def __init__(self, me, sock, store, records):
        self.me, self.sock, self.store, self.out = me, sock, store, []
        self.buf, self.skipping, self.timers, self.seq = b"", False, [], 0
        self.promised, self.accepted, self.max_round = {}, {}, 0  # acceptor and proposer state
        for rec in records:
            if rec["r"] == "round":
                self.max_round = max(self.max_round, rec["round"])
                continue
            i, b = rec["instance"], tuple(rec["ballot"])
            self.promised[i] = max(self.promised.get(i, (0, 0)), b)
            if rec["r"] == "accept" and (i not in self.accepted or self.accepted[i][0] < b):
                self.accepted[i] = (b, rec["value"])
        self.proposals, self.announces, self.decided, self.votes, self.learned = {}, {}, {}, {}, {}
        log(f"restored {len(self.promised)} promises, {len(self.accepted)} accepts, highest round "
            f"{self.max_round} from {store.path} (fsync {'on' if store.fsync else 'OFF'})")

    # ---- plumbing: frames, timers, turns ----
    def send(self, dest, body):
        line = json.dumps({"src": self.me, "dest": dest, "body": body}, separators=(",", ":")).encode()
        if len(line) > FRAME_BYTES_MAX:
            log(f"not sending a {len(line)}-byte {body['type']} frame to {dest}: over the frame limit")
            return
        self.out.append(line + b"\n")

    def flush(self):
        """Ends a turn: records durable first, then the frames that may depend on them."""
        self.store.flush()
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out.clear()

    def at(self, delay_ms, fn, *args):
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay_ms / 1000, self.seq, fn, args))

    def lines(self, data):
        """Complete lines of the stream; a line over the limit is skipped, never buffered whole."""
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if self.skipping or len(self.buf) > FRAME_BYTES_MAX:
                    if not self.skipping:
                        log("skipping a frame over 64 KiB")
                    self.buf, self.skipping = b"", True  # drop it up to its newline
                return
            line, self.buf = self.buf[:nl], self.buf[nl + 1:]
            if self.skipping:
                self.skipping = False
            elif len(line) > FRAME_BYTES_MAX:
                log("skipping a frame over 64 KiB")
            else:
                yield line

    def envelope(self, line):
        env = json.loads(line)
        if not isinstance(env, dict) or not isinstance(env.get("body"), dict):
            raise Malformed("not an envelope")
        src, dest = uint(env.get("src"), "src", 32), uint(env.get("dest"), "dest", 32)
        return src, dest, env["body"], string(env["body"].get("type"), "body.type")

    def handshake(self, token):
        self.send(0, {"type": "hello", "node": self.me, "token": token})
        self.flush()
        deadline = time.monotonic() + INIT_WAIT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                die(1, "handshake failed: no init within 10 s")
            data = self.sock.recv(READ_BYTES)
            if not data:
                die(1, "handshake failed: connection closed before init")
            for line in self.lines(data):
                try:
                    src, dest, body, kind = self.envelope(line)
                    if kind == "init":
                        return self.init(body)
                    log(f"ignoring a {kind} frame before init")
                except (ValueError, Malformed) as e:
                    log(f"skipping a malformed frame before init: {e}")

    def init(self, body):
        try:
            if uint(body.get("node"), "init.node", 32) != self.me:
                die(1, f"handshake failed: init for node {body['node']}, I am {self.me}")
            roles = {r: {uint(n, r, 32) for n in body.get(r, [])} for r in ("acceptors", "proposers", "learners")}
            config = body.get("config") or {}
            self.cfg = {k: config.get(k, d) for k, d in CONFIG_DEFAULTS.items()}
            for k, d in CONFIG_DEFAULTS.items():
                if type(self.cfg[k]) is not type(d):
                    raise Malformed(f"config.{k}: {self.cfg[k]!r}")
        except (Malformed, TypeError, AttributeError) as e:
            die(1, f"handshake failed: invalid init: {e}")
        self.acceptors, self.learners = sorted(roles["acceptors"]), sorted(roles["learners"])
        self.is_acceptor, self.is_proposer = self.me in roles["acceptors"], self.me in roles["proposers"]
        self.is_learner, self.quorum = self.me in roles["learners"], len(self.acceptors) // 2 + 1
        self.rng = random.Random(self.cfg["seed"] * 1_000_003 + self.me)
        if config.get("bug") is not None:
            log(f"ignoring config.bug {config['bug']!r}: this node has no mutants")
        log(f"init: acceptors {self.acceptors}, proposers {sorted(roles['proposers'])}, learners {self.learners}")

    def serve(self):
        data = b""  # first, the frames that came in the same read as `init`
        while True:
            for line in self.lines(data):
                try:
                    self.dispatch(*self.envelope(line))
                except (ValueError, Malformed) as e:
                    log(f"skipping a malformed frame: {e}: {line[:200]!r}")
            while self.timers and self.timers[0][0] <= time.monotonic():
                _, _, fn, args = heapq.heappop(self.timers)
                fn(*args)
            self.flush()
            timeout = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else None
            data = b""
            if select.select([self.sock], [], [], timeout)[0]:
                data = self.sock.recv(READ_BYTES)
                if not data:
                    die(0, "the controller closed the connection")

    def dispatch(self, src, dest, body, kind):
        if dest != self.me:
            return log(f"skipping a {kind} frame for node {dest}")
        if kind in ("init", "hello"):
            return log(f"ignoring a {kind} frame from {src} after the handshake")
        i = uint(body.get("instance"), "instance")
        if kind == "propose" and src == 0:
            self.on_propose(uint(body.get("msg_id"), "msg_id"), i, string(body.get("value"), "value"))
        elif kind in ("prepare", "accept", "promise", "nack", "accepted") and src != 0:
            b = ballot(body.get("ballot"), "ballot")
            if kind == "prepare" and self.is_acceptor:
                self.on_prepare(src, i, b)
            elif kind == "accept" and self.is_acceptor:
                self.on_accept(src, i, b, string(body.get("value"), "value"))
            elif kind == "promise":
                acc = body.get("accepted")
                if acc is not None:
                    if not isinstance(acc, dict):
                        raise Malformed(f"accepted: {acc!r} is neither null nor a vote")
                    acc = (ballot(acc.get("ballot"), "accepted.ballot"), string(acc.get("value"), "accepted.value"))
                self.on_promise(src, i, b, acc)
            elif kind == "nack":
                self.on_nack(i, b, ballot(body.get("promised"), "promised"))
            elif kind == "accepted":
                self.on_accepted(src, i, b, string(body.get("value"), "value"))
        elif kind == "decided" and src != 0:
            self.on_decided(src, i, string(body.get("value"), "value"))
        elif kind == "decided_ok" and src != 0:
            if i in self.announces:
                self.announces[i].pending.discard(src)
        else:
            log(f"ignoring a {kind} frame from {src}")

    # ---- acceptor ----
    def on_prepare(self, src, i, b):
        promised = self.promised.get(i, (0, 0))
        if b < promised:
            return self.send(src, {"type": "nack", "instance": i, "ballot": b, "promised": promised})
        if b > promised:
            self.promised[i] = b
            self.store.add({"r": "promise", "instance": i, "ballot": b})
        acc = self.accepted.get(i)
        self.send(src, {"type": "promise", "instance": i, "ballot": b,
                        "accepted": acc and {"ballot": acc[0], "value": acc[1]}})

    def on_accept(self, src, i, b, v):
        promised = self.promised.get(i, (0, 0))
        if b < promised:
            return self.send(src, {"type": "nack", "instance": i, "ballot": b, "promised": promised})
        if self.accepted.get(i) != (b, v):  # a duplicate needs no new write, but an answer
            self.promised[i], self.accepted[i] = b, (b, v)
            self.store.add({"r": "accept", "instance": i, "ballot": b, "value": v})
        assert self.accepted[i][0] <= self.promised[i], "an acceptor never accepts above its promise"
        for dest in sorted(set(self.learners) | {src}):
            self.send(dest, {"type": "accepted", "instance": i, "ballot": b, "value": v})

    # ---- proposer ----
    def on_propose(self, msg_id, i, value):
        def error(code, text):
            self.send(0, {"type": "error", "in_reply_to": msg_id, "code": code, "text": text})
        if not self.is_proposer:
            return error("not_proposer", "this node is not a proposer")
        if i in self.decided:
            self.send(0, {"type": "propose_ok", "in_reply_to": msg_id, "instance": i, "value": self.decided[i]})
            return self.announce(i, self.decided[i])
        p = self.proposals.get(i)
        if p is None:
            if len(self.proposals) >= self.cfg["max_proposals"]:
                return error("busy", "too many open proposals on this node")
            p = self.proposals[i] = Proposal(value)
            self.next_ballot(i, p)
        elif len(p.waiters) >= WAITERS_MAX:
            return error("busy", f"{WAITERS_MAX} ops already wait on this instance")
        p.waiters.append(msg_id)

    def next_ballot(self, i, p):
        p.attempts += 1
        self.max_round = max(self.max_round, p.seen_round) + 1
        self.store.add({"r": "round", "round": self.max_round})  # durable before the prepare leaves
        p.ballot, p.phase, p.votes, p.gen = (self.max_round, self.me), "prepare", {}, p.gen + 1
        for a in self.acceptors:
            self.send(a, {"type": "prepare", "instance": i, "ballot": p.ballot})
        self.at(self.cfg["phase_timeout_ms"], self.on_phase_timeout, i, p, p.gen)

    def on_promise(self, src, i, b, acc):
        p = self.proposals.get(i)
        if p is None or p.phase != "prepare" or p.ballot != b or src not in self.acceptors:
            return
        p.votes[src] = acc
        if len(p.votes) < self.quorum:
            return
        reported = [a for a in p.votes.values() if a]
        p.proposed = max(reported)[1] if reported else p.value  # the highest-ballot vote's value
        p.phase, p.votes, p.gen = "accept", {}, p.gen + 1
        for a in self.acceptors:
            self.send(a, {"type": "accept", "instance": i, "ballot": b, "value": p.proposed})
        self.at(self.cfg["phase_timeout_ms"], self.on_phase_timeout, i, p, p.gen)

    def on_nack(self, i, b, promised):
        p = self.proposals.get(i)
        if p is not None:
            p.seen_round = max(p.seen_round, promised[0])
            if p.ballot == b and p.phase in ("prepare", "accept"):
                self.fail_ballot(i, p)

    def on_phase_timeout(self, i, p, gen):
        if self.proposals.get(i) is p and p.gen == gen:
            self.fail_ballot(i, p)

    def fail_ballot(self, i, p):
        if p.attempts >= self.cfg["max_attempts"]:
            del self.proposals[i]
            for msg_id in p.waiters:
                self.send(0, {"type": "error", "in_reply_to": msg_id, "code": "gave_up",
                              "text": f"no decision after {p.attempts} ballots"})
            return
        p.phase, p.gen = "backoff", p.gen + 1
        delay_ms = 0.0
        if self.cfg["backoff"]:
            base, cap = self.cfg["backoff_base_ms"], self.cfg["backoff_max_ms"]
            delay_ms = base + self.rng.uniform(0, min(base * 2 ** min(p.attempts, 20), cap))
        self.at(delay_ms, self.on_backoff_over, i, p, p.gen)

    def on_backoff_over(self, i, p, gen):
        if self.proposals.get(i) is p and p.gen == gen:
            self.next_ballot(i, p)

    # ---- learner, and decisions ----
    def on_accepted(self, src, i, b, v):
        if src not in self.acceptors:
            return
        if self.is_learner and i not in self.learned:
            voters = self.votes.setdefault(i, {}).setdefault((b, v), set())
            voters.add(src)
            if len(voters) >= self.quorum:
                self.decide(i, v)
        p = self.proposals.get(i)
        if p is not None and p.phase == "accept" and p.ballot == b and p.proposed == v:
            p.votes[src] = v
            if len(p.votes) >= self.quorum:
                self.decide(i, v)

    def on_decided(self, src, i, v):
        self.decide(i, v)
        self.send(src, {"type": "decided_ok", "instance": i})

    def decide(self, i, v):
        """A decision reached by this node (quorum of accepteds) or told by a `decided`."""
        self.decided.setdefault(i, v)
        if self.is_learner and self.learned.get(i) != v:
            self.learned.setdefault(i, v)  # the first value stands; a different one is reported too
            self.votes.pop(i, None)
            self.send(0, {"type": "learned", "instance": i, "value": v})
        p = self.proposals.pop(i, None)
        if p is not None:
            for msg_id in p.waiters:
                self.send(0, {"type": "propose_ok", "in_reply_to": msg_id, "instance": i, "value": self.decided[i]})
            self.announce(i, self.decided[i])

    def announce(self, i, v):
        """Sends `decided` to every learner, then re-sends it to the silent ones, doubling the wait."""
        a = self.announces.get(i)
        if a is None:
            a = self.announces[i] = Announce(v, self.learners, self.cfg["decided_retry_ms"])
        a.pending, a.retries, a.delay_ms, a.gen = set(self.learners), 0, self.cfg["decided_retry_ms"], a.gen + 1
        for dest in self.learners:
            self.send(dest, {"type": "decided", "instance": i, "value": v})
        self.at(a.delay_ms, self.on_announce_timer, i, a, a.gen)

    def on_announce_timer(self, i, a, gen):
        if self.announces.get(i) is not a or a.gen != gen:
            return
        if not a.pending or a.retries >= self.cfg["decided_max_retries"]:
            del self.announces[i]
            return
        a.retries += 1
        for dest in sorted(a.pending):
            self.send(dest, {"type": "decided", "instance": i, "value": a.value})
        a.delay_ms = min(a.delay_ms * 2, self.cfg["decided_retry_max_ms"])
        self.at(a.delay_ms, self.on_announce_timer, i, a, a.gen)


def main():
    signal.signal(signal.SIGTERM, lambda *_: die(0, "SIGTERM: stopping"))
    env = {k: os.environ.get(k) for k in ("SYNOD_CONTROLLER", "SYNOD_NODE", "SYNOD_TOKEN", "SYNOD_DATA_DIR")}
    for k, v in env.items():
        if not v:
            die(2, f"bad environment: {k} is not set")
    host, _, port = env["SYNOD_CONTROLLER"].rpartition(":")
    try:
        addr = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0][4][0]
    except (ValueError, OSError) as e:
        die(2, f"bad environment: SYNOD_CONTROLLER {env['SYNOD_CONTROLLER']!r} is not host:port ({e})")
    if not ipaddress.ip_address(addr).is_loopback:
        die(2, f"bad environment: SYNOD_CONTROLLER {env['SYNOD_CONTROLLER']!r} is not a loopback address")
    if not env["SYNOD_NODE"].isdigit() or not 1 <= int(env["SYNOD_NODE"]) < 1 << 32:
        die(2, f"bad environment: SYNOD_NODE {env['SYNOD_NODE']!r} is not an integer >= 1")
    me, port, token, data_dir = int(env["SYNOD_NODE"]), int(port), env["SYNOD_TOKEN"], env["SYNOD_DATA_DIR"]
    fsync = os.environ.get("SYNOD_PY_FSYNC", "1")
    if fsync not in ("0", "1"):
        die(2, f"bad environment: SYNOD_PY_FSYNC {fsync!r} is neither 0 (never fsync) nor 1 (the default)")
    try:
        store = Store(data_dir, fsync == "1")
        records = store.load()  # before dialing: damaged state never says hello
    except OSError as e:
        die(1, f"cannot open the state in {data_dir}: {e}")
    try:
        sock = socket.create_connection((addr, port))
    except OSError as e:
        die(1, f"cannot dial the controller at {addr}:{port}: {e}")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    node = Node(me, sock, store, records)
    try:
        node.handshake(token)
        node.serve()
    except (BrokenPipeError, ConnectionResetError):
        die(0, "the controller closed the connection")


if __name__ == "__main__":
    main()
