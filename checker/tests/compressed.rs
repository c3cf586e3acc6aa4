//! Compressed histories (`history.jsonl.zst`) through `check_path`: the same verdict as the
//! plain file, a cut stream checks as a truncated history, a corrupt one is an error that
//! names the file, and a run folder holds exactly one of the two forms.

mod common;
use common::fixture;
use std::io::Write;
use std::path::{Path, PathBuf};
use synod_checker::history_file::OpenError;
use synod_checker::{check_path, CheckError, Report, Verdict, HISTORY_FILE, HISTORY_ZST_FILE};

/// A temp folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("synod-zst-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `text` as the controller writes it: one frame, flushed every `per_flush` lines.
fn compress(text: &str, per_flush: usize, finish: bool) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for chunk in lines.chunks(per_flush) {
        for l in chunk {
            enc.write_all(l.as_bytes()).unwrap();
        }
        enc.flush().unwrap();
    }
    if finish {
        enc.finish().unwrap()
    } else {
        enc.get_ref().clone()
    }
}

/// The report as JSON, without the source name (the only field that may differ).
fn comparable(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("source");
    v
}

#[test]
fn every_fixture_checks_the_same_compressed() {
    let tmp = TempDir::new("fixtures");
    let mut compared = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let plain = entry.unwrap().path();
        if plain.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let name = plain.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&plain).unwrap();
        let zst = tmp.0.join(format!("{name}.zst"));
        std::fs::write(&zst, compress(&text, 3, true)).unwrap();
        match (check_path(&plain), check_path(&zst)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(comparable(&a), comparable(&b), "{name}");
                assert_eq!(b.source, zst.display().to_string());
            }
            (Err(a), Err(b)) => {
                let a = a.to_string().replace(&plain.display().to_string(), "F");
                let b = b.to_string().replace(&zst.display().to_string(), "F");
                assert_eq!(a, b, "{name}");
            }
            (a, b) => {
                panic!("{name}: plain {:?} but compressed {:?}", a.map(|r| r.verdict), b.map(|r| r.verdict))
            }
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} fixtures");
}

/// A controller killed mid-run leaves a frame without its end: at every cut, the checker
/// reads the complete lines and judges a truncated history (or finds no event yet).
#[test]
fn a_cut_stream_checks_as_truncated_at_every_offset() {
    let tmp = TempDir::new("cut");
    let text = std::fs::read_to_string(fixture("valid_contended.jsonl")).unwrap();
    let whole = check_path(&fixture("valid_contended.jsonl")).unwrap();
    assert_eq!(whole.verdict, Verdict::Valid);
    let stream = compress(&text, 4, false);
    let path = tmp.0.join(HISTORY_ZST_FILE);
    let mut truncated = 0;
    for cut in 0..=stream.len() {
        std::fs::write(&path, &stream[..cut]).unwrap();
        match check_path(&tmp.0) {
            Ok(r) if r.verdict == Verdict::Truncated => {
                assert!(r.truncated && r.safe, "cut at {cut}");
                truncated += 1;
            }
            // Every block is there, only the frame's end is missing: the `end` line is in.
            Ok(r) => assert_eq!(comparable(&r), comparable(&whole), "cut at {cut}"),
            Err(CheckError::NoEvents { .. }) => {}
            Err(e) => panic!("cut at {cut}: {e}"),
        }
    }
    assert!(truncated > stream.len() / 2, "{truncated} of {} cuts truncated", stream.len());
}

#[test]
fn garbage_after_a_valid_prefix_names_the_file_and_line() {
    let tmp = TempDir::new("garbage");
    let text = std::fs::read_to_string(fixture("valid_contended.jsonl")).unwrap();
    let mut bytes = compress(&text, 8, false);
    bytes.extend_from_slice(b"not a zstd block: a disk that returned the wrong sector\n");
    let path = tmp.0.join(HISTORY_ZST_FILE);
    std::fs::write(&path, &bytes).unwrap();
    let e = check_path(&tmp.0).unwrap_err();
    assert!(matches!(e, CheckError::Corrupt(_)), "{e:?}");
    let msg = e.to_string();
    let want = format!("{}: corrupt zstd stream after line ", path.display());
    assert!(msg.starts_with(&want), "{msg}");
    let lines = text.lines().count();
    assert!(msg.starts_with(&format!("{want}{lines}: ")), "every line before the garbage: {msg}");
}

#[test]
fn a_run_folder_holds_exactly_one_history() {
    let tmp = TempDir::new("folder");
    let text = std::fs::read_to_string(fixture("valid_contended.jsonl")).unwrap();
    let dir: &Path = &tmp.0;
    let e = check_path(dir).unwrap_err();
    assert!(matches!(e, CheckError::Open(OpenError::Missing { .. })), "{e}");
    assert!(e.to_string().contains("neither history.jsonl.zst nor history.jsonl"), "{e}");

    std::fs::write(dir.join(HISTORY_ZST_FILE), compress(&text, 5, true)).unwrap();
    let r = check_path(dir).unwrap();
    assert_eq!(r.source, dir.join(HISTORY_ZST_FILE).display().to_string());
    assert_eq!(r.verdict, Verdict::Valid);

    std::fs::write(dir.join(HISTORY_FILE), &text).unwrap();
    let e = check_path(dir).unwrap_err();
    assert!(matches!(e, CheckError::Open(OpenError::Both { .. })), "{e}");
    assert!(e.to_string().contains("remove one, or name the file to read"), "{e}");
    // Naming a file reads it.
    assert_eq!(check_path(&dir.join(HISTORY_FILE)).unwrap().verdict, Verdict::Valid);

    std::fs::remove_file(dir.join(HISTORY_ZST_FILE)).unwrap();
    assert_eq!(check_path(dir).unwrap().source, dir.join(HISTORY_FILE).display().to_string());
}
