//! Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
//! Input", 2002), generic over what is shrunk and over the test: [`ddmin`] shrinks a list to
//! a smaller one that still fails, [`shrink_count`] a number.
//!
//! The test is the expensive part (a shrink's is a whole simulated run), so it says when the
//! budget is spent ([`Verdict::OutOfBudget`]) and the search stops there with the smallest
//! failing input found so far: a budget cut gives a smaller result, never a wrong one. The
//! input handed back always failed (or is the one given, which the caller knows fails).

/// What a test says of one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The candidate still fails (the failure is kept): the search moves to it.
    Fails,
    /// The candidate does not fail (or cannot be run).
    Passes,
    /// No test was made: the budget is spent. The search stops.
    OutOfBudget,
}

/// The ddmin algorithm: a sublist of `items` (in their order) for which `test` fails, given
/// that it fails for `items`. Tries the empty list first, then chunks and their complements,
/// halving the chunks when neither fails. With budget enough the result is 1-minimal: no
/// single item can be dropped from it.
pub fn ddmin<T: Clone>(items: Vec<T>, test: &mut dyn FnMut(&[T]) -> Verdict) -> Vec<T> {
    let mut current = items;
    if current.is_empty() {
        return current;
    }
    match test(&[]) {
        Verdict::Fails => return Vec::new(),
        Verdict::OutOfBudget => return current,
        Verdict::Passes => {}
    }
    let mut granularity = 2usize;
    // Each turn either shrinks `current` or doubles the granularity (up to its length): it
    // ends within len * (1 + log2 len) turns.
    let turns_max = current.len() * (2 + current.len().ilog2() as usize) + 2;
    for _ in 0..turns_max {
        if current.len() < 2 {
            break;
        }
        let n = granularity.min(current.len());
        let chunks = split(&current, n);
        let mut next = None;
        for chunk in &chunks {
            match test(chunk) {
                Verdict::Fails => {
                    next = Some((chunk.clone(), 2));
                    break;
                }
                Verdict::OutOfBudget => return current,
                Verdict::Passes => {}
            }
        }
        // With two chunks the complements are the chunks themselves, already tried.
        if next.is_none() && n > 2 {
            for i in 0..n {
                let complement: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                match test(&complement) {
                    Verdict::Fails => {
                        next = Some((complement, (n - 1).max(2)));
                        break;
                    }
                    Verdict::OutOfBudget => return current,
                    Verdict::Passes => {}
                }
            }
        }
        match next {
            Some((smaller, g)) => {
                assert!(smaller.len() < current.len(), "ddmin moves only to smaller lists");
                current = smaller;
                granularity = g;
            }
            None if n >= current.len() => break,
            None => granularity = (n * 2).min(current.len()),
        }
    }
    current
}

/// `items` cut into `n` contiguous chunks of nearly equal length (none empty, `n <= len`).
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    assert!(n >= 1 && n <= items.len());
    let (base, extra) = (items.len() / n, items.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(items[start..start + len].to_vec());
        start += len;
    }
    out
}

/// The smallest count from `min` to `current` for which `test` fails, given that it fails
/// for `current`: `min` first, then a bisection between the largest passing and the smallest
/// failing count found (which assumes, as a shrinker may, that failing is monotone; when it
/// is not, the result still fails).
pub fn shrink_count(current: u64, min: u64, test: &mut dyn FnMut(u64) -> Verdict) -> u64 {
    if current <= min {
        return current;
    }
    match test(min) {
        Verdict::Fails => return min,
        Verdict::OutOfBudget => return current,
        Verdict::Passes => {}
    }
    let (mut passes, mut fails) = (min, current);
    // At most 64 halvings of a u64 range.
    for _ in 0..64 {
        if fails - passes <= 1 {
            break;
        }
        let mid = passes + (fails - passes) / 2;
        match test(mid) {
            Verdict::Fails => fails = mid,
            Verdict::Passes => passes = mid,
            Verdict::OutOfBudget => break,
        }
    }
    fails
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test that fails when `needed` are all in the candidate, counting its calls.
    fn needs<'a>(needed: &'static [u32], calls: &'a mut u32) -> impl FnMut(&[u32]) -> Verdict + 'a {
        move |c: &[u32]| {
            *calls += 1;
            if needed.iter().all(|n| c.contains(n)) {
                Verdict::Fails
            } else {
                Verdict::Passes
            }
        }
    }

    #[test]
    fn ddmin_finds_the_items_the_failure_needs() {
        let items: Vec<u32> = (0..64).collect();
        for needed in [&[17u32][..], &[3, 60], &[0, 1, 2], &[5, 21, 40, 63]] {
            let mut calls = 0;
            let got = ddmin(items.clone(), &mut needs(needed, &mut calls));
            assert_eq!(got, needed, "needed {needed:?}");
            assert!(calls < 64 * 8, "{calls} tests for {needed:?}");
        }
    }

    #[test]
    fn ddmin_returns_empty_when_nothing_is_needed_and_keeps_order() {
        let mut calls = 0;
        assert_eq!(ddmin(vec![4, 2, 9], &mut needs(&[], &mut calls)), Vec::<u32>::new());
        assert_eq!(calls, 1, "the empty list is tried first");
        let mut calls = 0;
        assert_eq!(ddmin(vec![9, 4, 2, 7], &mut needs(&[2, 9], &mut calls)), vec![9, 2]);
    }

    /// A failure that needs either of two items: the result is 1-minimal (one of them).
    #[test]
    fn ddmin_result_is_one_minimal() {
        let items: Vec<u32> = (0..20).collect();
        let mut test =
            |c: &[u32]| if c.contains(&4) || c.contains(&15) { Verdict::Fails } else { Verdict::Passes };
        let got = ddmin(items, &mut test);
        assert_eq!(got.len(), 1);
        assert!(got == [4] || got == [15], "{got:?}");
    }

    #[test]
    fn ddmin_stops_at_the_budget_with_a_failing_list() {
        let items: Vec<u32> = (0..64).collect();
        let mut calls = 0;
        let mut test = |c: &[u32]| {
            calls += 1;
            if calls > 3 {
                Verdict::OutOfBudget
            } else if c.contains(&50) {
                Verdict::Fails
            } else {
                Verdict::Passes
            }
        };
        let got = ddmin(items, &mut test);
        // Empty passes, the first half passes, the second half (32..64) fails; then out.
        assert_eq!(got, (32..64).collect::<Vec<u32>>());
        assert_eq!(calls, 4);
    }

    #[test]
    fn shrink_count_bisects_to_the_threshold() {
        for threshold in [1u64, 2, 7, 100, 999, 1000] {
            let mut calls = 0;
            let mut test = |v: u64| {
                calls += 1;
                if v >= threshold {
                    Verdict::Fails
                } else {
                    Verdict::Passes
                }
            };
            assert_eq!(shrink_count(1000, 1, &mut test), threshold);
            assert!(calls <= 12, "{calls} tests for {threshold}");
        }
        let mut never = |_| -> Verdict { panic!("nothing to shrink") };
        assert_eq!(shrink_count(3, 3, &mut never), 3);
        let mut out = |_| Verdict::OutOfBudget;
        assert_eq!(shrink_count(40, 1, &mut out), 40);
    }

    #[test]
    fn split_covers_every_item_once() {
        let items: Vec<u32> = (0..10).collect();
        let chunks = split(&items, 3);
        assert_eq!(chunks, vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]);
        assert_eq!(split(&items, 10).len(), 10);
    }
}
