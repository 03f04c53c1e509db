//! Units and the physical dimensions they measure.

use std::fmt;

/// What a quantity measures. Values of different dimensions never compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Dimension {
    /// Dimensionless: plain numbers and percentages (`0.5 == 50%`).
    Ratio,
    /// Time, in seconds.
    Time,
    /// Frequency, in hertz.
    Frequency,
    /// Data size, in bytes.
    DataSize,
    /// Length, in metres.
    Length,
    /// Plane angle, in radians.
    Angle,
}

impl Dimension {
    /// A lower-case name for messages (`time`, `frequency`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Ratio => "dimensionless number",
            Dimension::Time => "time",
            Dimension::Frequency => "frequency",
            Dimension::DataSize => "data size",
            Dimension::Length => "length",
            Dimension::Angle => "angle",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit a number can carry (`100Hz`, `0.5ms`, `4KiB`).
///
/// Units are case-sensitive (`MB` is not `mb`); see [`Unit::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// `ns`
    Nanosecond,
    /// `us`, also written `µs` or `μs`
    Microsecond,
    /// `ms`
    Millisecond,
    /// `s`
    Second,
    /// `min`
    Minute,
    /// `h`
    Hour,
    /// `Hz`
    Hertz,
    /// `kHz`
    Kilohertz,
    /// `MHz`
    Megahertz,
    /// `GHz`
    Gigahertz,
    /// `B`
    Byte,
    /// `KB` (1000 B)
    Kilobyte,
    /// `KiB` (1024 B)
    Kibibyte,
    /// `MB` (10⁶ B)
    Megabyte,
    /// `MiB` (2²⁰ B)
    Mebibyte,
    /// `GB` (10⁹ B)
    Gigabyte,
    /// `GiB` (2³⁰ B)
    Gibibyte,
    /// `mm`
    Millimetre,
    /// `cm`
    Centimetre,
    /// `m`
    Metre,
    /// `km`
    Kilometre,
    /// `rad`
    Radian,
    /// `deg`
    Degree,
    /// `%` (a ratio of 0.01)
    Percent,
}

/// One row per unit: the unit, its canonical symbol, dimension, factor to
/// the dimension's base unit, and its wire tag. Wire tags are part of the
/// capability encoding: never renumber, only append.
const TABLE: [(Unit, &str, Dimension, f64, u8); 24] = [
    (Unit::Nanosecond, "ns", Dimension::Time, 1e-9, 1),
    (Unit::Microsecond, "us", Dimension::Time, 1e-6, 2),
    (Unit::Millisecond, "ms", Dimension::Time, 1e-3, 3),
    (Unit::Second, "s", Dimension::Time, 1.0, 4),
    (Unit::Minute, "min", Dimension::Time, 60.0, 5),
    (Unit::Hour, "h", Dimension::Time, 3600.0, 6),
    (Unit::Hertz, "Hz", Dimension::Frequency, 1.0, 7),
    (Unit::Kilohertz, "kHz", Dimension::Frequency, 1e3, 8),
    (Unit::Megahertz, "MHz", Dimension::Frequency, 1e6, 9),
    (Unit::Gigahertz, "GHz", Dimension::Frequency, 1e9, 10),
    (Unit::Byte, "B", Dimension::DataSize, 1.0, 11),
    (Unit::Kilobyte, "KB", Dimension::DataSize, 1e3, 12),
    (Unit::Kibibyte, "KiB", Dimension::DataSize, 1024.0, 13),
    (Unit::Megabyte, "MB", Dimension::DataSize, 1e6, 14),
    (Unit::Mebibyte, "MiB", Dimension::DataSize, 1_048_576.0, 15),
    (Unit::Gigabyte, "GB", Dimension::DataSize, 1e9, 16),
    (
        Unit::Gibibyte,
        "GiB",
        Dimension::DataSize,
        1_073_741_824.0,
        17,
    ),
    (Unit::Millimetre, "mm", Dimension::Length, 1e-3, 18),
    (Unit::Centimetre, "cm", Dimension::Length, 1e-2, 19),
    (Unit::Metre, "m", Dimension::Length, 1.0, 20),
    (Unit::Kilometre, "km", Dimension::Length, 1e3, 21),
    (Unit::Radian, "rad", Dimension::Angle, 1.0, 22),
    (
        Unit::Degree,
        "deg",
        Dimension::Angle,
        std::f64::consts::PI / 180.0,
        23,
    ),
    (Unit::Percent, "%", Dimension::Ratio, 1e-2, 24),
];

impl Unit {
    /// Every unit, in table order.
    pub fn all() -> impl Iterator<Item = Unit> {
        TABLE.iter().map(|row| row.0)
    }

    fn row(self) -> &'static (Unit, &'static str, Dimension, f64, u8) {
        // The table lists every variant once, in declaration order.
        &TABLE[self as usize]
    }

    /// Parses a unit symbol exactly (case-sensitive). `µs` (micro sign) and
    /// `μs` (Greek mu) are accepted for `us`.
    pub fn parse(symbol: &str) -> Option<Unit> {
        match symbol {
            "µs" | "μs" => Some(Unit::Microsecond),
            _ => TABLE.iter().find(|row| row.1 == symbol).map(|row| row.0),
        }
    }

    /// The unit whose symbol matches `symbol` ignoring case, for "did you
    /// mean" hints (`hz` → `Hz`).
    pub fn suggest(symbol: &str) -> Option<Unit> {
        TABLE
            .iter()
            .find(|row| row.1.eq_ignore_ascii_case(symbol))
            .map(|row| row.0)
    }

    /// The canonical symbol (`us` for microseconds).
    pub fn symbol(self) -> &'static str {
        self.row().1
    }

    /// What the unit measures.
    pub fn dimension(self) -> Dimension {
        self.row().2
    }

    /// How many base units (s, Hz, B, m, rad, 1) one of this unit is.
    pub fn factor(self) -> f64 {
        self.row().3
    }

    /// The tag used in the capability wire encoding.
    pub fn wire_tag(self) -> u8 {
        self.row().4
    }

    /// The unit for a wire tag, `None` for a tag this version does not know.
    pub fn from_wire_tag(tag: u8) -> Option<Unit> {
        TABLE.iter().find(|row| row.4 == tag).map(|row| row.0)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The byte length of the unit symbol that starts `text`: letters, `%`, and
/// the micro signs. The caller decides whether it names a unit.
pub(crate) fn unit_len(text: &str) -> usize {
    text.char_indices()
        .find(|(_, c)| !(c.is_ascii_alphabetic() || matches!(c, '%' | 'µ' | 'μ')))
        .map_or(text.len(), |(i, _)| i)
}

/// The byte length of the number that starts `text` (`[+-]?digits[.digits][e[+-]digits]`,
/// or `.digits`), or `None` when `text` does not start with one.
pub(crate) fn number_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            i = j;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_declaration_order() {
        for (index, row) in TABLE.iter().enumerate() {
            assert_eq!(row.0 as usize, index, "{:?}", row.0);
            assert_eq!(Unit::from_wire_tag(row.4), Some(row.0));
            assert_eq!(Unit::parse(row.1), Some(row.0));
        }
    }

    #[test]
    fn micro_has_three_spellings() {
        for s in ["us", "µs", "μs"] {
            assert_eq!(Unit::parse(s), Some(Unit::Microsecond), "{s}");
        }
    }

    #[test]
    fn units_are_case_sensitive_with_hints() {
        assert_eq!(Unit::parse("hz"), None);
        assert_eq!(Unit::suggest("hz"), Some(Unit::Hertz));
        assert_eq!(Unit::parse("Mb"), None);
        assert_eq!(Unit::parse("MB"), Some(Unit::Megabyte));
    }

    #[test]
    fn number_prefixes() {
        assert_eq!(number_len("100Hz"), Some(3));
        assert_eq!(number_len("0.5ms"), Some(3));
        assert_eq!(number_len("-1.5e3x"), Some(6));
        assert_eq!(number_len(".5"), Some(2));
        assert_eq!(number_len("5e"), Some(1));
        assert_eq!(number_len("5."), Some(1));
        assert_eq!(number_len("-x"), None);
        assert_eq!(number_len("abc"), None);
        assert_eq!(unit_len("µs rest"), "µs".len());
        assert_eq!(unit_len("% x"), 1);
    }
}
