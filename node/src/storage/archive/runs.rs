//! Which ids a segment holds, kept in memory so that a lookup opens only the segment that
//! holds its id.
//!
//! Why: a segment holds the decisions retired since the previous flush, mostly one dense run
//! plus stragglers decided late, so its [min, max] reaches far back and the ranges of many
//! segments overlap. Filtering by range alone made a lookup open and search dozens of
//! segments (issue 17, a 30 s run on a lazy filesystem with 100-150 segments per node). The
//! exact set, as maximal runs of consecutive ids, costs 16 bytes per run: a handful per
//! segment for the workload's dense ids, however many decisions it holds.
//!
//! A segment whose ids form more than [`RUNS_IN_MEMORY_MAX`] runs (sparse ids) keeps only its
//! [min, max] in memory: a coarse filter, as before runs existed, so a lookup in its range
//! searches it even for an id it lacks. That bounds the memory per segment at 64 KiB.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::codec::u64_at;
use super::ArchiveError;

/// Runs of one segment kept in memory at most; above, only its [min, max] (module docs).
pub const RUNS_IN_MEMORY_MAX: usize = 4096;
/// Bytes of one run on disk: [from: u64 LE][to: u64 LE].
pub(super) const RUN_BYTES: u64 = 16;
/// Runs read per `pread` while checking a segment's runs at open.
const RUNS_CHUNK: usize = 1024;

/// `ids` (sorted, unique) as maximal runs of consecutive ids, inclusive.
pub(super) fn runs_of(ids: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for id in ids {
        match runs.last_mut() {
            Some((_, to)) if to.checked_add(1) == Some(id) => *to = id,
            Some(&mut (_, to)) => {
                assert!(id > to, "ids are sorted and unique");
                runs.push((id, id));
            }
            None => runs.push((id, id)),
        }
    }
    runs
}

/// What the archive knows in memory of the ids of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ids {
    /// Exactly these ids: maximal runs (`from..=to`), sorted, with a gap between any two.
    Runs(Box<[(u64, u64)]>),
    /// Some of the ids within `min..=max`: more than [`RUNS_IN_MEMORY_MAX`] runs.
    Range { min: u64, max: u64 },
}

/// Whether a segment may hold an id, by what is in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holds {
    No,
    /// The runs hold it: the segment must. The index of the run.
    Yes(usize),
    /// A coarse segment whose range covers it: only the segment can say.
    Maybe,
}

impl Ids {
    /// Runs of a whole segment (`min` and `max` its ends), kept whole if few enough.
    pub(super) fn new(runs: Vec<(u64, u64)>, min: u64, max: u64) -> Ids {
        assert!(!runs.is_empty(), "a segment holds at least one id");
        assert_eq!((runs[0].0, runs[runs.len() - 1].1), (min, max), "the runs span the segment");
        if runs.len() > RUNS_IN_MEMORY_MAX {
            Ids::Range { min, max }
        } else {
            Ids::Runs(runs.into_boxed_slice())
        }
    }

    pub(super) fn holds(&self, id: u64) -> Holds {
        match self {
            Ids::Range { min, max } if (*min..=*max).contains(&id) => Holds::Maybe,
            Ids::Range { .. } => Holds::No,
            Ids::Runs(runs) => {
                // The first run ending at or after id: it holds id or none does.
                let k = runs.partition_point(|&(_, to)| to < id);
                match runs.get(k) {
                    Some(&(from, _)) if from <= id => Holds::Yes(k),
                    _ => Holds::No,
                }
            }
        }
    }

    /// How many ids the runs hold within `first..=last`, counting no further than `cap + 1`
    /// (a block holds at most `cap`). None for a coarse segment: it does not know.
    pub(super) fn count_within(&self, first: u64, last: u64, cap: u64) -> Option<u64> {
        let Ids::Runs(runs) = self else { return None };
        let mut count = 0u64;
        let start = runs.partition_point(|&(_, to)| to < first);
        for &(from, to) in runs[start..].iter().take_while(|&&(from, _)| from <= last) {
            count += to.min(last) - from.max(first) + 1;
            if count > cap {
                break;
            }
        }
        Some(count.min(cap + 1))
    }

    /// Runs kept in memory: 0 for a coarse segment.
    pub(super) fn runs_in_memory(&self) -> usize {
        match self {
            Ids::Runs(runs) => runs.len(),
            Ids::Range { .. } => 0,
        }
    }
}

/// What the footer says of a segment's runs section, to be checked against it.
pub(super) struct RunsSection {
    pub(super) offset: u64,
    pub(super) runs: u64,
    pub(super) crc: u32,
    pub(super) id_min: u64,
    pub(super) id_max: u64,
    pub(super) entries: u64,
}

/// Reads the runs section of the segment `file` (in bounded chunks) and checks it: its CRC
/// first (a flipped byte is reported as such, at the section's start), then that the runs
/// are maximal, sorted, within `id_min..=id_max` and reaching both, and hold `entries` ids.
pub(super) fn read_runs(file: &File, path: &Path, section: &RunsSection) -> Result<Ids, ArchiveError> {
    let io_err = |source| ArchiveError::Io { path: path.to_path_buf(), source };
    let corrupt = |offset: u64, why: String| ArchiveError::Corrupt { path: path.to_path_buf(), offset, why };
    let keep = section.runs <= RUNS_IN_MEMORY_MAX as u64;
    let mut kept = Vec::with_capacity(if keep { section.runs as usize } else { 0 });
    let mut hasher = crc32fast::Hasher::new();
    let mut chunk = vec![0u8; RUNS_CHUNK * RUN_BYTES as usize];
    let mut disorder: Option<(u64, String)> = None;
    let mut prev_to: Option<u64> = None;
    let mut ids = 0u64;
    let mut done = 0u64;
    while done < section.runs {
        let take = (section.runs - done).min(RUNS_CHUNK as u64);
        let bytes = &mut chunk[..(take * RUN_BYTES) as usize];
        let at = section.offset + done * RUN_BYTES;
        file.read_exact_at(bytes, at).map_err(io_err)?;
        hasher.update(bytes);
        for (k, run) in bytes.chunks_exact(RUN_BYTES as usize).enumerate() {
            let (from, to) = (u64_at(run, 0), u64_at(run, 8));
            let first = done == 0 && k == 0;
            if disorder.is_none() {
                let why = run_disorder(prev_to, from, to, first, section);
                disorder = why.map(|why| (at + k as u64 * RUN_BYTES, why));
            }
            // Saturating: a count past u64 is wrong anyway, and reported below.
            ids = ids.saturating_add((to.wrapping_sub(from)).saturating_add(1));
            prev_to = Some(to);
            if keep {
                kept.push((from, to));
            }
        }
        done += take;
    }
    let computed = hasher.finalize();
    if computed != section.crc {
        let why = format!("runs CRC32 mismatch: stored {:08x}, computed {computed:08x}", section.crc);
        return Err(corrupt(section.offset, why));
    }
    if let Some((offset, why)) = disorder {
        return Err(corrupt(offset, why));
    }
    if prev_to != Some(section.id_max) {
        let why =
            format!("the last run ends at {prev_to:?}, not at the segment's last id {}", section.id_max);
        return Err(corrupt(section.offset + (section.runs - 1) * RUN_BYTES, why));
    }
    if ids != section.entries {
        let why = format!("the runs hold {ids} ids, but the footer counts {} entries", section.entries);
        return Err(corrupt(section.offset, why));
    }
    Ok(if keep {
        Ids::new(kept, section.id_min, section.id_max)
    } else {
        Ids::Range { min: section.id_min, max: section.id_max }
    })
}

/// What is wrong with the run `from..=to` after one ending at `prev_to`, if anything.
fn run_disorder(prev_to: Option<u64>, from: u64, to: u64, first: bool, s: &RunsSection) -> Option<String> {
    if from > to {
        return Some(format!("run from {from} to {to}: backwards"));
    }
    if from < s.id_min || to > s.id_max {
        return Some(format!("run {from}..={to} outside the segment's ids {}..={}", s.id_min, s.id_max));
    }
    if first && from != s.id_min {
        return Some(format!("the first run starts at {from}, not at the segment's first id {}", s.id_min));
    }
    match prev_to {
        // Maximal runs leave a gap of at least one id between them.
        Some(prev) if prev.checked_add(1).is_none_or(|next| from <= next) => Some(format!(
            "run {from}..={to} does not follow the previous run (to {prev}) with a gap: runs must be sorted, disjoint and maximal"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_maximal_and_holds_finds_exactly_their_ids() {
        let ids = [0, 1, 2, 5, 7, 8, u64::MAX - 1, u64::MAX];
        let runs = runs_of(ids.iter().copied());
        assert_eq!(runs, [(0, 2), (5, 5), (7, 8), (u64::MAX - 1, u64::MAX)]);
        let exact = Ids::new(runs.clone(), 0, u64::MAX);
        for id in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1 << 40, u64::MAX - 2, u64::MAX - 1, u64::MAX] {
            let expected = ids.contains(&id);
            assert_eq!(matches!(exact.holds(id), Holds::Yes(_)), expected, "id {id}");
        }
        assert_eq!(exact.holds(7), Holds::Yes(2));
        assert_eq!(exact.count_within(1, 7, 64), Some(4));
        assert_eq!(exact.count_within(3, 4, 64), Some(0));
        assert_eq!(exact.count_within(0, u64::MAX, 64), Some(8));
        assert_eq!(exact.count_within(0, u64::MAX, 3), Some(4), "counting stops past the cap");
        assert_eq!(exact.runs_in_memory(), 4);
        assert!(runs_of(std::iter::empty()).is_empty());
    }

    #[test]
    fn above_the_cap_only_the_range_is_kept() {
        let max = 2 * RUNS_IN_MEMORY_MAX as u64;
        let runs = runs_of((0..=max).step_by(2));
        assert_eq!(runs.len(), RUNS_IN_MEMORY_MAX + 1);
        let coarse = Ids::new(runs, 0, max);
        assert_eq!(coarse, Ids::Range { min: 0, max });
        assert_eq!(
            (coarse.holds(1), coarse.holds(max), coarse.holds(max + 1)),
            (Holds::Maybe, Holds::Maybe, Holds::No)
        );
        assert_eq!((coarse.count_within(0, 10, 64), coarse.runs_in_memory()), (None, 0));
        let at_cap = Ids::new(runs_of((0..max).step_by(2)), 0, max - 2);
        assert_eq!(at_cap.runs_in_memory(), RUNS_IN_MEMORY_MAX);
    }
}
