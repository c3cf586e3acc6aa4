//! The acceptor log: append-only, one record a frame, each frame
//! `[payload length: u32 LE][CRC32 of payload: u32 LE][payload: JSON of a Record]`.
//!
//! Why it is shaped this way: an acceptor that forgets a promise breaks Paxos, so on start-up
//! the log is either read back completely or the node refuses to start.
//!
//! - A bad frame at the very end, with nothing valid after it, is a torn write: the crash
//!   happened mid-append, before the fdatasync returned, so nothing in it was acknowledged.
//!   It is cut off.
//! - A bad frame followed by a valid one means the disk lost or changed acknowledged data.
//!   The node stops with [`LogError::Corrupt`], naming the file, the offset and the record.
//! - `append` writes a batch with one `write` and one `fdatasync` (group commit).

use crate::paxos::Record;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The log's file name inside the node's data dir.
pub const LOG_FILE: &str = "acceptor.log";
/// Frame header: length + CRC32.
const HEADER_BYTES: usize = 8;
/// The largest payload a valid frame can hold (a record carries at most one value, and a
/// value fits in a 64 KiB protocol frame).
pub const MAX_RECORD_BYTES: usize = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path}: record #{record} at byte {offset} is corrupt ({why}), but a valid record follows \
         at byte {next_valid}: acknowledged state was lost or changed on disk. Refusing to start: \
         an acceptor that forgets a promise breaks safety. Restore the file or wipe the node \
         deliberately."
    )]
    Corrupt { path: PathBuf, record: u64, offset: u64, why: String, next_valid: u64 },
}

/// What start-up found in the log.
#[derive(Debug)]
pub struct Recovery {
    pub records: Vec<Record>,
    /// Bytes cut off a torn tail (0 when the log ended cleanly).
    pub torn_bytes: u64,
}

#[derive(Debug)]
pub struct AcceptorLog {
    path: PathBuf,
    file: File,
    /// Reused encode buffer: one allocation for the life of the log.
    buf: Vec<u8>,
}

impl AcceptorLog {
    /// Opens (or creates) `dir/acceptor.log`, reads it back and cuts a torn tail.
    pub fn open(dir: &Path) -> Result<(AcceptorLog, Recovery), LogError> {
        let path = dir.join(LOG_FILE);
        let io_err = |source| LogError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(|source| LogError::Io { path: dir.to_path_buf(), source })?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;
        let scan = scan(&bytes);
        let torn_bytes = scan.bad.as_ref().map_or(0, |b| (bytes.len() - b.offset) as u64);
        if let Some(bad) = scan.bad {
            match find_valid_frame(&bytes, bad.offset + 1) {
                Some(next_valid) => {
                    return Err(LogError::Corrupt {
                        path,
                        record: scan.records.len() as u64 + 1,
                        offset: bad.offset as u64,
                        why: bad.why,
                        next_valid: next_valid as u64,
                    })
                }
                None => {
                    file.set_len(bad.offset as u64).map_err(io_err)?;
                    file.sync_data().map_err(io_err)?;
                }
            }
        }
        file.seek(SeekFrom::End(0)).map_err(io_err)?;
        let log = AcceptorLog { path, file, buf: Vec::with_capacity(4096) };
        Ok((log, Recovery { records: scan.records, torn_bytes }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `records` and, with `sync`, makes them durable with one fdatasync: nothing
    /// that depends on them may leave the node before this returns. Without `sync` they are
    /// only written (they survive a SIGKILL, not a power cut, until the next synced append:
    /// an fdatasync flushes every earlier write of the file too).
    pub fn append(&mut self, records: &[Record], sync: bool) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for record in records {
            encode(record, &mut self.buf);
        }
        let io_err = |source| LogError::Io { path: self.path.clone(), source };
        self.file.write_all(&self.buf).map_err(io_err)?;
        if sync {
            self.file.sync_data().map_err(io_err)?;
        }
        Ok(())
    }
}

/// Appends one frame for `record` to `out`.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    serde_json::to_writer(&mut *out, record).expect("records always serialize");
    let payload = &out[start + HEADER_BYTES..];
    assert!(payload.len() <= MAX_RECORD_BYTES, "record of {} bytes exceeds the log's limit", payload.len());
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + 8].copy_from_slice(&crc);
}

struct Bad {
    offset: usize,
    why: String,
}

struct Scan {
    records: Vec<Record>,
    bad: Option<Bad>,
}

/// Decodes frames from the start until the end or the first bad frame.
fn scan(bytes: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match decode_at(bytes, offset) {
            Ok((record, next)) => {
                records.push(record);
                offset = next;
            }
            Err(why) => return Scan { records, bad: Some(Bad { offset, why }) },
        }
    }
    Scan { records, bad: None }
}

/// Decodes the frame at `offset`; returns the record and the offset after it.
fn decode_at(bytes: &[u8], offset: usize) -> Result<(Record, usize), String> {
    let rest = &bytes[offset..];
    if rest.len() < HEADER_BYTES {
        return Err(format!("{} bytes where an 8-byte header should be", rest.len()));
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len > MAX_RECORD_BYTES {
        return Err(format!("length {len} exceeds the {MAX_RECORD_BYTES}-byte limit"));
    }
    let Some(payload) = rest.get(HEADER_BYTES..HEADER_BYTES + len) else {
        return Err(format!("length {len} but only {} bytes left", rest.len() - HEADER_BYTES));
    };
    let actual = crc32fast::hash(payload);
    if actual != crc {
        return Err(format!("CRC32 mismatch: stored {crc:08x}, computed {actual:08x}"));
    }
    let record = serde_json::from_slice(payload).map_err(|e| format!("undecodable record: {e}"))?;
    Ok((record, offset + HEADER_BYTES + len))
}

/// The first offset at or after `from` where a complete, valid frame starts. A match by
/// chance needs a plausible length, a JSON object and a matching CRC32: odds of 2^-32 and less.
fn find_valid_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(HEADER_BYTES))
        .find(|&offset| bytes.get(offset + HEADER_BYTES) == Some(&b'{') && decode_at(bytes, offset).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::Ballot;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("synod-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn sample() -> Vec<Record> {
        vec![
            Record::Promise { instance: 1, ballot: Ballot::new(1, 2) },
            Record::Accept { instance: 1, ballot: Ballot::new(1, 2), value: "v".into() },
            Record::Round { round: 9 },
            Record::Learned { instance: 1, value: "v".into() },
        ]
    }

    #[test]
    fn appended_records_come_back_in_order() {
        let dir = temp_dir("roundtrip");
        let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
        assert!(rec.records.is_empty());
        log.append(&sample()[..2], true).unwrap();
        log.append(&sample()[2..], true).unwrap();
        drop(log);
        let (_, rec) = AcceptorLog::open(&dir).unwrap();
        assert_eq!(rec.records, sample());
        assert_eq!(rec.torn_bytes, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn torn_tail_is_cut_at_every_possible_length() {
        let mut full = Vec::new();
        for r in sample() {
            encode(&r, &mut full);
        }
        let mut last = Vec::new();
        encode(&sample()[3], &mut last);
        let keep = full.len() - last.len();
        for cut in keep + 1..full.len() {
            let dir = temp_dir(&format!("torn{cut}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(LOG_FILE), &full[..cut]).unwrap();
            let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
            assert_eq!(rec.records, sample()[..3].to_vec(), "cut at {cut}");
            assert_eq!(rec.torn_bytes, (cut - keep) as u64);
            // The log is usable after the cut: a new append reads back after the survivors.
            log.append(&sample()[3..], true).unwrap();
            drop(log);
            assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, sample());
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn corrupt_middle_record_refuses_to_start() {
        let mut full = Vec::new();
        for r in sample() {
            encode(&r, &mut full);
        }
        let mut first = Vec::new();
        encode(&sample()[0], &mut first);
        // Flip a payload byte of the second record.
        full[first.len() + HEADER_BYTES + 3] ^= 0x20;
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOG_FILE), &full).unwrap();
        let err = AcceptorLog::open(&dir).unwrap_err();
        let LogError::Corrupt { record, offset, .. } = &err else { panic!("{err}") };
        assert_eq!((*record, *offset), (2, first.len() as u64));
        let text = err.to_string();
        assert!(
            text.contains("acceptor.log") && text.contains("CRC32 mismatch") && text.contains("Refusing"),
            "{text}"
        );
        // Nothing was cut: the evidence stays on disk.
        assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), full);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_length_field_followed_by_records_is_detected() {
        let mut full = Vec::new();
        for r in sample() {
            encode(&r, &mut full);
        }
        full[0] = 0xff; // first record's length now points past the end
        full[3] = 0x7f;
        let dir = temp_dir("badlen");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOG_FILE), &full).unwrap();
        assert!(matches!(AcceptorLog::open(&dir), Err(LogError::Corrupt { record: 1, offset: 0, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
