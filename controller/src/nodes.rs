//! Node lists on the command line: `1,2,3`, `n1,n2`, ranges `1-3` / `n1-n3`, or `all`.

use synod_node::paxos::NodeId;

/// Parses a node list against a cluster of `n` nodes.
pub fn parse_list(text: &str, n: u32) -> Result<Vec<NodeId>, String> {
    if text.trim() == "all" {
        return Ok((1..=n).collect());
    }
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (one(a, n)?, one(b, n)?),
            None => (one(part, n)?, one(part, n)?),
        };
        if lo > hi {
            return Err(format!("range {part:?} runs backwards"));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(format!("node list {text:?} names no node"));
    }
    Ok(out)
}

fn one(text: &str, n: u32) -> Result<NodeId, String> {
    let digits = text.trim().trim_start_matches('n');
    let id: NodeId = digits.parse().map_err(|_| format!("{text:?} is not a node (expected 3 or n3)"))?;
    if id == 0 || id > n {
        return Err(format!("node {text:?} is outside n1..n{n}"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::parse_list;

    #[test]
    fn lists_ranges_and_errors() {
        assert_eq!(parse_list("all", 3).unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_list("n3,1, 2", 5).unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_list("n2-n4", 5).unwrap(), vec![2, 3, 4]);
        assert!(parse_list("6", 5).unwrap_err().contains("outside n1..n5"));
        assert!(parse_list("x", 5).unwrap_err().contains("not a node"));
        assert!(parse_list("", 5).is_err());
    }
}
