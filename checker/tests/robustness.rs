//! Bad input must give an error or a report, never a panic: every fixture line cut at many
//! points, and bytes of it replaced by others, in the middle of a history and at its end.

use std::path::PathBuf;
use synod_checker::{check_reader, CheckError};

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn cut_lines_never_panic() {
    for (name, text) in fixtures() {
        // Fixtures that are unreadable on purpose stay unreadable when cut.
        let readable = check_reader(text.as_bytes(), &name).is_ok();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            for cut in (0..line.len()).step_by(5) {
                let Some(prefix) = line.get(..cut) else { continue };
                let mut h: Vec<&str> = lines.clone();
                h[i] = prefix;
                let joined = h.join("\n");
                // In the middle (newline-terminated) and as a torn last line.
                let _ = check_reader(format!("{joined}\n").as_bytes(), &name);
                let torn = h[..=i].join("\n");
                let r = check_reader(torn.as_bytes(), &name);
                if i == 0 {
                    // Nothing but a torn first line: no events, which is an error of its own.
                    let no_events = matches!(r, Err(CheckError::NoEvents { .. }));
                    assert!(no_events || !readable, "{name}: a lone torn line has no events: {r:?}");
                } else {
                    assert!(r.is_ok() || !readable, "{name}: a torn last line is not an error: {r:?}");
                }
            }
        }
    }
}

#[test]
fn replaced_bytes_never_panic() {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"{}[]\":,0123456789-.eE truefalsnul\\u00ff";
    for (name, text) in fixtures() {
        for _ in 0..300 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
            }
            let _ = check_reader(&bytes[..], &name);
        }
    }
}

#[test]
fn giant_numbers_and_deep_nesting_are_errors_or_ignored() {
    let header = r#"{"type":"run","t":0,"nodes":[1,2,3],"acceptors":[1,2,3],"learners":[1,2,3]}"#;
    let deep = format!(r#"{{"type":"x","t":1,"a":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let cases = [
        r#"{"type":"send","t":1,"src":1,"dest":2,"body":{"type":"promise","instance":18446744073709551615,"ballot":[18446744073709551615,18446744073709551615],"accepted":null}}"#.to_string(),
        r#"{"type":"learn","t":1,"node":1,"instance":1,"value":"\u0000\ud83d\ude00 é"}"#.to_string(),
        r#"{"type":"invoke","t":18446744073709551616,"op":1,"instance":1,"value":"a"}"#.to_string(),
        deep,
    ];
    for case in cases {
        let h = format!("{header}\n{case}\n{{\"type\":\"end\",\"t\":5}}\n");
        let _ = check_reader(h.as_bytes(), "case");
    }
}
