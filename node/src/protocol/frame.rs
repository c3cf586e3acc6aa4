//! Splits a byte stream into newline-terminated frames of bounded size.
//!
//! The decoder never allocates more than `MAX_FRAME_BYTES` plus one read for a frame: a line
//! that grows past the limit is reported once as [`FrameError::TooLong`] and the rest of it is
//! skipped up to its newline, after which decoding resumes. It is sans-IO: the caller feeds
//! whatever bytes it read, so it works with any socket, file or test.
//!
//! Frames are handed out as slices of the decoder's buffer, and consumed bytes are dropped
//! only when the next read is fed: a read of hundreds of frames costs no copy and no
//! allocation per frame (the first version split the buffer at every frame, copying the rest
//! of the read each time; that was the controller's largest memmove).

/// The longest frame, newline excluded: 64 KiB.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame {frame} is longer than {max} bytes; skipped", max = MAX_FRAME_BYTES)]
    TooLong { frame: u64 },
}

#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf` (the bytes before it were handed out).
    start: usize,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    /// Inside an oversized frame: drop bytes until the next newline.
    skipping: bool,
    /// Frames seen so far (complete or skipped), for error messages.
    frames: u64,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Frames completed so far, oversized ones included.
    pub fn frames_seen(&self) -> u64 {
        self.frames
    }

    /// Appends bytes read from the stream (first dropping the frames already handed out).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // At most one partial frame is left to move.
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet form a frame.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame (without its newline), an oversized-frame error, or `None`
    /// when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        loop {
            let newline = self.buf[self.scanned..].iter().position(|&b| b == b'\n');
            match newline {
                Some(pos) => {
                    let (start, end) = (self.start, self.scanned + pos);
                    self.start = end + 1;
                    self.scanned = self.start;
                    if self.skipping {
                        self.skipping = false;
                        continue; // the tail of an oversized frame, already reported
                    }
                    self.frames += 1;
                    if end - start > MAX_FRAME_BYTES {
                        return Some(Err(FrameError::TooLong { frame: self.frames }));
                    }
                    return Some(Ok(&self.buf[start..end]));
                }
                None if self.skipping => {
                    self.buf.clear();
                    (self.start, self.scanned) = (0, 0);
                    return None;
                }
                None if self.buf.len() - self.start > MAX_FRAME_BYTES => {
                    self.buf.clear();
                    (self.start, self.scanned) = (0, 0);
                    self.skipping = true;
                    self.frames += 1;
                    return Some(Err(FrameError::TooLong { frame: self.frames }));
                }
                None => {
                    self.scanned = self.buf.len();
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut FrameDecoder) -> Vec<Result<Vec<u8>, FrameError>> {
        std::iter::from_fn(|| d.next_frame().map(|f| f.map(<[u8]>::to_vec))).collect()
    }

    #[test]
    fn splits_lines_across_reads() {
        let mut d = FrameDecoder::new();
        d.feed(b"ab");
        assert!(drain(&mut d).is_empty());
        d.feed(b"c\nde\n\nf");
        let frames = drain(&mut d);
        assert_eq!(frames, vec![Ok(b"abc".to_vec()), Ok(b"de".to_vec()), Ok(Vec::new())]);
        assert_eq!(d.pending_bytes(), 1);
        // The partial frame survives the next feed's compaction.
        d.feed(b"g\nh");
        assert_eq!(drain(&mut d), vec![Ok(b"fg".to_vec())]);
        assert_eq!((d.pending_bytes(), d.buf.len()), (1, 4), "only the last read is kept: \"fg\\nh\"");
    }

    #[test]
    fn oversized_frame_is_reported_once_and_skipped() {
        let mut d = FrameDecoder::new();
        let big = vec![b'x'; MAX_FRAME_BYTES + 10];
        for chunk in big.chunks(1000) {
            d.feed(chunk);
            for f in drain(&mut d) {
                assert_eq!(f, Err(FrameError::TooLong { frame: 1 }));
            }
            assert!(d.pending_bytes() <= MAX_FRAME_BYTES + 1000);
        }
        d.feed(b"xx\nok\n");
        assert_eq!(drain(&mut d), vec![Ok(b"ok".to_vec())]);
        assert_eq!(d.frames_seen(), 2);
    }

    #[test]
    fn a_frame_of_exactly_the_limit_passes() {
        let mut d = FrameDecoder::new();
        let mut line = vec![b'y'; MAX_FRAME_BYTES];
        line.push(b'\n');
        d.feed(&line);
        assert_eq!(drain(&mut d).len(), 1);
    }
}
