//! Hand-written histories (tests/fixtures/*.jsonl): one per safety rule where only that rule
//! fails, valid ones that look suspicious but are correct Paxos, liveness, truncation and
//! bad input. Each test asserts the exact exit code and the rule named.

mod common;
use common::{assert_only, assert_valid, check, fixture};
use synod_checker::{check_path, CheckError, Report, Verdict};

#[test]
fn agreement_two_learners_disagree() {
    let r = check("invalid_agreement.jsonl");
    assert_only(&r, "agreement");
    let a = r.rule("agreement").unwrap().first.as_ref().unwrap();
    assert_eq!(a.instance, 3);
    assert_eq!(a.line, 5);
    assert_eq!(a.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![4, 5]);
    assert!(a.message.contains("\"b\"") && a.message.contains("\"a\""), "{}", a.message);
}

#[test]
fn agreement_one_node_across_its_restart() {
    let r = check("invalid_agreement_restart.jsonl");
    assert_only(&r, "agreement");
    let a = r.rule("agreement").unwrap().first.as_ref().unwrap();
    assert_eq!(a.line, 12);
    assert!(a.events[1].text.contains("learn at n3"), "{:?}", a.events);
}

#[test]
fn validity_a_value_nobody_invoked() {
    let r = check("invalid_validity.jsonl");
    assert_only(&r, "validity");
    let a = r.rule("validity").unwrap().first.as_ref().unwrap();
    assert_eq!((a.instance, a.line), (2, 3));
    assert!(a.message.contains("\"z\" was never invoked"), "{}", a.message);
}

#[test]
fn chosen_uniqueness_two_majorities_for_two_values() {
    let r = check("invalid_chosen_uniqueness.jsonl");
    assert_only(&r, "chosen-uniqueness");
    let a = r.rule("chosen-uniqueness").unwrap().first.as_ref().unwrap();
    assert_eq!(a.line, 21);
    // The two majorities: lines 10, 11 for a at [1,4]; lines 20, 21 for b at [1,5].
    assert_eq!(a.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![10, 11, 20, 21]);
    assert!(a.message.contains("two values chosen"), "{}", a.message);
}

#[test]
fn one_value_per_ballot_shared_ballot() {
    let r = check("invalid_one_value_per_ballot.jsonl");
    assert_only(&r, "one-value-per-ballot");
    let a = r.rule("one-value-per-ballot").unwrap().first.as_ref().unwrap();
    assert_eq!(a.line, 12);
    assert_eq!(a.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![10, 12]);
    assert!(a.events[1].text.contains("n5 -> n3 accept [1,4] value \"b\""), "{:?}", a.events);
}

#[test]
fn acceptor_monotonicity_promise_below_earlier_promise() {
    let r = check("invalid_acceptor_monotonicity.jsonl");
    assert_only(&r, "acceptor-monotonicity");
    let a = r.rule("acceptor-monotonicity").unwrap().first.as_ref().unwrap();
    assert_eq!((a.instance, a.line), (9, 21));
    assert_eq!(a.events.iter().map(|e| e.line).collect::<Vec<_>>(), vec![5, 21]);
    assert!(a.message.contains("n1 promised [1,4] after it had promised or accepted [2,5]"), "{}", a.message);
}

#[test]
fn valid_contended_instance_with_two_proposers() {
    let r = check("valid_contended.jsonl");
    assert_valid(&r);
    assert_eq!(r.figures.decisions, 1);
    assert_eq!(r.figures.ops.ok, 2);
    assert_eq!(r.figures.drops.get("loss"), Some(&1));
    assert_eq!(r.figures.paxos_sends, 32);
    assert_eq!(r.figures.messages_per_decision, 32.0);
    // First invoke at 100, first learn at 240, last learner at 273.
    assert_eq!(r.figures.decision_latency_first_learn.calm.max_us, 140);
    assert_eq!(r.figures.decision_latency_all_learned.calm.max_us, 173);
    assert_eq!(r.run.run_id.as_deref(), Some("valid-contended"));
}

#[test]
fn valid_minority_accepted_another_value_at_a_lower_ballot() {
    let r = check("valid_minority_lower_ballot.jsonl");
    assert_valid(&r);
    let ops = &r.figures.ops;
    assert_eq!((ops.invoked, ops.ok, ops.fail, ops.info, ops.pending), (3, 2, 0, 1, 0));
    // op 2 was invoked while n4 was down; op 3 after the restart.
    assert_eq!(r.figures.op_latency.fault.count, 1);
    assert_eq!(r.figures.op_latency.calm.count, 1);
    assert_eq!(r.figures.faults.windows, 1);
    assert_eq!(r.figures.faults.fault_time_us, 240 - 153);
    // The instance was first invoked in calm but a fault began before it was decided.
    assert_eq!(r.figures.decision_latency_first_learn.fault.count, 1);
}

#[test]
fn valid_relearning_the_same_value_after_a_restart() {
    assert_valid(&check("valid_relearn_after_restart.jsonl"));
}

#[test]
fn liveness_failure_exits_3() {
    let r = check("not_live.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 3, "{text}");
    assert_eq!(r.verdict, Verdict::NotLive);
    assert!(r.safe);
    assert_eq!(r.live, Some(false));
    let l = &r.liveness;
    assert_eq!((l.invoked_instances, l.not_learned_by_all), (2, 2));
    assert_eq!(l.stuck[0].instance, 1);
    assert_eq!(l.stuck[0].missing, vec![3]);
    assert_eq!(l.stuck[1].instance, 2);
    assert_eq!(l.stuck[1].missing, vec![1, 2, 3]);
    assert!(text.contains("NOT LIVE"), "{text}");
    assert_eq!(r.figures.ops.fail, 1);
}

#[test]
fn truncated_safe_history_exits_0_and_says_so() {
    let r = check("truncated_safe.jsonl");
    assert_eq!(r.exit_code(), 0);
    assert!(r.truncated && !r.torn_last_line);
    assert_eq!(r.verdict, Verdict::Truncated);
    assert_eq!(r.live, None);
    assert!(!r.liveness.judged);
    assert!(r.render_text().contains("liveness not judged"));
}

#[test]
fn torn_last_line_marks_truncation_not_an_error() {
    let r = check("torn_last_line.jsonl");
    assert_eq!(r.exit_code(), 0);
    assert!(r.truncated && r.torn_last_line);
    assert_eq!(r.lines, 5);
    assert_eq!(r.events, 4);
}

#[test]
fn malformed_middle_line_names_file_and_line() {
    let err = check_path(&fixture("malformed_middle.jsonl")).unwrap_err();
    assert_eq!(err.line(), Some(3));
    let text = err.to_string();
    assert!(text.contains("malformed_middle.jsonl:3:"), "{text}");
    assert!(text.contains("not valid JSON"), "{text}");
    assert!(matches!(err, CheckError::Malformed { .. }));
}

#[test]
fn missing_field_is_named() {
    let err = check_path(&fixture("missing_field.jsonl")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("missing_field.jsonl:2: `invoke` event lacks field `instance`"), "{text}");
}

#[test]
fn unknown_event_types_and_extra_fields_are_ignored() {
    let r = check("unknown_events.jsonl");
    assert_valid(&r);
    assert_eq!(r.ignored_events, 3);
    assert_eq!(r.figures.sends, 6);
    assert_eq!(r.figures.paxos_sends, 3);
}

#[test]
fn a_run_dir_is_read_through_its_history_file() {
    let dir = std::env::temp_dir().join(format!("synod-checker-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("valid_contended.jsonl"), dir.join("history.jsonl")).unwrap();
    let r = check_path(&dir).unwrap();
    assert_valid(&r);
    let path = synod_checker::write_report_json(&dir, &r).unwrap();
    let back: Report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back.verdict, Verdict::Valid);
    assert_eq!(back.exit_code, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_an_open_error() {
    let err = check_path(&fixture("no_such_file.jsonl")).unwrap_err();
    assert!(matches!(err, CheckError::Open { .. }), "{err}");
}

#[test]
fn json_report_has_unit_suffixed_fields() {
    let r = check("valid_contended.jsonl");
    let json = serde_json::to_value(&r).unwrap();
    let calm = &json["figures"]["decision_latency_first_learn"]["calm"];
    for key in ["count", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"] {
        assert!(calm.get(key).is_some(), "{key} in {calm}");
    }
    assert_eq!(json["verdict"], "valid");
    assert_eq!(json["safety"][0]["rule"], "agreement");
}

#[test]
fn interrupted_run_is_checked_for_safety_only() {
    let r = check("interrupted.jsonl");
    assert_eq!(r.exit_code(), 0, "{}", r.render_text());
    assert!(r.interrupted && !r.truncated);
    assert_eq!(r.verdict, Verdict::Truncated);
    assert_eq!(r.live, None);
    assert!(r.render_text().contains("interrupted"), "{}", r.render_text());
}
