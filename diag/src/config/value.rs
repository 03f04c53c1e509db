//! What a value can be read as: [`FromYaml`] for text, numbers, booleans,
//! durations and rates with their units, and names from a fixed set
//! ([`Named`]).

use std::time::Duration;

use super::{did_you_mean, one_of, shorten, Node, ProblemKind};

/// A type a YAML value can be read as. The error says what is wrong; the
/// reader records it at the value's line.
pub trait FromYaml: Sized {
    /// Reads `node`.
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind>;
}

fn wrong(node: &Node<'_>, expected: &str) -> ProblemKind {
    ProblemKind::WrongType {
        key: node.name().to_owned(),
        expected: expected.to_owned(),
        found: node.describe(),
    }
}

fn bad(node: &Node<'_>, text: &str, why: impl Into<String>) -> ProblemKind {
    ProblemKind::BadValue {
        key: node.name().to_owned(),
        text: shorten(text).into_owned(),
        why: why.into(),
    }
}

/// Text as written (a number or boolean too), trimmed; never empty.
impl FromYaml for String {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        match node.text().map(str::trim) {
            Some(text) if !text.is_empty() && !node.is_null() => Ok(text.to_owned()),
            _ => Err(wrong(node, "text")),
        }
    }
}

impl FromYaml for bool {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        node.boolean()
            .ok_or_else(|| wrong(node, "`true` or `false`"))
    }
}

/// A finite number.
impl FromYaml for f64 {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        node.number().ok_or_else(|| wrong(node, "a number"))
    }
}

macro_rules! whole {
    ($($t:ty),*) => {$(
        impl FromYaml for $t {
            fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
                node.unsigned()
                    .and_then(|n| <$t>::try_from(n).ok())
                    .ok_or_else(|| wrong(node, "a whole number"))
            }
        }
    )*};
}
whole!(u32, u64, usize);

/// The units a duration may take, with their length in seconds.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6), // U+00B5 MICRO SIGN
    ("μs", 1e-6), // U+03BC GREEK SMALL LETTER MU, what many keyboards give
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
];

const DURATION_HINT: &str =
    "a duration is a number with a unit: ns, us, µs, ms, s, min or h (e.g. `100ms`)";

/// Splits `12.5 ms` into the number and the unit.
fn split_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    (&text[..split], text[split..].trim_start())
}

/// Parses a duration with its unit: `100ms`, `2 s`, `1.5min`; `Err` says
/// what is wrong. A bare number is refused: `timeout: 100` could be
/// seconds or milliseconds, and guessing wrong turns a heartbeat check into
/// nonsense.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    let (number, unit) = split_unit(text);
    if number.is_empty() {
        return Err(if text.trim().starts_with('-') {
            "durations cannot be negative"
        } else {
            DURATION_HINT
        });
    }
    if unit.is_empty() {
        return Err(
            "missing unit: a duration needs one of ns, us, µs, ms, s, min or h (e.g. `100ms`)",
        );
    }
    let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err("unknown unit: expected ns, us, µs, ms, s, min or h");
    };
    let value: f64 = number.parse().map_err(|_| DURATION_HINT)?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| "duration out of range")
}

/// A duration with its unit (`100ms`); zero is allowed, negative is not.
impl FromYaml for Duration {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        let text = node
            .text()
            .filter(|_| !node.is_null())
            .ok_or_else(|| wrong(node, "a duration such as `100ms`"))?;
        parse_duration(text).map_err(|why| bad(node, text, why))
    }
}

/// A rate in hertz, written with its unit: `50Hz`, `2.5 kHz`, `0Hz`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Hertz(pub f64);

impl FromYaml for Hertz {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        let text = node
            .text()
            .filter(|_| !node.is_null())
            .ok_or_else(|| wrong(node, "a rate such as `50Hz`"))?;
        let (number, unit) = split_unit(text);
        let scale = match unit {
            "Hz" => 1.0,
            "kHz" => 1e3,
            "MHz" => 1e6,
            "" => {
                return Err(bad(
                    node,
                    text,
                    "missing unit: a rate needs Hz (e.g. `50Hz`)",
                ))
            }
            _ if text.trim().starts_with('-') => {
                return Err(bad(node, text, "rates cannot be negative"))
            }
            _ => {
                return Err(bad(
                    node,
                    text,
                    "expected a rate such as `50Hz` (units: Hz, kHz, MHz)",
                ))
            }
        };
        match number.parse::<f64>() {
            Ok(n) if (n * scale).is_finite() => Ok(Hertz(n * scale)),
            _ => Err(bad(node, text, "expected a rate such as `50Hz`")),
        }
    }
}

/// A type read from one of a fixed set of names (`one_for_one`, `peer`):
/// an unknown name is reported with the closest one.
pub trait Named: Sized + Copy + 'static {
    /// What the names are (`mode`, `strategy`), for messages.
    const WHAT: &'static str;
    /// Each name and its value.
    const NAMES: &'static [(&'static str, Self)];
}

impl<T: Named> FromYaml for T {
    fn from_yaml(node: &Node<'_>) -> Result<Self, ProblemKind> {
        let names: Vec<&'static str> = T::NAMES.iter().map(|(n, _)| *n).collect();
        let Some(text) = node.text().filter(|_| !node.is_null()) else {
            return Err(wrong(node, &one_of(&names)));
        };
        T::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, value)| *value)
            .ok_or_else(|| ProblemKind::UnknownName {
                what: T::WHAT.to_owned(),
                name: shorten(text).into_owned(),
                expected: one_of(&names),
                suggestion: did_you_mean(text, &names),
            })
    }
}
