use super::*;
use crate::ballot::Ballot;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

fn c(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// One event of every type, with every optional field set, and again with none set.
fn every_event() -> Vec<Event<'static>> {
    let raw = serde_json::value::to_raw_value(&json!({"type": "catchup", "from_instance": 3})).unwrap();
    let mut params = Map::new();
    params.insert("p".into(), json!(0.25));
    params.insert("msg".into(), json!({"type": "accept", "nth": 2}));
    vec![
        Event::Run(Run {
            t: 0,
            run_id: Some(c("20261203T000000-1")),
            seed: Some(json!(7)),
            nodes: vec![1, 2, 3],
            acceptors: Some(vec![1, 2, 3]),
            proposers: Some(vec![1]),
            learners: Some(vec![2, 3]),
            bug: Some(None),
            bug_nodes: Some(vec![1]),
            config: Some(json!({"trace": "all", "nodes": 3})),
        }),
        Event::Run(Run { t: 0, nodes: vec![1], bug: Some(Some(c("skip-fsync"))), ..Run::default() }),
        Event::Invoke(Invoke { t: 1, instance: 2, node: Some(3), op: 4, revisit: true, value: c("a\"b\n") }),
        Event::Invoke(Invoke { t: 1, instance: 2, node: None, op: 4, revisit: false, value: c("v") }),
        Event::Ok(Ok {
            t: 5,
            instance: 2,
            late: true,
            node: Some(3),
            op: 4,
            reply_instance: Some(9),
            unknown_op: true,
            value: c("v"),
        }),
        Event::Fail(Failed {
            t: 6,
            error: Some(c("busy")),
            instance: Some(2),
            late: false,
            node: Some(1),
            op: 7,
            text: Some(c("later")),
        }),
        Event::Info(Failed { t: 6, error: None, instance: None, late: true, node: None, op: 7, text: None }),
        Event::Learn(Learn { t: 8, instance: 2, node: 3, value: c("v") }),
        Event::Send(Send {
            t: 9,
            msg: Some(1),
            src: 1,
            dest: 2,
            body: Body::Paxos(Msg::Promise {
                instance: 2,
                ballot: Ballot(3, 1),
                accepted: Some(AcceptedValue { ballot: Ballot(2, 2), value: c("x") }),
            }),
        }),
        Event::Send(Send {
            t: 9,
            msg: Some(2),
            src: 1,
            dest: 2,
            body: Body::Paxos(Msg::Promise { instance: 2, ballot: Ballot(3, 1), accepted: None }),
        }),
        Event::Send(Send {
            t: 9,
            msg: None,
            src: 2,
            dest: 1,
            body: Body::Paxos(Msg::Nack { instance: 2, ballot: Ballot(1, 1), promised: Some(Ballot(3, 1)) }),
        }),
        Event::Send(Send { t: 9, msg: Some(3), src: 1, dest: 2, body: Body::Raw(Cow::Owned(raw)) }),
        Event::Send(Send {
            t: 9,
            msg: Some(4),
            src: 1,
            dest: 2,
            body: Body::Paxos(Msg::DecidedOk { instance: 2 }),
        }),
        Event::Recv(Recv { t: 10, msg: Some(1) }),
        Event::Drop(Dropped { t: 11, msg: Some(2), reason: c("partition") }),
        Event::Phase(Phase { t: 12, phase: c("final") }),
        Event::Nemesis(Nemesis { t: 13, action: c("crash-point"), nodes: None, params }),
        Event::Nemesis(Nemesis { t: 14, action: c("kill"), nodes: Some(vec![]), params: Map::new() }),
        Event::Disk(Disk {
            t: 15,
            bytes: 100,
            event: c("power-loss"),
            files: 1,
            node: 2,
            torn: true,
            torn_bytes_kept: 512,
            writes: 3,
        }),
        Event::Process(Process {
            t: 16,
            event: c("exit"),
            node: 2,
            pid: Some(99),
            status: Some(c("signal SIGKILL")),
        }),
        Event::Discarded(Discarded { t: 17, body_type: c("accepted"), node: 2 }),
        Event::Error(ErrorEvent {
            t: 18,
            error: c("garbage"),
            frame: Some(3),
            node: Some(2),
            op: Some(1),
            peer: Some(c("127.0.0.1:4000")),
        }),
        Event::End(End {
            t: 19,
            aborted: true,
            interrupted: false,
            reason: Some(c("the disk is full")),
            unanswered: Some(0),
            unlearned: Some(1),
            workload_cut: true,
        }),
        Event::End(End { t: 19, ..End::default() }),
    ]
}

/// Whatever the controller writes reads back as the same event: the writer and the reader
/// agree on every field.
#[test]
fn every_event_reads_back_as_written() {
    for ev in every_event() {
        let line = ev.to_json();
        let prefix = format!("{{\"type\":\"{}\",\"t\":{}", ev.kind(), ev.t());
        assert!(line.starts_with(&prefix), "{line}");
        let back = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(back, ev, "{line}");
        assert_eq!(back.to_json(), line);
    }
}

/// The hot path reads the common lines exactly as the generic reader does.
#[test]
fn the_hot_path_agrees_with_the_generic_reader() {
    let mut hot = 0;
    for ev in every_event() {
        let line = ev.to_json();
        if let Some(fast) = super::hot::parse(line.as_bytes()) {
            hot += 1;
            assert_eq!(Result::Ok(fast), super::parse::parse_generic(line.as_bytes()), "{line}");
        }
    }
    assert!(hot >= 9, "send, recv, drop, invoke, ok and learn lines take the hot path ({hot})");
    // Unusual shapes fall through to the generic reader (and its messages).
    for line in [
        r#"{"t":5,"type":"learn","instance":1,"node":2,"value":"v"}"#,
        r#"{"type":"learn","t":5,"node":1,"value":"x"}"#,
        r#"{"type":"send","t":5,"src":0,"dest":1,"body":{"type":"init"}}"#,
    ] {
        assert!(super::hot::parse(line.as_bytes()).is_none(), "{line}");
    }
}

#[test]
fn parses_a_promise_with_an_accepted_value() {
    let line = br#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":{"ballot":[2,5],"value":"x"}}}"#;
    match parse_line(line).unwrap() {
        Event::Send(Send {
            body: Body::Paxos(Msg::Promise { instance: 7, ballot, accepted: Some(a) }),
            ..
        }) => {
            assert_eq!(ballot, Ballot(3, 1));
            assert_eq!(a.ballot, Ballot(2, 5));
            assert_eq!(a.value, "x");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_late_aborted_and_the_trace_setting() {
    let ok = br#"{"type":"ok","t":5,"op":1,"instance":2,"value":"x","late":true}"#;
    assert!(matches!(parse_line(ok).unwrap(), Event::Ok(Ok { late: true, .. })));
    let fail = br#"{"type":"fail","t":5,"op":1,"late":true}"#;
    assert!(matches!(parse_line(fail).unwrap(), Event::Fail(Failed { late: true, instance: None, .. })));
    let end = br#"{"type":"end","t":5,"aborted":true,"reason":"no node started"}"#;
    match parse_line(end).unwrap() {
        Event::End(End { aborted: true, reason: Some(r), .. }) => assert_eq!(r, "no node started"),
        other => panic!("{other:?}"),
    }
    let run = br#"{"type":"run","t":0,"nodes":[1],"config":{"trace":"ops","x":[1]}}"#;
    assert!(matches!(parse_line(run).unwrap(), Event::Run(r) if r.trace() == Some("ops")));
    for config in ["7", r#""all""#, "[1]", r#"{"trace":3}"#, "null"] {
        let run = format!(r#"{{"type":"run","t":0,"nodes":[1],"config":{config}}}"#);
        assert!(matches!(parse_line(run.as_bytes()).unwrap(), Event::Run(r) if r.trace().is_none()));
    }
}

#[test]
fn unknown_types_and_fields_are_ignored() {
    let line = br#"{"type":"frobnicate","t":5,"node":"n3","value":7,"extra":[1]}"#;
    assert!(matches!(parse_line(line).unwrap(), Event::Unknown { ty, t: Some(5) } if ty == "frobnicate"));
    let line = br#"{"type":"recv","t":5,"msg":3,"whatever":{"a":1}}"#;
    assert_eq!(parse_line(line).unwrap(), Event::Recv(Recv { t: 5, msg: Some(3) }));
}

/// The informational types are not judged: odd fields make them unknown, not an error.
#[test]
fn informational_events_with_odd_fields_are_unknown() {
    for line in [
        r#"{"type":"error","t":5,"node":"n3","error":7}"#,
        r#"{"type":"process","t":5,"node":1}"#,
        r#"{"type":"phase","t":5}"#,
        r#"{"type":"disk","t":5,"node":1,"event":"power-loss"}"#,
    ] {
        let ev = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(matches!(ev, Event::Unknown { t: Some(5), .. }), "{line}: {ev:?}");
    }
}

#[test]
fn a_foreign_body_keeps_the_send_verbatim() {
    for body in [r#"{"type":"init","ballot":"odd","nodes":[1,2]}"#, r#"{"type":"catchup","from":3}"#, "[1,2]"]
    {
        let line = format!(r#"{{"type":"send","t":5,"msg":1,"src":0,"dest":1,"body":{body}}}"#);
        match parse_line(line.as_bytes()).unwrap() {
            Event::Send(Send { body: Body::Raw(raw), src: 0, msg: Some(1), .. }) => {
                assert_eq!(raw.get(), body)
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn nemesis_lines_keep_their_parameters() {
    let line = br#"{"type":"nemesis","t":9,"action":"partition","shape":"isolate","components":[[5],[1,2]],"cut":[]}"#;
    let Event::Nemesis(n) = parse_line(line).unwrap() else { panic!() };
    assert_eq!((n.t, &*n.action, n.nodes.as_deref()), (9, "partition", None));
    assert_eq!(n.params["shape"], "isolate");
    assert_eq!(n.params["components"], json!([[5], [1, 2]]));
    let line = br#"{"type":"nemesis","t":9,"action":"crash-point","msg":{"type":"accept"},"p":1.0,"nodes":[[2,1],[3]]}"#;
    let Event::Nemesis(n) = parse_line(line).unwrap() else { panic!() };
    assert_eq!(n.node_ids(), &[1, 2, 3], "node ids whatever the shape");
    assert_eq!(n.params["msg"], json!({"type": "accept"}));
    let line = br#"{"type":"nemesis","t":9,"action":"kill","nodes":[3,1]}"#;
    let Event::Nemesis(n) = parse_line(line).unwrap() else { panic!() };
    assert_eq!(n.node_ids(), &[3, 1], "a plain list as written");
    let e = parse_line(br#"{"type":"nemesis","t":9}"#).unwrap_err();
    assert!(e.reason.contains("lacks field `action`"), "{e}");
}

#[test]
fn errors_name_the_problem() {
    let e = parse_line(br#"{"type":"learn","t":5,"node":1,"value":"x"}"#).unwrap_err();
    assert!(e.reason.contains("`learn` event lacks field `instance`"), "{}", e.reason);
    let e = parse_line(br#"{"type":"learn","t":"x"}"#).unwrap_err();
    assert!(e.reason.contains("invalid type"), "{}", e.reason);
    let e = parse_line(br#"{"type":"learn","t":5"#).unwrap_err();
    assert!(e.reason.starts_with("not valid JSON"), "{}", e.reason);
    let e = parse_line(
        br#"{"type":"send","t":5,"src":1,"dest":2,"body":{"type":"accept","instance":1,"ballot":[1,1]}}"#,
    )
    .unwrap_err();
    assert!(e.reason.contains("body `accept` lacks field `value`"), "{}", e.reason);
    let e = parse_line(br#"{"type":"send","t":5,"src":1,"dest":2,"body":{"type":"accept","instance":"x"}}"#)
        .unwrap_err();
    assert!(e.reason.contains("invalid type"), "{}", e.reason);
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-schema-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// The reader: line numbers in errors, malformed lines skippable, a torn tail not an error.
#[test]
fn the_reader_numbers_lines_and_takes_a_torn_tail_for_the_end() {
    let text = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n\n{\"type\":\"learn\",\"t\":2}\n{\"type\":\"recv\",\"t\":3,\"msg\":1}\n{\"type\":\"recv\",\"t\":4,\"ms";
    let path = temp_file("reader", text);
    let mut events = Events::open(path.parent().unwrap()).unwrap();
    let mut got = Vec::new();
    while let Some(ev) = events.next() {
        match ev {
            Result::Ok(ev) => got.push(format!("{}@{}", ev.kind(), ev.t())),
            Err(e) => got.push(e.to_string()),
        }
    }
    assert_eq!(got[0], "phase@1");
    assert_eq!(got[1], format!("{}:3: `learn` event lacks field `instance`", path.display()));
    assert_eq!(got[2], "recv@3");
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(events.torn());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Lines a reader claims by their bytes are passed over unparsed, and still numbered; a
/// torn tail is never offered to be skipped.
#[test]
fn the_reader_skips_the_lines_it_is_told_to() {
    let text = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n{\"type\":\"recv\",\"t\":2,\"msg\":1}\n{\"type\":\"recv\",\"oops\n{\"type\":\"learn\",\"t\":2}\n{\"type\":\"recv\",\"t\":4,\"ms";
    let path = temp_file("skip", text);
    let mut events = Events::open(&path).unwrap();
    let mut got = Vec::new();
    let mut seen = Vec::new();
    while let Some(ev) = events.next_unless(|line| {
        seen.push(line.len());
        line.starts_with(b"{\"type\":\"recv\"")
    }) {
        match ev {
            Result::Ok(ev) => got.push(format!("{}@{}", ev.kind(), ev.t())),
            Err(e) => got.push(e.to_string()),
        }
    }
    assert_eq!(
        got,
        vec!["phase@1".to_string(), format!("{}:4: `learn` event lacks field `instance`", path.display())]
    );
    assert_eq!(seen.len(), 4, "every complete line is offered, the torn tail is not");
    assert_eq!(events.line(), 5);
    assert!(events.torn());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn the_reader_reads_a_compressed_history() {
    let dir = std::env::temp_dir().join(format!("synod-schema-{}-zst", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> = every_event().iter().map(|e| e.to_json() + "\n").collect();
    let packed = zstd::encode_all(lines.concat().as_bytes(), 1).unwrap();
    std::fs::write(dir.join(crate::HISTORY_ZST_FILE), packed).unwrap();
    let mut n = 0;
    let mut events = Events::open(&dir).unwrap();
    while let Some(ev) = events.next() {
        assert_eq!(ev.unwrap().to_json() + "\n", lines[n]);
        n += 1;
    }
    assert_eq!(n, lines.len());
    assert!(!events.torn());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn instance_node_and_type_of_a_body() {
    let ev = parse_line(
        br#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"catchup","instance":4}}"#,
    )
    .unwrap();
    let Event::Send(s) = &ev else { panic!() };
    assert_eq!(s.body.type_name().as_deref(), Some("catchup"));
    assert_eq!(ev.instance(), Some(4));
    assert_eq!(ev.node(), Some(2));
    let v: Value = serde_json::to_value(&s.body).unwrap();
    assert_eq!(v["instance"], 4);
}

/// `recv` lines are written by hand: the bytes serde writes for them, with and without a
/// message id, at the edges of u64.
#[test]
fn recv_lines_are_the_bytes_serde_writes() {
    for (t, msg) in [(0, None), (0, Some(0)), (17, Some(123_456)), (u64::MAX, Some(u64::MAX)), (9, None)] {
        let event = Event::Recv(Recv { t, msg });
        let mut fast = Vec::new();
        event.write_json(&mut fast);
        assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&event).unwrap());
    }
}

/// Lines in the controller's exact form, one of each shape the exact reader takes.
const EXACT: [&str; 11] = [
    r#"{"type":"recv","t":0,"msg":18446744073709551615}"#,
    r#"{"type":"drop","t":12,"msg":3,"reason":"partition"}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"prepare","instance":7,"ballot":[3,1]}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":null}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":{"ballot":[2,5],"value":"välue"}}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"nack","instance":7,"ballot":[3,1],"promised":[4,2]}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"accept","instance":7,"ballot":[3,1],"value":"i7-op9-n2"}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"accepted","instance":7,"ballot":[3,1],"value":""}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"decided","instance":7,"value":"x"}}"#,
    r#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"decided_ok","instance":7}}"#,
    r#"{"type":"send","t":10,"msg":100,"src":20,"dest":0,"body":{"type":"accepted","instance":0,"ballot":[0,0],"value":"a/b"}}"#,
];

/// The exact reader takes every line of its form, and reads each as the generic reader does.
#[test]
fn the_exact_reader_takes_its_lines_and_agrees_with_the_generic_reader() {
    for line in EXACT {
        let fast = super::exact::parse(line.as_bytes()).unwrap_or_else(|| panic!("not taken: {line}"));
        assert_eq!(Result::Ok(fast), super::parse::parse_generic(line.as_bytes()), "{line}");
    }
    for ev in every_event() {
        let line = ev.to_json();
        if let Some(fast) = super::exact::parse(line.as_bytes()) {
            assert_eq!(Result::Ok(fast), super::parse::parse_generic(line.as_bytes()), "{line}");
        }
    }
}

/// Every line one edit away from the exact form (a byte dropped, replaced, or the line cut):
/// the exact reader either leaves it to the others or reads what the generic reader reads.
/// Escapes, white space, leading zeros, overflow, fields out of order, bad UTF-8, trailing
/// bytes: none may be read differently.
#[test]
fn lines_broken_in_every_way_are_read_as_the_generic_reader_reads_them_or_left_to_it() {
    let replacements: [u8; 14] =
        [b'0', b'1', b'9', b' ', b'"', b'\\', b'}', b',', b'a', b'-', b'.', b'e', 0x01, 0xff];
    let (mut tried, mut taken) = (0, 0);
    for line in EXACT {
        let line = line.as_bytes();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for i in 0..line.len() {
            let mut cut = line.to_vec();
            cut.remove(i);
            variants.push(cut);
            variants.push(line[..i].to_vec());
            for &r in &replacements {
                let mut changed = line.to_vec();
                changed[i] = r;
                variants.push(changed);
            }
        }
        let mut long = line.to_vec();
        long.push(b' ');
        variants.push(long);
        for v in variants {
            tried += 1;
            if let Some(fast) = super::exact::parse(&v) {
                taken += 1;
                let generic = super::parse::parse_generic(&v);
                assert_eq!(Result::Ok(fast), generic, "{}", String::from_utf8_lossy(&v));
            }
        }
    }
    // Some edits keep the form (a digit for a digit, a letter in a value): those are taken.
    assert!(taken > 100 && taken < tried / 2, "{taken} of {tried} taken");
}
