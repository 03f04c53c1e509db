//! Ltree-style dotted paths that address nodes of the diagnostic tree.
//!
//! A path is one or more labels joined by `.`, each label `[A-Za-z0-9_]+`
//! (PostgreSQL `ltree` before version 16). Ancestry follows ltree's `@>`:
//! a path is an ancestor of itself, so use [`Path::is_strict_ancestor_of`]
//! where that matters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A validated dotted path such as `vehicle.sensors.imu.a`.
///
/// Cheap to compare, hash and order (lexicographically by text, which keeps
/// a subtree together when sorted).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(Box<str>);

/// Why a piece of text is not a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PathError {
    /// The text was empty.
    #[error("empty path")]
    Empty,
    /// Two dots in a row, or a dot at either end.
    #[error("empty label at position {position} in path `{input}`")]
    EmptyLabel {
        /// The text that was parsed.
        input: String,
        /// 1-based index of the label.
        position: usize,
    },
    /// A label holds a character outside `[A-Za-z0-9_]`.
    #[error("invalid label `{label}` at position {position} in path `{input}`: character {bad:?} is not in [A-Za-z0-9_]")]
    InvalidLabel {
        /// The text that was parsed.
        input: String,
        /// The offending label.
        label: String,
        /// 1-based index of the label.
        position: usize,
        /// The first character that is not allowed.
        bad: char,
    },
}

/// True when `label` is a valid ltree label.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty() && label.bytes().all(is_label_byte)
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Path {
    /// Parses and validates `text`.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        for (index, label) in text.split('.').enumerate() {
            let position = index + 1;
            if label.is_empty() {
                return Err(PathError::EmptyLabel {
                    input: text.to_owned(),
                    position,
                });
            }
            if let Some(bad) = label
                .chars()
                .find(|c| !c.is_ascii() || !is_label_byte(*c as u8))
            {
                return Err(PathError::InvalidLabel {
                    input: text.to_owned(),
                    label: label.to_owned(),
                    position,
                    bad,
                });
            }
        }
        Ok(Path(text.into()))
    }

    /// The path as dotted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels, root first.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> + Clone + '_ {
        self.0.split('.')
    }

    /// Number of labels (ltree `nlevel`); at least 1.
    pub fn depth(&self) -> usize {
        self.0.bytes().filter(|b| *b == b'.').count() + 1
    }

    /// The last label.
    pub fn leaf_label(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or(&self.0)
    }

    /// The parent path, or `None` for a one-label path.
    pub fn parent(&self) -> Option<Path> {
        self.0.rfind('.').map(|dot| Path(self.0[..dot].into()))
    }

    /// Every strict ancestor, nearest first.
    pub fn ancestors(&self) -> impl Iterator<Item = Path> + '_ {
        self.0
            .rmatch_indices('.')
            .map(|(dot, _)| Path(self.0[..dot].into()))
    }

    /// This path with `label` appended.
    pub fn child(&self, label: &str) -> Result<Path, PathError> {
        Path::parse(&format!("{}.{}", self.0, label))
    }

    /// This path with every label of `suffix` appended.
    pub fn join(&self, suffix: &Path) -> Path {
        Path(format!("{}.{}", self.0, suffix.0).into())
    }

    /// ltree `@>`: true when `self` is `other` or one of its ancestors.
    pub fn is_ancestor_of(&self, other: &Path) -> bool {
        other.0.len() >= self.0.len()
            && other.0.starts_with(&*self.0)
            && (other.0.len() == self.0.len() || other.0.as_bytes()[self.0.len()] == b'.')
    }

    /// True when `self` is an ancestor of `other` and not `other` itself.
    pub fn is_strict_ancestor_of(&self, other: &Path) -> bool {
        self.0.len() < other.0.len() && self.is_ancestor_of(other)
    }

    /// ltree `<@`: true when `self` is `other` or one of its descendants.
    pub fn is_descendant_of(&self, other: &Path) -> bool {
        other.is_ancestor_of(self)
    }

    /// The labels of `self` below `ancestor`, or `None` when `ancestor` is not
    /// a strict ancestor of `self`.
    pub fn strip_prefix(&self, ancestor: &Path) -> Option<Path> {
        ancestor
            .is_strict_ancestor_of(self)
            .then(|| Path(self.0[ancestor.0.len() + 1..].into()))
    }

    /// Lowest common ancestor (ltree `lca`, except that a path is its own
    /// common ancestor): the longest path that is an ancestor of both, or
    /// `None` when their first labels differ.
    pub fn lca(&self, other: &Path) -> Option<Path> {
        let mut end = None;
        let mut offset = 0;
        for (a, b) in self.labels().zip(other.labels()) {
            if a != b {
                break;
            }
            offset += a.len();
            end = Some(offset);
            offset += 1; // the dot
        }
        end.map(|end| Path(self.0[..end].into()))
    }

    /// Lowest common ancestor of every path in `paths`; `None` for an empty
    /// slice or when the paths share no first label.
    pub fn lca_of<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Option<Path> {
        let mut paths = paths.into_iter();
        let first = paths.next()?.clone();
        paths.try_fold(first, |acc, p| acc.lca(p))
    }
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Path::parse(s)
    }
}

impl TryFrom<&str> for Path {
    type Error = PathError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Path::parse(s)
    }
}

impl AsRef<str> for Path {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self.0)
    }
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Path::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    #[test]
    fn parses_valid_paths() {
        for ok in ["a", "vehicle.sensors.imu.a", "A_1.b2.C_3", "_"] {
            assert_eq!(p(ok).as_str(), ok);
        }
    }

    #[test]
    fn rejects_invalid_paths_naming_label_and_position() {
        assert_eq!(Path::parse(""), Err(PathError::Empty));
        assert_eq!(
            Path::parse("a..b"),
            Err(PathError::EmptyLabel {
                input: "a..b".into(),
                position: 2
            })
        );
        assert_eq!(
            Path::parse("a."),
            Err(PathError::EmptyLabel {
                input: "a.".into(),
                position: 2
            })
        );
        let err = Path::parse("vehicle.Forearm Cam.x").unwrap_err();
        assert_eq!(
            err,
            PathError::InvalidLabel {
                input: "vehicle.Forearm Cam.x".into(),
                label: "Forearm Cam".into(),
                position: 2,
                bad: ' ',
            }
        );
        assert!(err.to_string().contains("`Forearm Cam` at position 2"));
        assert!(matches!(
            Path::parse("a.b-c"),
            Err(PathError::InvalidLabel { bad: '-', .. })
        ));
        assert!(matches!(
            Path::parse("a.µ"),
            Err(PathError::InvalidLabel { bad: 'µ', .. })
        ));
    }

    #[test]
    fn ancestry_respects_label_boundaries() {
        assert!(p("a.b").is_ancestor_of(&p("a.b")));
        assert!(p("a.b").is_ancestor_of(&p("a.b.c")));
        assert!(!p("a.b").is_ancestor_of(&p("a.bc")));
        assert!(!p("a.b").is_strict_ancestor_of(&p("a.b")));
        assert!(p("a.b.c").is_descendant_of(&p("a")));
        assert!(!p("a").is_descendant_of(&p("a.b")));
    }

    #[test]
    fn parent_ancestors_and_depth() {
        let path = p("a.b.c");
        assert_eq!(path.depth(), 3);
        assert_eq!(path.leaf_label(), "c");
        assert_eq!(path.parent(), Some(p("a.b")));
        assert_eq!(p("a").parent(), None);
        assert_eq!(path.ancestors().collect::<Vec<_>>(), vec![p("a.b"), p("a")]);
    }

    #[test]
    fn lowest_common_ancestor() {
        assert_eq!(p("a.b.c").lca(&p("a.b.d")), Some(p("a.b")));
        assert_eq!(p("a.b").lca(&p("a.b.c")), Some(p("a.b")));
        assert_eq!(p("a.bc").lca(&p("a.b")), Some(p("a")));
        assert_eq!(p("x").lca(&p("y")), None);
        assert_eq!(
            Path::lca_of(&[p("a.b.c"), p("a.b.d.e"), p("a.x")]),
            Some(p("a"))
        );
        assert_eq!(Path::lca_of(&[]), None);
    }

    #[test]
    fn strip_prefix_and_join_are_inverse() {
        let base = p("vehicle.power");
        let full = p("vehicle.power.bus_a.voltage");
        let rest = full.strip_prefix(&base).unwrap();
        assert_eq!(rest, p("bus_a.voltage"));
        assert_eq!(base.join(&rest), full);
        assert_eq!(full.strip_prefix(&full), None);
        assert_eq!(p("vehicle.powerx").strip_prefix(&base), None);
    }

    #[test]
    fn serde_validates() {
        let ok: Path = serde_json::from_str("\"a.b\"").unwrap();
        assert_eq!(ok, p("a.b"));
        assert!(serde_json::from_str::<Path>("\"a..b\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"a.b\"");
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-c]{1,2}"
    }

    fn path() -> impl Strategy<Value = Path> {
        prop::collection::vec(label(), 1..5).prop_map(|labels| p(&labels.join(".")))
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = Path::parse(&text);
        }

        #[test]
        fn display_round_trips(path in path()) {
            let text = format!("{path}");
            prop_assert_eq!(Path::parse(&text), Ok(path));
        }

        #[test]
        fn lca_is_a_common_ancestor_and_the_deepest(a in path(), b in path()) {
            match a.lca(&b) {
                Some(l) => {
                    prop_assert!(l.is_ancestor_of(&a) && l.is_ancestor_of(&b));
                    let deeper_common = a.labels().zip(b.labels()).nth(l.depth())
                        .map(|(x, y)| x == y).unwrap_or(false);
                    prop_assert!(!deeper_common);
                }
                None => prop_assert_ne!(a.labels().next(), b.labels().next()),
            }
        }
    }
}
