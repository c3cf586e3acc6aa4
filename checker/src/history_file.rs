//! The one way to open a history on disk: every reader (the checker, and in the controller
//! replay, show, report, scenario, bench and the tests) goes through [`open`], so that each of
//! them takes both forms a run can leave, `history.jsonl.zst` (the default, docs/history.md)
//! and plain `history.jsonl` (`--history-format jsonl`, and every run from before
//! compression).
//!
//! The compressed form is one zstd frame whose blocks the writer flushes whenever it runs out
//! of queued lines, so a controller killed mid-run leaves a frame without its end. Reading such
//! a stream yields every line its complete blocks hold and then ends as if the file ended
//! there: the history is truncated (no `end` line), which is what a SIGKILL means for a plain
//! history too. [`HistoryReader::cut`] tells whether that happened. A stream that is corrupt
//! rather than short (bad bytes mid-file, garbage after a valid prefix) is an error naming
//! the file and the last complete line decoded before it ([`CorruptStream`]).
//!
//! A folder holding both files is refused rather than guessed at: the two could differ (a
//! `zstd -d` by hand, an edit), and a verdict must say which bytes it judged. Name the file
//! to read one of them.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The plain history file inside a run directory (`--history-format jsonl`, old runs).
pub const HISTORY_FILE: &str = "history.jsonl";
/// The compressed history file inside a run directory (the default).
pub const HISTORY_ZST_FILE: &str = "history.jsonl.zst";

/// Bytes read from the file at a time (both forms).
const FILE_BUFFER_BYTES: usize = 1 << 17;
/// Bytes of decoded text buffered for line reads.
const TEXT_BUFFER_BYTES: usize = 1 << 18;

/// How a history is stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HistoryFormat {
    /// One JSON object a line, uncompressed. The `Default`, because a meta.json written
    /// before compression has no format field and its run wrote plain JSONL.
    #[default]
    Jsonl,
    /// The same lines in one zstd stream (`history.jsonl.zst`).
    Zst,
}

impl HistoryFormat {
    /// The file name a run directory holds for this format.
    pub fn file_name(self) -> &'static str {
        match self {
            HistoryFormat::Jsonl => HISTORY_FILE,
            HistoryFormat::Zst => HISTORY_ZST_FILE,
        }
    }

    /// The format of a history file, from its name: `.zst` is compressed, anything else is
    /// read as plain JSONL (a fixture, a file a person wrote).
    pub fn of_path(path: &Path) -> HistoryFormat {
        match path.extension() {
            Some(ext) if ext == "zst" => HistoryFormat::Zst,
            _ => HistoryFormat::Jsonl,
        }
    }
}

impl std::fmt::Display for HistoryFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HistoryFormat::Jsonl => "jsonl",
            HistoryFormat::Zst => "zst",
        })
    }
}

impl std::str::FromStr for HistoryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" => Ok(HistoryFormat::Jsonl),
            "zst" => Ok(HistoryFormat::Zst),
            _ => Err(format!("unknown history format {s:?}: expected jsonl or zst")),
        }
    }
}

/// Why a history could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A directory with neither history file.
    #[error("{}: no history in this folder (neither {HISTORY_ZST_FILE} nor {HISTORY_FILE})", dir.display())]
    Missing { dir: PathBuf },
    /// A directory with both history files: which one to judge is not guessed.
    #[error(
        "{}: holds both {HISTORY_ZST_FILE} and {HISTORY_FILE}; remove one, or name the file to read",
        dir.display()
    )]
    Both { dir: PathBuf },
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A compressed history that stops being a valid zstd stream part way. Reads of a
/// [`HistoryReader`] fail with an `io::Error` of kind `InvalidData` wrapping this.
#[derive(Debug, thiserror::Error)]
#[error("{}: corrupt zstd stream after line {line}: {reason}", path.display())]
pub struct CorruptStream {
    pub path: PathBuf,
    /// Complete lines decoded before the corruption.
    pub line: u64,
    pub reason: String,
}

/// The history file of a run directory, or `path` itself when it is not a directory. A
/// directory must hold exactly one of the two history files.
pub fn find(path: &Path) -> Result<PathBuf, OpenError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let zst = path.join(HISTORY_ZST_FILE);
    let plain = path.join(HISTORY_FILE);
    match (zst.exists(), plain.exists()) {
        (true, false) => Ok(zst),
        (false, true) => Ok(plain),
        (true, true) => Err(OpenError::Both { dir: path.to_path_buf() }),
        (false, false) => Err(OpenError::Missing { dir: path.to_path_buf() }),
    }
}

/// Opens the history of a run directory, or a history file (`.zst` is decompressed), as
/// JSONL text.
pub fn open(path: &Path) -> Result<HistoryReader, OpenError> {
    let path = find(path)?;
    let file = File::open(&path).map_err(|source| OpenError::Io { path: path.clone(), source })?;
    let file = BufReader::with_capacity(FILE_BUFFER_BYTES, file);
    let format = HistoryFormat::of_path(&path);
    let inner = match format {
        HistoryFormat::Jsonl => Inner::Plain(file),
        HistoryFormat::Zst => {
            let text = ZstText::new(file, path.clone())
                .map_err(|source| OpenError::Io { path: path.clone(), source })?;
            Inner::Zst(BufReader::with_capacity(TEXT_BUFFER_BYTES, text))
        }
    };
    Ok(HistoryReader { path, format, inner })
}

/// The JSONL text of one history file, whichever its form. Read it with `BufRead`.
pub struct HistoryReader {
    path: PathBuf,
    format: HistoryFormat,
    inner: Inner,
}

enum Inner {
    Plain(BufReader<File>),
    Zst(BufReader<ZstText<BufReader<File>>>),
}

impl HistoryReader {
    /// The file being read, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> HistoryFormat {
        self.format
    }

    /// Whether the compressed stream ended before its frame did (a killed controller). Known
    /// once the reader has returned end of file; always false for plain JSONL.
    pub fn cut(&self) -> bool {
        match &self.inner {
            Inner::Plain(_) => false,
            Inner::Zst(r) => r.get_ref().cut,
        }
    }
}

impl Read for HistoryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(r) => r.read(buf),
            Inner::Zst(r) => r.read(buf),
        }
    }
}

impl BufRead for HistoryReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            Inner::Plain(r) => r.fill_buf(),
            Inner::Zst(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match &mut self.inner {
            Inner::Plain(r) => r.consume(amt),
            Inner::Zst(r) => r.consume(amt),
        }
    }
}

/// Decompressed text of a zstd stream: a stream cut short ends (and sets `cut`), a corrupt
/// one fails with a [`CorruptStream`] naming the line reached.
///
/// It drives zstd's streaming decoder itself rather than through `zstd::Decoder`, to hand
/// out every block decoded before a corrupt one: zstd fails a whole decode call, dropping
/// what that call had decoded, so each call is given input up to the end of the block under
/// way and no further (zstd's hint, less the next block's header it asks to preload).
struct ZstText<R: BufRead> {
    reader: R,
    decoder: zstd::stream::raw::Decoder<'static>,
    path: PathBuf,
    /// zstd's hint of the input it wants next; 0 between frames.
    hint: usize,
    /// Whether any input was fed: an empty file is a stream cut before its first byte.
    started: bool,
    /// Newlines returned so far: the complete lines decoded.
    lines: u64,
    cut: bool,
    done: bool,
}

/// The size of a zstd block header, which the decoder's input hint includes.
const BLOCK_HEADER_BYTES: usize = 3;
/// Decode calls in a row that consume and produce nothing before the reader gives up (the
/// decoder always makes progress on non-empty input: this only bounds the loop).
const STALLS_MAX: u32 = 8;

impl<R: BufRead> ZstText<R> {
    fn new(reader: R, path: PathBuf) -> io::Result<ZstText<R>> {
        let decoder = zstd::stream::raw::Decoder::new()?;
        Ok(ZstText { reader, decoder, path, hint: 0, started: false, lines: 0, cut: false, done: false })
    }

    fn corrupt(&mut self, reason: String) -> io::Error {
        self.done = true;
        io::Error::new(
            io::ErrorKind::InvalidData,
            CorruptStream { path: self.path.clone(), line: self.lines, reason },
        )
    }

    /// One decode call on at most `take` bytes of input; returns bytes written to `buf`.
    fn decode(&mut self, take: usize, buf: &mut [u8]) -> io::Result<(usize, usize)> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let input = self.reader.fill_buf()?;
        let take = take.min(input.len());
        let mut src = InBuffer::around(&input[..take]);
        let mut dst = OutBuffer::around(buf);
        match self.decoder.run(&mut src, &mut dst) {
            Ok(hint) => {
                let (read, written) = (src.pos(), dst.pos());
                self.reader.consume(read);
                self.hint = hint;
                Ok((read, written))
            }
            Err(e) => Err(self.corrupt(e.to_string())),
        }
    }
}

impl<R: BufRead> Read for ZstText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let mut stalls = 0;
        loop {
            let available = self.reader.fill_buf()?.len();
            if available == 0 {
                // End of file. Between frames that is the end; within one, hand out what
                // the decoder still holds, and the stream was cut if its frame stays open.
                if self.started && self.hint == 0 {
                    self.done = true;
                    return Ok(0);
                }
                if self.started {
                    let (_, written) = self.decode(0, buf)?;
                    if written > 0 {
                        self.lines += buf[..written].iter().filter(|&&b| b == b'\n').count() as u64;
                        return Ok(written);
                    }
                }
                self.cut = !self.started || self.hint != 0;
                self.done = true;
                return Ok(0);
            }
            if self.hint == 0 && self.started {
                // A frame ended and more follows: the next frame starts afresh.
                zstd::stream::raw::Operation::reinit(&mut self.decoder)?;
            }
            self.started = true;
            let take = match self.hint {
                0 => BLOCK_HEADER_BYTES.max(1),
                h => h.saturating_sub(BLOCK_HEADER_BYTES).max(1),
            };
            let (read, written) = self.decode(take, buf)?;
            if written > 0 {
                self.lines += buf[..written].iter().filter(|&&b| b == b'\n').count() as u64;
                return Ok(written);
            }
            if read == 0 {
                stalls += 1;
                if stalls >= STALLS_MAX {
                    return Err(self.corrupt("the zstd decoder made no progress".to_string()));
                }
            }
        }
    }
}

/// The [`CorruptStream`] inside an error a [`HistoryReader`] returned, if that is what it is.
pub fn corrupt_stream(e: &io::Error) -> Option<&CorruptStream> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<CorruptStream>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A history of `n` lines, as the controller writes it: one frame, a flush after each
    /// `per_flush` lines (the writer's turns), finished unless `finish` is false.
    fn compressed(lines: &[String], per_flush: usize, finish: bool) -> Vec<u8> {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        enc.include_checksum(true).unwrap();
        for chunk in lines.chunks(per_flush) {
            for l in chunk {
                enc.write_all(l.as_bytes()).unwrap();
                enc.write_all(b"\n").unwrap();
            }
            enc.flush().unwrap();
        }
        if finish {
            enc.finish().unwrap()
        } else {
            enc.get_ref().clone()
        }
    }

    fn sample_lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{{\"type\":\"send\",\"t\":{},\"msg\":{i},\"src\":1,\"dest\":2,\"body\":{{\"type\":\"prepare\",\"instance\":{},\"ballot\":[1,3]}}}}",
                    i * 37,
                    i / 5
                )
            })
            .collect()
    }

    fn read_all(bytes: &[u8]) -> (Vec<u8>, io::Result<()>, bool) {
        let mut r = ZstText::new(bytes, PathBuf::from("runs/x/history.jsonl.zst")).unwrap();
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).map(drop);
        (out, res, r.cut)
    }

    #[test]
    fn a_finished_stream_reads_whole_and_not_cut() {
        let lines = sample_lines(500);
        let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (out, res, cut) = read_all(&compressed(&lines, 7, true));
        res.unwrap();
        assert!(!cut);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn concatenated_frames_read_as_one_text() {
        let lines = sample_lines(200);
        let mut bytes = compressed(&lines[..120], 9, true);
        bytes.extend(compressed(&lines[120..], 9, true));
        let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (out, res, cut) = read_all(&bytes);
        res.unwrap();
        assert!(!cut);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    /// Cut at every byte offset: the reader yields a prefix of the text that holds every
    /// line of every flush completed before the cut, never an error.
    #[test]
    fn a_cut_stream_yields_its_complete_lines_at_every_offset() {
        let lines = sample_lines(120);
        let per_flush = 10;
        let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
        // The stream's length after each flush: what a cut after it must recover.
        let mut ends = Vec::new();
        for k in 1..=lines.len().div_ceil(per_flush) {
            ends.push((compressed(&lines[..k * per_flush], per_flush, false).len(), k * per_flush));
        }
        let stream = compressed(&lines, per_flush, false);
        assert_eq!(stream.len(), ends.last().unwrap().0);
        for cut_at in 0..stream.len() {
            let (out, res, cut) = read_all(&stream[..cut_at]);
            assert!(res.is_ok(), "cut at {cut_at}: {res:?}");
            assert!(cut, "cut at {cut_at} is reported");
            let text = String::from_utf8(out).unwrap();
            assert!(want.starts_with(&text), "cut at {cut_at}: not a prefix");
            let flushed = ends.iter().filter(|(len, _)| *len <= cut_at).map(|(_, n)| *n).max().unwrap_or(0);
            let whole = text.bytes().filter(|&b| b == b'\n').count();
            assert!(whole >= flushed, "cut at {cut_at}: {whole} lines, {flushed} were flushed");
        }
        let (out, res, cut) = read_all(&stream);
        res.unwrap();
        assert!(cut, "an unfinished frame is cut even when every block is there");
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn garbage_after_a_valid_prefix_is_an_error_naming_the_file_and_line() {
        let lines = sample_lines(50);
        for finish in [true, false] {
            let mut bytes = compressed(&lines, 10, finish);
            bytes.extend_from_slice(b"this is not zstd at all, just text that landed here\n");
            let (out, res, _) = read_all(&bytes);
            let e = res.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let corrupt = corrupt_stream(&e).expect("a CorruptStream");
            let yielded = out.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(corrupt.line, yielded, "finish {finish}");
            assert_eq!(yielded, 50, "finish {finish}: every line before the garbage");
            let msg = e.to_string();
            let want = format!("runs/x/history.jsonl.zst: corrupt zstd stream after line {yielded}: ");
            assert!(msg.starts_with(&want), "{msg}");
        }
    }

    #[test]
    fn a_flipped_byte_mid_stream_is_an_error_not_a_panic() {
        let lines = sample_lines(300);
        let good = compressed(&lines, 25, true);
        let mut errors = 0;
        for at in (0..good.len()).step_by(7) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] ^= flip;
                let (_, res, _) = read_all(&bytes);
                if let Err(e) = res {
                    assert!(corrupt_stream(&e).is_some(), "{e}");
                    errors += 1;
                }
            }
        }
        // Literal bytes may flip into other text (the checker then rejects the line), but
        // headers and the checksum catch most flips.
        assert!(errors > 0);
    }

    #[test]
    fn formats_parse_and_name_their_files() {
        for f in [HistoryFormat::Jsonl, HistoryFormat::Zst] {
            assert_eq!(f.to_string().parse::<HistoryFormat>(), Ok(f));
            assert_eq!(HistoryFormat::of_path(Path::new(f.file_name())), f);
        }
        assert!("gz".parse::<HistoryFormat>().unwrap_err().contains("jsonl or zst"));
        assert_eq!(serde_json::to_string(&HistoryFormat::Zst).unwrap(), "\"zst\"");
    }
}
