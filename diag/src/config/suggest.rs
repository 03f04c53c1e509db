//! Did-you-mean for unknown keys and names, and long user text clipped
//! for messages.

use std::borrow::Cow;

/// Long user text clipped for messages.
pub fn shorten(text: &str) -> Cow<'_, str> {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]).into(),
        None => text.into(),
    }
}

/// The candidate closest to `word` when it is close enough to be a typo.
pub fn did_you_mean(word: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    // A truncated key (`stale` for `stale_after`) is as likely a slip as a typo.
    let truncated = |c: &str| lower.len() >= 3 && c.starts_with(&lower);
    candidates
        .iter()
        .map(|c| {
            (
                if truncated(c) {
                    1
                } else {
                    edit_distance(&lower, c)
                },
                *c,
            )
        })
        .filter(|(d, c)| *d <= (c.len() / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit (optimal string
/// alignment), since `wrost` for `worst` is the commonest slip. Inputs are
/// short keys; long ones are cut first so the quadratic cost never matters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = &["check", "rule", "mount", "criticality"];
        assert_eq!(did_you_mean("chek", keys), Some("check"));
        assert_eq!(did_you_mean("Rule", keys), Some("rule"));
        assert_eq!(did_you_mean("criticallity", keys), Some("criticality"));
        assert_eq!(did_you_mean("banana", keys), None);
        assert_eq!(did_you_mean("wrost", &["worst", "any"]), Some("worst"));
        assert_eq!(did_you_mean("stale", &["stale_after"]), Some("stale_after"));
    }
}
