//! "Did you mean ...?": the closest known name to a misspelt one.

/// Edit distance counting insertions, deletions, substitutions and adjacent transpositions
/// (optimal string alignment), over bytes. Names in the schema are ASCII.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let width = b.len() + 1;
    // Three rows: two back (for transpositions), previous, current.
    let mut back2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(back2[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut back2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible misspelling
/// (at most 2 edits, or a third of the word's length for long words). Ties go to the first.
/// Comparison ignores ASCII case.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.len() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let d = distance(&word, &candidate.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("max_agnets", "max_agents"), 1);
        assert_eq!(distance("workres", "workers"), 1);
    }

    #[test]
    fn closest_picks_the_plausible_one() {
        let keys = ["max_agents", "auto_restart", "restart_strategy"];
        assert_eq!(closest("max_agnets", keys), Some("max_agents"));
        assert_eq!(closest("MAX_AGENTS", keys), Some("max_agents"));
        assert_eq!(closest("restart_stratgy", keys), Some("restart_strategy"));
        assert_eq!(closest("completely_else", keys), None);
    }

    proptest! {
        #[test]
        fn distance_is_a_symmetric_bounded_measure(a in "[a-z_]{0,12}", b in "[a-z_]{0,12}") {
            let d = distance(&a, &b);
            prop_assert_eq!(d, distance(&b, &a));
            prop_assert!(d <= a.len().max(b.len()));
            prop_assert!(d >= a.len().abs_diff(b.len()));
            prop_assert_eq!(d == 0, a == b);
        }
    }
}
