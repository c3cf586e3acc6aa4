//! A bounded cache of open segment files, least recently used evicted.
//!
//! Why: a lookup runs inside the node's event loop, and on a lazy (FUSE) filesystem an
//! open(2) costs a round trip to the daemon. Lookups come in bursts (a `catchup` answer is up
//! to 64 of them) and hit the newest segments most, so keeping their files open saves nearly
//! every open. At most [`OPEN_FILES_MAX`] are kept, so the node's fds stay bounded however
//! many segments the archive grows; the cache is a short list scanned linearly, which at
//! this size costs less than one system call.
//!
//! Entries are keyed by sequence number. A sequence number names one file for the life of an
//! [`super::Archive`] (a flush never reuses one), so an entry is never stale while its
//! segment exists; one that goes away, or whose read failed (it may be restored), must be
//! [`OpenFiles::forget`]ten so that the next lookup opens the path again.

use std::fs::File;
use std::io;
use std::path::Path;

/// Segment files kept open at most.
pub const OPEN_FILES_MAX: usize = 64;

#[derive(Debug, Default)]
pub(super) struct OpenFiles {
    /// (seq, file, tick of its last use); at most [`OPEN_FILES_MAX`], seqs unique.
    files: Vec<(u64, File, u64)>,
    /// Rises with every use.
    tick: u64,
    /// open(2) calls made, over the cache's life.
    opened: u64,
}

impl OpenFiles {
    /// The open file of segment `seq` at `path`: from the cache, or opened now (evicting the
    /// least recently used file when the cache is full).
    pub(super) fn get(&mut self, seq: u64, path: &Path) -> io::Result<&File> {
        self.tick += 1;
        let k = match self.files.iter().position(|&(s, _, _)| s == seq) {
            Some(k) => k,
            None => {
                let file = File::open(path)?;
                self.opened += 1;
                if self.files.len() == OPEN_FILES_MAX {
                    let (oldest, _) = self
                        .files
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, &(_, _, used))| used)
                        .expect("the cache is full, so not empty");
                    self.files.swap_remove(oldest);
                }
                self.files.push((seq, file, 0));
                self.files.len() - 1
            }
        };
        assert!(self.files.len() <= OPEN_FILES_MAX, "the cache holds at most {OPEN_FILES_MAX} files");
        self.files[k].2 = self.tick;
        Ok(&self.files[k].1)
    }

    /// Closes segment `seq`'s file if it is open.
    pub(super) fn forget(&mut self, seq: u64) {
        if let Some(k) = self.files.iter().position(|&(s, _, _)| s == seq) {
            self.files.swap_remove(k);
        }
    }

    /// Files open now.
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    pub(super) fn opened(&self) -> u64 {
        self.opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch dir, removed when dropped: also when the test fails.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_least_recently_used_file_is_evicted_and_forget_closes() {
        let scratch = Scratch(std::env::temp_dir().join(format!("synod-open-files-{}", std::process::id())));
        let dir = &scratch.0;
        std::fs::create_dir_all(dir).unwrap();
        let path = |seq: u64| dir.join(format!("{seq}"));
        for seq in 0..=OPEN_FILES_MAX as u64 {
            std::fs::write(path(seq), b"x").unwrap();
        }
        let mut files = OpenFiles::default();
        for seq in 0..OPEN_FILES_MAX as u64 {
            files.get(seq, &path(seq)).unwrap();
        }
        assert_eq!((files.len(), files.opened()), (OPEN_FILES_MAX, OPEN_FILES_MAX as u64));
        files.get(0, &path(0)).unwrap(); // 0 is now the most recently used; 1 the least
        assert_eq!(files.opened(), OPEN_FILES_MAX as u64, "a cached file is not opened again");
        files.get(OPEN_FILES_MAX as u64, &path(OPEN_FILES_MAX as u64)).unwrap();
        assert_eq!((files.len(), files.opened()), (OPEN_FILES_MAX, OPEN_FILES_MAX as u64 + 1));
        files.get(0, &path(0)).unwrap();
        assert_eq!(files.opened(), OPEN_FILES_MAX as u64 + 1, "0 was kept");
        files.get(1, &path(1)).unwrap();
        assert_eq!(files.opened(), OPEN_FILES_MAX as u64 + 2, "1 was evicted, and is opened again");
        files.forget(1);
        files.forget(1_000);
        assert_eq!(files.len(), OPEN_FILES_MAX - 1);
        assert!(files.get(1_000, &path(1_000)).is_err(), "a missing file is an error");
        assert_eq!(files.len(), OPEN_FILES_MAX - 1, "and not cached");
    }
}
