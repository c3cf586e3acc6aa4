//! Late events on instances that were decided long ago, and whose state was packed
//! (`RETIRE_AFTER` newer instances finished since): every rule must still judge them.

use synod_checker::{check_reader, Report, RETIRE_AFTER};

/// A header and `n` decided instances (acceptors 1..3, learners 1..3), one line each event.
fn decided_instances(n: u64) -> String {
    let mut h = String::from(
        r#"{"type":"run","t":0,"run_id":"late","seed":1,"nodes":[1,2,3],"acceptors":[1,2,3],"proposers":[1,2],"learners":[1,2,3]}"#,
    );
    h.push('\n');
    let mut t = 0;
    let mut line = |h: &mut String, s: String| {
        t += 10;
        h.push_str(&s.replace("T", &t.to_string()));
        h.push('\n');
    };
    for i in 1..=n {
        line(&mut h, format!(r#"{{"type":"invoke","t":T,"op":{i},"node":1,"instance":{i},"value":"v{i}"}}"#));
        line(
            &mut h,
            format!(
                r#"{{"type":"send","t":T,"msg":{i},"src":1,"dest":2,"body":{{"type":"prepare","instance":{i},"ballot":[1,1]}}}}"#
            ),
        );
        line(
            &mut h,
            format!(
                r#"{{"type":"send","t":T,"msg":{i},"src":2,"dest":1,"body":{{"type":"promise","instance":{i},"ballot":[1,1],"accepted":null}}}}"#
            ),
        );
        line(
            &mut h,
            format!(
                r#"{{"type":"send","t":T,"msg":{i},"src":1,"dest":2,"body":{{"type":"accept","instance":{i},"ballot":[1,1],"value":"v{i}"}}}}"#
            ),
        );
        for a in [1, 2] {
            line(
                &mut h,
                format!(
                    r#"{{"type":"send","t":T,"msg":{i},"src":{a},"dest":3,"body":{{"type":"accepted","instance":{i},"ballot":[1,1],"value":"v{i}"}}}}"#
                ),
            );
        }
        for l in 1..=3 {
            line(&mut h, format!(r#"{{"type":"learn","t":T,"node":{l},"instance":{i},"value":"v{i}"}}"#));
        }
        line(&mut h, format!(r#"{{"type":"ok","t":T,"op":{i},"node":1,"instance":{i},"value":"v{i}"}}"#));
    }
    h
}

fn check(late: &str) -> Report {
    let n = RETIRE_AFTER as u64 + 50;
    let history = format!("{}{late}\n{{\"type\":\"end\",\"t\":999999}}\n", decided_instances(n));
    check_reader(history.as_bytes(), "late").unwrap()
}

fn assert_only(r: &Report, rule: &str) {
    assert_eq!(r.violated_rules(), vec![rule], "{}", r.render_text());
    assert_eq!(r.exit_code(), 1);
    let a = r.rule(rule).unwrap().first.as_ref().unwrap();
    assert_eq!(a.instance, 1);
    assert!(a.trace_note.as_deref().unwrap_or("").contains("retired"), "{a:?}");
}

#[test]
fn the_base_history_is_valid() {
    let r = check("");
    assert_eq!(r.exit_code(), 0, "{}", r.render_text());
}

#[test]
fn relearning_the_decided_value_late_is_fine() {
    let r = check(
        r#"{"type":"learn","t":900000,"node":3,"instance":1,"value":"v1"}
{"type":"send","t":900001,"msg":1,"src":3,"dest":1,"body":{"type":"accepted","instance":1,"ballot":[1,1],"value":"v1"}}
{"type":"send","t":900002,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[2,2],"accepted":{"ballot":[1,1],"value":"v1"}}}"#,
    );
    assert_eq!(r.exit_code(), 0, "{}", r.render_text());
}

#[test]
fn late_learn_of_another_value_breaks_agreement() {
    let r = check(
        r#"{"type":"invoke","t":900000,"op":9999,"node":2,"instance":1,"value":"w"}
{"type":"learn","t":900001,"node":3,"instance":1,"value":"w"}"#,
    );
    // The trace shows v1 chosen, so the learn also contradicts the chosen value, and w was
    // never chosen at all (judged at the end of the history, from the packed record).
    assert_eq!(
        r.violated_rules(),
        vec!["agreement", "chosen-uniqueness", "learned-only-if-chosen"],
        "{}",
        r.render_text()
    );
    let a = r.rule("learned-only-if-chosen").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("learn \"w\""), "{}", a.message);
    let a = r.rule("agreement").unwrap().first.as_ref().unwrap();
    assert!(a.trace_note.is_some());
    assert!(a.message.contains("\"w\"") && a.message.contains("\"v1\""), "{}", a.message);
    assert_eq!(a.events.len(), 2);
}

#[test]
fn late_promise_below_an_earlier_accept_breaks_monotonicity() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[0,9],"accepted":null}}"#,
    );
    assert_only(&r, "acceptor-monotonicity");
}

#[test]
fn late_forgetful_promise_breaks_monotonicity() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[5,1],"accepted":null}}"#,
    );
    assert_only(&r, "acceptor-monotonicity");
    let a = r.rule("acceptor-monotonicity").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("reporting accepted none"), "{}", a.message);
}

#[test]
fn late_accept_of_another_value_at_the_same_ballot() {
    let r = check(
        r#"{"type":"invoke","t":900000,"op":9999,"node":2,"instance":1,"value":"w"}
{"type":"send","t":900001,"msg":1,"src":2,"dest":3,"body":{"type":"accept","instance":1,"ballot":[1,1],"value":"w"}}"#,
    );
    assert_only(&r, "one-value-per-ballot");
}

#[test]
fn late_majority_for_another_value() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":3,"body":{"type":"accepted","instance":1,"ballot":[3,2],"value":"w"}}
{"type":"send","t":900001,"msg":1,"src":3,"dest":2,"body":{"type":"accepted","instance":1,"ballot":[3,2],"value":"w"}}"#,
    );
    assert_only(&r, "chosen-uniqueness");
}
