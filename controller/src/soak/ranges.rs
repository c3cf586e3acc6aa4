//! Run numbers folded into ranges for the soak's and the merge's tables.

/// Run numbers in order as `runs 1-3, 5, 7-9`.
pub fn ranges(indices: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut k = 0;
    while k < indices.len() {
        let start = indices[k];
        let mut end = start;
        while k + 1 < indices.len() && indices[k + 1] == end + 1 {
            k += 1;
            end = indices[k];
        }
        parts.push(if end == start { start.to_string() } else { format!("{start}-{end}") });
        k += 1;
    }
    let noun = if indices.len() == 1 { "run" } else { "runs" };
    format!("{noun} {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn run_numbers_fold_into_ranges() {
        assert_eq!(ranges(&[4]), "run 4");
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8, 9]), "runs 1-3, 5, 7-9");
        assert_eq!(ranges(&[2, 4]), "runs 2, 4");
    }
}
