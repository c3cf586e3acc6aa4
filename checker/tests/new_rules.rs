//! The rules of issue 14: learned-only-if-chosen, truthful-promise, and nack amnesia under
//! acceptor-monotonicity. Each has violating fixtures and a valid look-alike.

mod common;
use common::{assert_only, assert_valid, check, event_lines};

fn message(r: &synod_checker::Report, rule: &str) -> String {
    r.rule(rule).and_then(|r| r.first.as_ref()).map(|a| a.message.clone()).unwrap_or_default()
}

#[test]
fn learned_without_a_majority_at_one_ballot() {
    // One vote for a at [1,4] (line 6), one at [2,5] (line 11): never a majority at one ballot.
    let r = check("invalid_learned_not_chosen.jsonl");
    assert_only(&r, "learned-only-if-chosen");
    let a = r.rule("learned-only-if-chosen").unwrap().first.as_ref().unwrap();
    assert_eq!(a.instance, 1);
    let lines = event_lines(&r, "learned-only-if-chosen");
    assert_eq!(lines[0], 12, "the first learn: {lines:?}");
    assert!(lines.contains(&6) && lines.contains(&11), "the votes: {lines:?}");
    let m = message(&r, "learned-only-if-chosen");
    assert!(m.contains("line 12") && m.contains("\"a\"") && m.contains("no majority"), "{m}");
}

#[test]
fn learned_with_no_accepted_at_all() {
    // A node that decides on promises alone and sends `decided`: no vote anywhere.
    let r = check("invalid_learned_no_accepted.jsonl");
    assert_only(&r, "learned-only-if-chosen");
    assert_eq!(event_lines(&r, "learned-only-if-chosen")[0], 7);
    let m = message(&r, "learned-only-if-chosen");
    assert!(m.contains("line 7") && m.contains("no `accepted`"), "{m}");
}

#[test]
fn learned_in_a_traced_run_without_any_message() {
    // The header says every message is traced, and there is none: nothing was chosen.
    let r = check("invalid_learned_without_messages.jsonl");
    assert_only(&r, "learned-only-if-chosen");
    let m = message(&r, "learned-only-if-chosen");
    assert!(m.contains("ok \"a\" at line 3"), "{m}");
}

#[test]
fn learning_before_ones_own_vote_is_on_the_wire_is_fine() {
    assert_valid(&check("valid_learned_before_own_vote.jsonl"));
}

#[test]
fn trace_ops_history_says_the_trace_rules_were_not_judged() {
    let r = check("valid_trace_ops.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 0, "{text}");
    assert_eq!(r.verdict, synod_checker::Verdict::Valid);
    let rule = r.rule("learned-only-if-chosen").unwrap();
    assert!(rule.ok && !rule.judged, "{text}");
    assert!(r.rule("agreement").unwrap().judged);
    assert!(text.contains("learned-only-if-chosen  not judged"), "{text}");
    assert!(r.warnings.iter().any(|w| w.contains("learned-only-if-chosen")), "{:?}", r.warnings);
}

#[test]
fn promise_misreports_the_value_the_acceptor_sent() {
    let r = check("invalid_promise_misreports_value.jsonl");
    assert_only(&r, "truthful-promise");
    assert_eq!(event_lines(&r, "truthful-promise"), vec![7, 10]);
    let m = message(&r, "truthful-promise");
    assert!(m.contains("n2") && m.contains("\"b\"") && m.contains("\"a\"") && m.contains("line 7"), "{m}");
}

#[test]
fn promise_reports_a_vote_above_its_own_ballot() {
    let r = check("invalid_promise_above_its_ballot.jsonl");
    assert_only(&r, "truthful-promise");
    assert_eq!(event_lines(&r, "truthful-promise"), vec![13]);
    let m = message(&r, "truthful-promise");
    assert!(m.contains("n1 promised [2,5]") && m.contains("[3,1]"), "{m}");
}

#[test]
fn promise_reports_a_value_no_accept_carried_at_that_ballot() {
    let r = check("invalid_promise_reports_unsent_value.jsonl");
    assert_only(&r, "truthful-promise");
    assert_eq!(event_lines(&r, "truthful-promise"), vec![6, 11]);
    let m = message(&r, "truthful-promise");
    assert!(m.contains("only \"a\"") && m.contains("line 6"), "{m}");
}

#[test]
fn promise_reporting_a_persisted_but_unsent_vote_is_fine() {
    assert_valid(&check("valid_promise_reports_unsent_vote.jsonl"));
}

#[test]
fn nack_showing_a_forgotten_promise_is_amnesia() {
    let r = check("invalid_nack_amnesia.jsonl");
    assert_only(&r, "acceptor-monotonicity");
    assert_eq!(event_lines(&r, "acceptor-monotonicity"), vec![6, 16]);
    let m = message(&r, "acceptor-monotonicity");
    assert!(m.contains("n1 nacked [1,4] showing promised [2,5]") && m.contains("[3,5] at line 6"), "{m}");
}

#[test]
fn nack_showing_the_promise_kept_across_a_restart_is_fine() {
    assert_valid(&check("valid_nack_after_restart.jsonl"));
}

#[test]
fn learned_two_votes_short_is_reported_though_the_majority_comes_later() {
    // 5 acceptors: n3 learns after one `accepted` (line 8); two more arrive after the learn.
    let r = check("invalid_learned_before_chosen.jsonl");
    assert_only(&r, "learned-only-if-chosen");
    let a = r.rule("learned-only-if-chosen").unwrap().first.as_ref().unwrap();
    assert_eq!(a.line, 9, "reported at the learn itself");
    assert_eq!(event_lines(&r, "learned-only-if-chosen"), vec![9, 8]);
    let m = message(&r, "learned-only-if-chosen");
    assert!(m.contains("line 9") && m.contains("by then") && m.contains("at most 1 acceptor(s)"), "{m}");
}

#[test]
fn learned_one_vote_short_with_that_vote_sent_next_is_fine() {
    // 5 acceptors: n3 learns after two `accepted`, counting its own, which it sends next.
    assert_valid(&check("valid_learned_one_vote_early.jsonl"));
}

#[test]
fn promise_reports_a_vote_at_a_ballot_no_accept_was_sent_for() {
    // Line 22: n2 promises [5,1] reporting "zzz" at [3,4]; nobody ever sent accept at [3,4].
    let r = check("invalid_promise_reports_unaccepted_ballot.jsonl");
    assert_only(&r, "truthful-promise");
    assert_eq!(event_lines(&r, "truthful-promise"), vec![22]);
    let m = message(&r, "truthful-promise");
    assert!(m.contains("n2 promised [5,1]") && m.contains("no `accept` at [3,4] was ever sent"), "{m}");
}

#[test]
fn trace_ops_header_then_messages_says_earlier_decisions_were_not_judged() {
    // Instance 1 is decided before any message: it was not held for learned-only-if-chosen.
    let r = check("trace_ops_then_messages.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 0, "{text}");
    let rule = r.rule("learned-only-if-chosen").unwrap();
    assert!(rule.ok && !rule.judged, "{text}");
    assert!(r.rule("one-value-per-ballot").unwrap().judged, "{text}");
    assert!(
        r.warnings.iter().any(|w| w.contains("the 4 decision(s) before the first message")),
        "{:?}",
        r.warnings
    );
}
