//! Client replies (late and duplicate ones), client liveness, aborted runs and empty
//! histories (issue 14, items 2-4).

mod common;
use common::{assert_valid, check, fixture};
use synod_checker::{check_path, check_reader, CheckError, Verdict};

#[test]
fn a_late_ok_with_another_value_is_judged_like_any_other() {
    let r = check("invalid_late_ok.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 1, "{text}");
    // The learners learned a, chosen at [1,1]; the late ok says b: agreement, the chosen
    // value and "learned only if chosen" all see it.
    assert_eq!(
        r.violated_rules(),
        vec!["agreement", "chosen-uniqueness", "learned-only-if-chosen"],
        "{text}"
    );
    let a = r.rule("agreement").unwrap().first.as_ref().unwrap();
    assert_eq!(a.line, 12);
    assert!(a.events[1].text.contains("late ok op 1"), "{:?}", a.events);
    assert_eq!(r.figures.ops.late, 1);
    assert_eq!(r.figures.ops.late_ok, 1);
    assert_eq!(r.figures.ops.ok, 1);
    assert!(r.warnings.is_empty(), "a late reply is no orphan: {:?}", r.warnings);
}

#[test]
fn late_and_duplicate_replies_with_the_decided_value_are_fine_and_counted_apart() {
    let r = check("valid_late_replies.jsonl");
    assert_valid(&r);
    let ops = &r.figures.ops;
    assert_eq!((ops.invoked, ops.ok, ops.fail, ops.info, ops.pending), (3, 1, 1, 1, 0));
    assert_eq!((ops.late, ops.late_ok), (4, 3));
    // Only the on-time ok has a latency.
    assert_eq!(r.figures.op_latency.all.count, 1);
    // Instance 2 is answered only by a late ok, and that counts.
    let c = &r.liveness.clients;
    assert_eq!((c.live, c.answered, c.unanswered), (Some(true), 2, 0));
    assert!(r.render_text().contains("late 4"), "{}", r.render_text());
}

#[test]
fn an_instance_no_client_was_answered_for_is_not_live() {
    let r = check("not_live_clients.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 3, "{text}");
    assert_eq!(r.verdict, Verdict::NotLive);
    assert!(r.safe);
    let l = &r.liveness;
    assert_eq!(l.learners_live, Some(true), "{text}");
    assert_eq!((l.invoked_instances, l.not_learned_by_all), (2, 0));
    let c = &l.clients;
    assert_eq!((c.live, c.answered, c.unanswered), (Some(false), 1, 1), "{text}");
    assert_eq!(c.stuck[0].instance, 1);
    assert_eq!(c.stuck[0].learned_by, vec![1, 2, 3]);
    assert_eq!(c.stuck[0].invokes, 1);
    assert!(text.contains("clients  NOT LIVE: 1 of 2 invoked instances never answered ok"), "{text}");
    assert!(text.contains("learners ok"), "{text}");
}

#[test]
fn the_learners_stuck_instances_are_also_unanswered() {
    // not_live.jsonl: instance 2 failed and was never learned: both liveness parts fail.
    let r = check("not_live.jsonl");
    assert_eq!(r.liveness.learners_live, Some(false));
    assert_eq!(r.liveness.clients.live, Some(false));
    assert_eq!(r.liveness.clients.unanswered, 1);
    assert_eq!(r.liveness.clients.stuck[0].instance, 2);
}

#[test]
fn an_aborted_run_exits_2_with_its_reason() {
    let r = check("aborted.jsonl");
    let text = r.render_text();
    assert_eq!(r.exit_code(), 2, "{text}");
    assert_eq!(r.exit_code, 2);
    assert_eq!(r.verdict, Verdict::Aborted);
    assert!(r.aborted && r.safe && !r.truncated);
    assert_eq!(r.live, None);
    assert!(r.abort_reason.as_deref().unwrap().contains("n1 exited with code 127"));
    assert!(text.contains("verdict  aborted") && text.contains("n1 exited with code 127"), "{text}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verdict"], "aborted");
}

#[test]
fn a_safety_violation_wins_over_an_abort() {
    let h = r#"{"type":"run","t":0,"nodes":[1,2],"acceptors":[1,2],"learners":[1,2]}
{"type":"invoke","t":1,"op":1,"node":1,"instance":1,"value":"a"}
{"type":"learn","t":2,"node":1,"instance":1,"value":"a"}
{"type":"learn","t":3,"node":2,"instance":1,"value":"b"}
{"type":"end","t":4,"aborted":true,"reason":"gave up"}
"#;
    let r = check_reader(h.as_bytes(), "h").unwrap();
    assert_eq!(r.exit_code(), 1, "{}", r.render_text());
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(r.aborted);
}

#[test]
fn an_empty_history_is_an_error() {
    for text in ["", "\n", "\n\n  \n\t\n"] {
        let err = check_reader(text.as_bytes(), "empty.jsonl").unwrap_err();
        assert!(matches!(err, CheckError::NoEvents { .. }), "{text:?}: {err}");
        assert!(err.to_string().contains("empty.jsonl: no events"), "{err}");
    }
    let err = check_path(&fixture("blank_lines.jsonl")).unwrap_err();
    assert!(matches!(err, CheckError::NoEvents { .. }), "{err}");
}

#[test]
fn a_report_json_written_before_these_fields_existed_still_reads() {
    let r = check("valid_late_replies.jsonl");
    let mut json = serde_json::to_value(&r).unwrap();
    let obj = json.as_object_mut().unwrap();
    obj.remove("aborted");
    obj.remove("abort_reason");
    let liveness = obj["liveness"].as_object_mut().unwrap();
    liveness.remove("clients");
    liveness.remove("learners_live");
    let ops = obj["figures"]["ops"].as_object_mut().unwrap();
    ops.remove("late");
    ops.remove("late_ok");
    for rule in obj["safety"].as_array_mut().unwrap() {
        rule.as_object_mut().unwrap().remove("judged");
    }
    let back: synod_checker::Report = serde_json::from_value(json).unwrap();
    assert!(!back.aborted && back.safety.iter().all(|r| r.judged));
    assert_eq!(back.liveness.clients.live, None);
}
