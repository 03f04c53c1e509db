//! lquery-style path patterns (PostgreSQL semantics).
//!
//! A [`Pattern`] is a dot-separated list of items, each matching some number
//! of consecutive labels of a [`Path`]; the whole path must be consumed, as
//! with PostgreSQL's `ltree ~ lquery`. Items, as in PostgreSQL 13 and later:
//!
//! | item | matches |
//! | --- | --- |
//! | `imu` | exactly the label `imu` |
//! | `*` | any number of labels, zero included |
//! | `*{n}`, `*{n,}`, `*{n,m}`, `*{,m}` | that many labels of any kind |
//! | `imu\|gps` | one label that is `imu` or `gps` |
//! | `!imu\|gps` | one label that is neither `imu` nor `gps` |
//! | `eng*` | one label starting with `eng` |
//! | `IMU@` | one label equal to `imu` ignoring ASCII case |
//! | `foo_bar%` | one label containing the `_`-separated words `foo` and `bar` |
//! | `a{n,m}`, `!a{n,m}`, ... | `n` to `m` labels, each matching the item |
//!
//! Modifiers combine (`sport*@` is a case-insensitive prefix). Like
//! PostgreSQL, `%` asks that every word of the item equal some word of the
//! label, in any order (`%*` relaxes "equal" to "is a prefix of").
//! Unlike PostgreSQL 16, labels do not take `-` (vigil paths never hold it).
//!
//! Matching is a dynamic program over (item, label position): its cost is
//! `items × labels²` at worst however many `*` the pattern holds, so
//! `*.*.*.*.x` cannot blow up the way a backtracking matcher does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::path::Path;

/// PostgreSQL's bound for quantifiers (`LTREE_MAX_LEVELS`).
const MAX_REPEAT: u32 = 65_535;

/// A parsed lquery pattern such as `vehicle.*.imu|gps` or `*.power.*{1,2}`.
///
/// Parse once with [`Pattern::parse`], then [`Pattern::matches`] any number
/// of paths; matching does not allocate for paths under 64 labels.
/// `Display` prints a pattern that parses back to the same value.
///
/// ```
/// use vigil_diag::{Path, Pattern};
///
/// let imus = Pattern::parse("vehicle.*.imu").unwrap();
/// assert!(imus.matches(&Path::parse("vehicle.sensors.imu").unwrap()));
/// assert!(!imus.matches(&Path::parse("vehicle.sensors.gps").unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    items: Vec<Item>,
}

/// One dot-separated item and how many labels it takes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Item {
    kind: ItemKind,
    min: u32,
    /// `None`: no upper bound.
    max: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ItemKind {
    /// `*`: any label.
    Any,
    /// Alternatives; with `negated`, a label none of them matches.
    Labels {
        negated: bool,
        variants: Vec<Variant>,
    },
}

/// One alternative of a label item, with its modifiers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Variant {
    text: Box<str>,
    /// `@`
    case_insensitive: bool,
    /// `*` after the text
    prefix: bool,
    /// `%`
    words: bool,
}

/// Why a piece of text is not a [`Pattern`]: which item, where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid pattern `{input}`: item {item} `{text}` at column {column}: {kind}")]
#[non_exhaustive]
pub struct PatternError {
    /// The whole text that was parsed.
    pub input: String,
    /// 1-based index of the bad item.
    pub item: usize,
    /// The bad item's text.
    pub text: String,
    /// 1-based column (in characters) of the offending character in `input`.
    pub column: usize,
    /// What is wrong.
    pub kind: PatternErrorKind,
}

/// What is wrong with a pattern item.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern is empty.
    #[error("empty pattern")]
    Empty,
    /// Two dots in a row, or a dot at either end.
    #[error("empty item")]
    EmptyItem,
    /// A `|` or `!` with no label after it.
    #[error("empty alternative")]
    EmptyAlternative,
    /// A character that has no place here.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// `*` takes no modifiers and cannot be negated or combined.
    #[error("`*` stands alone: it takes only a quantifier such as `*{{1,2}}`")]
    StarCombined,
    /// A `{...}` that is not `{n}`, `{n,}`, `{,m}`, `{n,m}` or `{,}`.
    #[error("malformed quantifier: expected {{n}}, {{n,}}, {{,m}} or {{n,m}}")]
    BadQuantifier,
    /// A bound above 65535.
    #[error("quantifier bound {0} is above 65535")]
    QuantifierTooLarge(u64),
    /// `{n,m}` with `n > m`.
    #[error("quantifier lower bound {min} exceeds upper bound {max}")]
    QuantifierReversed {
        /// The lower bound.
        min: u32,
        /// The upper bound.
        max: u32,
    },
}

impl Pattern {
    /// Parses `text` as an lquery.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.is_empty() {
            return Err(PatternError {
                input: String::new(),
                item: 1,
                text: String::new(),
                column: 1,
                kind: PatternErrorKind::Empty,
            });
        }
        let mut items = Vec::new();
        let mut start = 0;
        for (index, item_text) in text.split('.').enumerate() {
            let item = parse_item(item_text).map_err(|(offset, kind)| PatternError {
                input: text.to_owned(),
                item: index + 1,
                text: item_text.to_owned(),
                column: text[..start + offset].chars().count() + 1,
                kind,
            })?;
            items.push(item);
            start += item_text.len() + 1;
        }
        Ok(Pattern { items })
    }

    /// The pattern that matches exactly `path`.
    pub fn literal(path: &Path) -> Pattern {
        let items = path
            .labels()
            .map(|label| Item {
                kind: ItemKind::Labels {
                    negated: false,
                    variants: vec![Variant {
                        text: label.into(),
                        case_insensitive: false,
                        prefix: false,
                        words: false,
                    }],
                },
                min: 1,
                max: Some(1),
            })
            .collect();
        Pattern { items }
    }

    /// The path this pattern matches when it matches exactly one path
    /// (only plain labels, no modifiers, no quantifiers), else `None`.
    /// Lets callers turn a lookup into a direct one.
    pub fn as_literal(&self) -> Option<Path> {
        let mut text = String::new();
        for item in &self.items {
            let ItemKind::Labels {
                negated: false,
                variants,
            } = &item.kind
            else {
                return None;
            };
            let [v] = variants.as_slice() else {
                return None;
            };
            if item.min != 1 || item.max != Some(1) || v.case_insensitive || v.prefix || v.words {
                return None;
            }
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(&v.text);
        }
        Path::parse(&text).ok()
    }

    /// ltree `path ~ pattern`: true when the whole path matches.
    pub fn matches(&self, path: &Path) -> bool {
        let depth = path.depth();
        if depth < 64 {
            self.matches_small(path, depth)
        } else {
            self.matches_large(path)
        }
    }

    /// Bit-parallel DP: bit `p` of `reach` is set when the items so far can
    /// consume exactly the first `p` labels. Needs `depth + 1 <= 64` bits.
    fn matches_small(&self, path: &Path, depth: usize) -> bool {
        let all = (1u64 << depth) - 1; // bit p: label p exists
        let mut reach = 1u64;
        for item in &self.items {
            let fits = match &item.kind {
                ItemKind::Any => all,
                kind => path
                    .labels()
                    .enumerate()
                    .filter(|(_, label)| kind_matches(kind, label))
                    .fold(0u64, |mask, (p, _)| mask | 1 << p),
            };
            let mut next = 0u64;
            let mut frontier = reach;
            let mut taken = 0u32;
            loop {
                if taken >= item.min {
                    next |= frontier;
                }
                if frontier == 0 || Some(taken) == item.max || taken as usize >= depth {
                    break;
                }
                // Advance every position whose next label fits the item.
                frontier = (frontier & fits) << 1;
                taken += 1;
            }
            reach = next;
            if reach == 0 {
                return false;
            }
        }
        reach & (1u64 << depth) != 0
    }

    /// The same DP with a vector, for paths of 64 labels or more.
    fn matches_large(&self, path: &Path) -> bool {
        let labels: Vec<&str> = path.labels().collect();
        let n = labels.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for item in &self.items {
            let fits: Vec<bool> = labels
                .iter()
                .map(|label| kind_matches(&item.kind, label))
                .collect();
            let mut next = vec![false; n + 1];
            for start in (0..=n).filter(|&p| reach[p]) {
                let mut taken = 0u32;
                let mut at = start;
                loop {
                    if taken >= item.min {
                        next[at] = true;
                    }
                    if Some(taken) == item.max || at == n || !fits[at] {
                        break;
                    }
                    at += 1;
                    taken += 1;
                }
            }
            reach = next;
        }
        reach[n]
    }
}

fn kind_matches(kind: &ItemKind, label: &str) -> bool {
    match kind {
        ItemKind::Any => true,
        ItemKind::Labels { negated, variants } => {
            variants.iter().any(|v| v.matches(label)) != *negated
        }
    }
}

impl Variant {
    /// PostgreSQL's `checkLevel` for one variant.
    fn matches(&self, label: &str) -> bool {
        if self.words {
            // compare_subnode: every word of the item equals (or, with `*`,
            // prefixes) some word of the label, in any order.
            words(&self.text).all(|want| words(label).any(|have| self.fits(want, have)))
        } else {
            self.fits(&self.text, label)
        }
    }

    fn fits(&self, want: &str, have: &str) -> bool {
        let long_enough = have.len() == want.len() || (self.prefix && have.len() > want.len());
        long_enough && {
            let head = &have.as_bytes()[..want.len()];
            if self.case_insensitive {
                head.eq_ignore_ascii_case(want.as_bytes())
            } else {
                head == want.as_bytes()
            }
        }
    }
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split('_').filter(|w| !w.is_empty())
}

/// Parses one item; on error returns the byte offset in `text` of the
/// offending character and what is wrong.
fn parse_item(text: &str) -> Result<Item, (usize, PatternErrorKind)> {
    if text.is_empty() {
        return Err((0, PatternErrorKind::EmptyItem));
    }
    let bytes = text.as_bytes();
    if bytes[0] == b'*' {
        let (min, max) = match &text[1..] {
            "" => (0, None),
            rest if rest.starts_with('{') => parse_quantifier(rest).map_err(|(o, k)| (o + 1, k))?,
            _ => return Err((1, PatternErrorKind::StarCombined)),
        };
        return Ok(Item {
            kind: ItemKind::Any,
            min,
            max,
        });
    }
    let mut pos = 0;
    let negated = bytes[0] == b'!';
    if negated {
        pos = 1;
    }
    let mut variants = Vec::new();
    loop {
        let begin = pos;
        while pos < bytes.len() && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'_') {
            pos += 1;
        }
        if pos == begin {
            return Err(match text[pos..].chars().next() {
                None => (pos, PatternErrorKind::EmptyAlternative),
                Some('|') => (pos, PatternErrorKind::EmptyAlternative),
                Some('*') => (pos, PatternErrorKind::StarCombined),
                Some(c) => (pos, PatternErrorKind::UnexpectedChar(c)),
            });
        }
        let mut variant = Variant {
            text: text[begin..pos].into(),
            case_insensitive: false,
            prefix: false,
            words: false,
        };
        // Repeated modifiers are accepted, as PostgreSQL does (`q%@*%@*`).
        while pos < bytes.len() {
            match bytes[pos] {
                b'@' => variant.case_insensitive = true,
                b'*' => variant.prefix = true,
                b'%' => variant.words = true,
                _ => break,
            }
            pos += 1;
        }
        variants.push(variant);
        match text[pos..].chars().next() {
            None => {
                return Ok(Item {
                    kind: ItemKind::Labels { negated, variants },
                    min: 1,
                    max: Some(1),
                })
            }
            Some('|') => pos += 1,
            Some('{') => {
                let (min, max) = parse_quantifier(&text[pos..]).map_err(|(o, k)| (o + pos, k))?;
                return Ok(Item {
                    kind: ItemKind::Labels { negated, variants },
                    min,
                    max,
                });
            }
            Some(c) => return Err((pos, PatternErrorKind::UnexpectedChar(c))),
        }
    }
}

/// Parses `{n}`, `{n,}`, `{,m}`, `{n,m}` or `{,}`, which must end `text`.
fn parse_quantifier(text: &str) -> Result<(u32, Option<u32>), (usize, PatternErrorKind)> {
    let bad = |offset| (offset, PatternErrorKind::BadQuantifier);
    let Some(close) = text.find('}') else {
        return Err(bad(text.len()));
    };
    if close + 1 != text.len() {
        return Err(bad(close + 1));
    }
    let body = &text[1..close];
    let number = |part: &str, offset: usize| -> Result<Option<u32>, (usize, PatternErrorKind)> {
        if part.is_empty() {
            return Ok(None);
        }
        if let Some(i) = part.find(|c: char| !c.is_ascii_digit()) {
            return Err(bad(offset + i));
        }
        // Saturate: any overflow is too large anyway.
        let value = part.bytes().fold(0u64, |acc, d| {
            acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        if value > u64::from(MAX_REPEAT) {
            return Err((offset, PatternErrorKind::QuantifierTooLarge(value)));
        }
        Ok(Some(value as u32))
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body, 1)?.ok_or_else(|| bad(1))?;
            (n, Some(n))
        }
        Some((low, high)) => (number(low, 1)?.unwrap_or(0), number(high, 2 + low.len())?),
    };
    if let Some(max) = max {
        if min > max {
            return Err((1, PatternErrorKind::QuantifierReversed { min, max }));
        }
    }
    Ok((min, max))
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ItemKind::Any => {
                f.write_str("*")?;
                if (self.min, self.max) == (0, None) {
                    return Ok(());
                }
            }
            ItemKind::Labels { negated, variants } => {
                if *negated {
                    f.write_str("!")?;
                }
                for (i, v) in variants.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    f.write_str(&v.text)?;
                    // PostgreSQL's lquery_out order.
                    if v.case_insensitive {
                        f.write_str("@")?;
                    }
                    if v.prefix {
                        f.write_str("*")?;
                    }
                    if v.words {
                        f.write_str("%")?;
                    }
                }
                if (self.min, self.max) == (1, Some(1)) {
                    return Ok(());
                }
            }
        }
        match (self.min, self.max) {
            (n, Some(m)) if n == m => write!(f, "{{{n}}}"),
            (0, Some(m)) => write!(f, "{{,{m}}}"),
            (n, Some(m)) => write!(f, "{{{n},{m}}}"),
            (0, None) => f.write_str("{,}"),
            (n, None) => write!(f, "{{{n},}}"),
        }
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::parse(s)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Pattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
