//! A vigil-diag [`Pattern`] (the syntax `vigil tree` reads) as an ltree
//! condition. vigil's patterns follow PostgreSQL's lquery, so the pattern
//! prints back as the lquery itself; the two common shapes get the
//! operator that says the most: a plain path is `=`, `a.b.*` is `<@`
//! (descendant or equal). All of `=`, `<@` and `~` are served by the GiST
//! index on `path`.

use vigil_diag::Pattern;

/// The ltree condition for a pattern: an operator and its one parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LtreeFilter {
    /// `path = $1::ltree`: the pattern names one path.
    Equal(String),
    /// `path <@ $1::ltree`: the pattern is a path followed by `*`.
    Descendant(String),
    /// `path ~ $1::lquery`: anything else.
    Lquery(String),
}

impl LtreeFilter {
    /// The condition for `pattern`.
    pub fn of(pattern: &Pattern) -> LtreeFilter {
        if let Some(path) = pattern.as_literal() {
            return LtreeFilter::Equal(path.to_string());
        }
        let text = pattern.to_string();
        if let Some(prefix) = text.strip_suffix(".*") {
            if let Some(path) = Pattern::parse(prefix).ok().and_then(|p| p.as_literal()) {
                return LtreeFilter::Descendant(path.to_string());
            }
        }
        LtreeFilter::Lquery(text)
    }

    /// The SQL condition on `column`, its parameter being `$n`.
    pub fn sql(&self, column: &str, n: usize) -> String {
        match self {
            LtreeFilter::Equal(_) => format!("{column} = ${n}::text::ltree"),
            LtreeFilter::Descendant(_) => format!("{column} <@ ${n}::text::ltree"),
            LtreeFilter::Lquery(_) => format!("{column} ~ ${n}::text::lquery"),
        }
    }

    /// The parameter's text.
    pub fn param(&self) -> &str {
        match self {
            LtreeFilter::Equal(p) | LtreeFilter::Descendant(p) | LtreeFilter::Lquery(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(text: &str) -> LtreeFilter {
        LtreeFilter::of(&Pattern::parse(text).unwrap())
    }

    #[test]
    fn shapes_get_their_operator() {
        assert_eq!(filter("a.b"), LtreeFilter::Equal("a.b".into()));
        assert_eq!(filter("a.b.*"), LtreeFilter::Descendant("a.b".into()));
        assert_eq!(filter("a.*.c"), LtreeFilter::Lquery("a.*.c".into()));
        assert_eq!(filter("*"), LtreeFilter::Lquery("*".into()));
        assert_eq!(filter("a|b.*"), LtreeFilter::Lquery("a|b.*".into()));
        assert_eq!(
            filter("a.b.*").sql("path", 1),
            "path <@ $1::text::ltree".to_owned()
        );
    }
}
