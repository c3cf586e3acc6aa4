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
    check_without(&[], late, true)
}

/// The base history without the lines of instance 1 that contain all of one of `drop`'s
/// string lists, then `late`, then an `end` line if `end`.
fn check_without(drop: &[&[&str]], late: &str, end: bool) -> Report {
    let n = RETIRE_AFTER as u64 + 50;
    let mut history: String = decided_instances(n)
        .lines()
        .filter(|l| {
            !(l.contains(r#""instance":1,"#) && drop.iter().any(|words| words.iter().all(|w| l.contains(w))))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    history.push_str(late);
    history.push('\n');
    if end {
        history.push_str("{\"type\":\"end\",\"t\":999999}\n");
    }
    check_reader(history.as_bytes(), "late").unwrap()
}

/// Instance 1 without n1's `accepted`: its learns are one vote short until it comes.
const N1_VOTE: &[&str] = &[r#""type":"accepted""#, r#""src":1,"#];
const N1_VOTE_LATE: &str = r#"{"type":"send","t":900000,"msg":1,"src":1,"dest":3,"body":{"type":"accepted","instance":1,"ballot":[1,1],"value":"v1"}}"#;

#[test]
fn a_vote_one_short_that_comes_after_retirement_backs_the_decision() {
    let r = check_without(&[N1_VOTE], N1_VOTE_LATE, true);
    assert_eq!(r.exit_code(), 0, "{}", r.render_text());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn a_vote_one_short_that_never_comes_is_a_violation_at_the_end() {
    let r = check_without(&[N1_VOTE], "", true);
    assert_only(&r, "learned-only-if-chosen");
    let a = r.rule("learned-only-if-chosen").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("by the end of the history"), "{}", a.message);
}

#[test]
fn a_vote_one_short_in_a_truncated_history_is_not_judged_but_warned() {
    let r = check_without(&[N1_VOTE], "", false);
    assert!(r.truncated && r.safe, "{}", r.render_text());
    assert!(
        r.warnings.iter().any(|w| w.contains("1 decision(s) were still one vote short")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_invoke_of_a_retired_instance_changes_nothing_for_liveness() {
    // It retired answered: clients' liveness asks for one `ok` per invoked instance.
    let invoke = r#"{"type":"invoke","t":900000,"op":9999,"node":2,"instance":1,"value":"w"}"#;
    let r = check(invoke);
    assert_eq!(r.exit_code(), 0, "{}", r.render_text());
    // Retired without any invoke: possible only after learns that broke validity.
    let never_invoked: &[&[&str]] = &[&[r#""type":"invoke""#], &[r#""type":"ok""#]];
    assert_eq!(check_without(never_invoked, invoke, true).violated_rules(), vec!["validity"]);
}

#[test]
fn late_promise_reporting_a_vote_at_a_ballot_nobody_sent_accept_for() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[5,1],"accepted":{"ballot":[3,4],"value":"zzz"}}}"#,
    );
    assert_only(&r, "truthful-promise");
    let a = r.rule("truthful-promise").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("no `accept` at [3,4]"), "{}", a.message);
}

#[test]
fn late_promise_misreporting_the_acceptors_own_vote() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[5,1],"accepted":{"ballot":[1,1],"value":"zzz"}}}"#,
    );
    assert_only(&r, "truthful-promise");
    let a = r.rule("truthful-promise").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("it sent accepted [1,1] value \"v1\""), "{}", a.message);
}

#[test]
fn late_nack_showing_a_forgotten_vote_is_amnesia() {
    let r = check(
        r#"{"type":"send","t":900000,"msg":1,"src":2,"dest":1,"body":{"type":"nack","instance":1,"ballot":[0,3],"promised":[0,5]}}"#,
    );
    assert_only(&r, "acceptor-monotonicity");
    let a = r.rule("acceptor-monotonicity").unwrap().first.as_ref().unwrap();
    assert!(a.message.contains("n2 nacked [0,3] showing promised [0,5]"), "{}", a.message);
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
