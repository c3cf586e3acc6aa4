//! Revisits (issue 15, item 4): the workload proposes a fresh value to an instance that is
//! already decided. The checker judges them by its existing rules: a revisit answered with
//! the decided value is fine, one that ends `info` or `fail` leaves liveness as it was (the
//! instance is decided, learned and answered), and a second value chosen for the instance
//! breaks agreement and chosen-uniqueness, whether the instance was retired or not.

mod common;
use common::assert_valid;
use synod_checker::{check_reader, Report, RETIRE_AFTER};

const HEADER: &str =
    r#"{"type":"run","t":0,"nodes":[1,2,3],"acceptors":[1,2,3],"learners":[1,2,3],"config":{"trace":"all"}}"#;

/// A history of `n` instances, each invoked at n1, chosen by n1 and n2 at ballot [1,1],
/// learned by every learner and answered `ok`; then `tail`; then `end`.
fn history(n: u64, tail: &[String]) -> String {
    let mut lines = vec![HEADER.to_string()];
    for i in 1..=n {
        let t = i * 10;
        let v = format!("i{i}-op{i}");
        lines.push(format!(r#"{{"type":"invoke","t":{t},"op":{i},"node":1,"instance":{i},"value":"{v}"}}"#));
        for a in [1, 2] {
            lines.push(format!(
                r#"{{"type":"send","t":{t},"msg":{},"src":{a},"dest":3,"body":{{"type":"accepted","instance":{i},"ballot":[1,1],"value":"{v}"}}}}"#,
                i * 2 + a
            ));
        }
        for l in 1..=3 {
            lines.push(format!(r#"{{"type":"learn","t":{t},"node":{l},"instance":{i},"value":"{v}"}}"#));
        }
        lines.push(format!(r#"{{"type":"ok","t":{t},"op":{i},"node":1,"instance":{i},"value":"{v}"}}"#));
    }
    lines.extend(tail.iter().cloned());
    lines.push(r#"{"type":"end","t":999999999}"#.to_string());
    lines.join("\n") + "\n"
}

fn check(text: &str) -> Report {
    check_reader(text.as_bytes(), "revisits").unwrap()
}

/// Op `op`, a revisit of `instance` at `node` with a fresh value.
fn revisit(op: u64, node: u64, instance: u64) -> String {
    format!(
        r#"{{"type":"invoke","t":{},"op":{op},"node":{node},"instance":{instance},"value":"i{instance}-op{op}","revisit":true}}"#,
        op * 10
    )
}

#[test]
fn revisits_that_end_info_or_fail_leave_a_decided_instance_live() {
    // Instance 1 is retired by the time it is revisited; the last one is still in the
    // retirement queue. Each gets a revisit that times out, one that fails, one whose node
    // crashed, and one answered with the decided value.
    let n = RETIRE_AFTER as u64 + 50;
    let mut tail = Vec::new();
    let mut op = n;
    for instance in [1, n] {
        for (node, end) in [
            (2, r#""type":"info","error":"timeout""#),
            (3, r#""type":"fail","error":"busy""#),
            (2, r#""type":"info","error":"crashed""#),
        ] {
            op += 1;
            tail.push(revisit(op, node, instance));
            tail.push(format!(
                r#"{{{end},"t":{},"op":{op},"node":{node},"instance":{instance}}}"#,
                op * 10 + 5
            ));
        }
        op += 1;
        tail.push(revisit(op, 3, instance));
        tail.push(format!(
            r#"{{"type":"ok","t":{},"op":{op},"node":3,"instance":{instance},"value":"i{instance}-op{instance}"}}"#,
            op * 10 + 5
        ));
    }
    let r = check(&history(n, &tail));
    assert_valid(&r);
    let ops = &r.figures.ops;
    assert_eq!((ops.invoked, ops.ok, ops.fail, ops.info, ops.pending), (n + 8, n + 2, 2, 4, 0));
    let l = &r.liveness;
    assert_eq!((l.invoked_instances, l.learned_by_all, l.not_learned_by_all), (n, n, 0));
    assert_eq!((l.clients.answered, l.clients.unanswered), (n, 0));
}

#[test]
fn a_revisit_whose_fresh_value_is_chosen_breaks_agreement_and_chosen_uniqueness() {
    // What an amnesiac cluster does: n2 and n3 forgot, promise nothing, and choose the
    // revisit's value at a higher ballot; n3 learns it and the client is answered with it.
    let n = RETIRE_AFTER as u64 + 50;
    for instance in [1, n] {
        let op = n + 1;
        let v = format!("i{instance}-op{op}");
        let mut tail = vec![revisit(op, 3, instance)];
        for a in [2, 3] {
            tail.push(format!(
                r#"{{"type":"send","t":{},"msg":{},"src":{a},"dest":3,"body":{{"type":"accepted","instance":{instance},"ballot":[5,3],"value":"{v}"}}}}"#,
                op * 10 + a,
                10_000 + a
            ));
        }
        tail.push(format!(
            r#"{{"type":"learn","t":{},"node":3,"instance":{instance},"value":"{v}"}}"#,
            op * 10 + 4
        ));
        tail.push(format!(
            r#"{{"type":"ok","t":{},"op":{op},"node":3,"instance":{instance},"value":"{v}"}}"#,
            op * 10 + 5
        ));
        let r = check(&history(n, &tail));
        let text = r.render_text();
        assert_eq!(r.exit_code(), 1, "instance {instance}: {text}");
        assert_eq!(r.violated_rules(), vec!["agreement", "chosen-uniqueness"], "instance {instance}: {text}");
        let first = r.rule("agreement").unwrap().first.as_ref().unwrap();
        assert_eq!(first.instance, instance);
        assert!(text.contains(&v), "{text}");
    }
}
