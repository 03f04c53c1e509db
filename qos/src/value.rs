//! Typed values: numbers with units, strings, booleans and health states.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use vigil_diag::State;

use crate::unit::{number_len, unit_len, Dimension, Unit};

/// Relative tolerance for equality after unit conversion, so that
/// `1.1ms == 1100us` although the two scale to different last bits.
const RELATIVE_EPSILON: f64 = 1e-9;

/// A finite number with an optional unit, as written (`0.1kHz` keeps its
/// `kHz`); comparisons convert to the dimension's base unit.
///
/// Equality and order are by magnitude within one dimension
/// (`100Hz == 0.1kHz`, up to a relative 1e-9); quantities of different
/// dimensions are neither equal nor ordered (use [`Quantity::compare`] to
/// learn why).
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    value: f64,
    unit: Option<Unit>,
}

/// Two quantities of different dimensions were compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("dimension mismatch: {left} compared with {right}")]
pub struct DimensionMismatch {
    /// The dimension of the left side.
    pub left: Dimension,
    /// The dimension of the right side.
    pub right: Dimension,
}

/// Why text or a number is not a [`Value`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The number is NaN or infinite.
    #[error("number `{input}` is not finite")]
    NotFinite {
        /// The offending text (or number).
        input: String,
    },
    /// The number carries a unit this version does not know.
    #[error("unknown unit `{unit}` in `{input}`{hint}")]
    UnknownUnit {
        /// The whole text.
        input: String,
        /// The unit as written.
        unit: String,
        /// A "did you mean" hint, or empty.
        hint: String,
    },
    /// Text that should be a number is not one.
    #[error("`{input}` is not a number with an optional unit")]
    NotANumber {
        /// The offending text.
        input: String,
    },
}

impl Quantity {
    /// A quantity; fails when `value` is NaN or infinite.
    pub fn new(value: f64, unit: Option<Unit>) -> Result<Quantity, ValueError> {
        if value.is_finite() {
            Ok(Quantity { value, unit })
        } else {
            Err(ValueError::NotFinite {
                input: value.to_string(),
            })
        }
    }

    /// The number as written, in [`Quantity::unit`].
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The unit as written; `None` for a plain number.
    pub fn unit(&self) -> Option<Unit> {
        self.unit
    }

    /// What it measures; plain numbers are [`Dimension::Ratio`].
    pub fn dimension(&self) -> Dimension {
        self.unit.map_or(Dimension::Ratio, Unit::dimension)
    }

    /// The magnitude in the dimension's base unit (s, Hz, B, m, rad, 1).
    pub fn base(&self) -> f64 {
        self.unit.map_or(self.value, |u| self.value * u.factor())
    }

    /// The same quantity multiplied by `factor`, keeping its unit; fails when
    /// the result is not finite.
    pub fn scaled(&self, factor: f64) -> Result<Quantity, ValueError> {
        Quantity::new(self.value * factor, self.unit)
    }

    /// Compares magnitudes; equal within a relative 1e-9.
    pub fn compare(&self, other: &Quantity) -> Result<Ordering, DimensionMismatch> {
        let (left, right) = (self.dimension(), other.dimension());
        if left != right {
            return Err(DimensionMismatch { left, right });
        }
        Ok(compare_base(self.base(), other.base()))
    }

    /// Parses `100Hz`, `0.5ms`, `-3`, `50%`, `5 us` (one optional space).
    pub fn parse(text: &str) -> Result<Quantity, ValueError> {
        let trimmed = text.trim();
        let not_a_number = || ValueError::NotANumber {
            input: text.to_owned(),
        };
        let len = number_len(trimmed).ok_or_else(not_a_number)?;
        let value: f64 = trimmed[..len].parse().map_err(|_| not_a_number())?;
        let rest = trimmed[len..].trim_start();
        if rest.is_empty() {
            return Quantity::new(value, None).map_err(|_| ValueError::NotFinite {
                input: text.to_owned(),
            });
        }
        if unit_len(rest) != rest.len() {
            return Err(not_a_number());
        }
        let unit = parse_unit(rest, text)?;
        Quantity::new(value, Some(unit)).map_err(|_| ValueError::NotFinite {
            input: text.to_owned(),
        })
    }
}

/// Looks a unit symbol up, with a "did you mean" hint when it fails.
pub(crate) fn parse_unit(symbol: &str, input: &str) -> Result<Unit, ValueError> {
    Unit::parse(symbol).ok_or_else(|| ValueError::UnknownUnit {
        input: input.to_owned(),
        unit: symbol.to_owned(),
        hint: Unit::suggest(symbol).map_or_else(String::new, |u| format!(" (did you mean `{u}`?)")),
    })
}

/// Orders two base magnitudes, equal within [`RELATIVE_EPSILON`].
pub(crate) fn compare_base(a: f64, b: f64) -> Ordering {
    if !a.is_finite() || !b.is_finite() {
        // An infinite DDS period is only equal to another infinite one.
        return a.total_cmp(&b);
    }
    let scale = a.abs().max(b.abs());
    if (a - b).abs() <= scale * RELATIVE_EPSILON {
        Ordering::Equal
    } else {
        a.total_cmp(&b)
    }
}

/// [`compare_base`] as one bit (1 for less, 2 for equal, 4 for greater),
/// computed without branching on the values when both are finite, so a scan
/// over a column does not pay a misprediction per row.
#[inline]
pub(crate) fn compare_base_bit(a: f64, b: f64) -> u8 {
    if !a.is_finite() || !b.is_finite() {
        return ordering_bit(a.total_cmp(&b));
    }
    // Finite and outside the tolerance: `<` agrees with `total_cmp` (the
    // only disagreement, -0 against +0, is inside the tolerance).
    let equal = (a - b).abs() <= a.abs().max(b.abs()) * RELATIVE_EPSILON;
    let less = a < b;
    u8::from(equal) << 1 | u8::from(!equal & less) | u8::from(!equal & !less) << 2
}

/// An ordering as one bit: 1 for less, 2 for equal, 4 for greater.
#[inline]
pub(crate) fn ordering_bit(o: Ordering) -> u8 {
    1 << (o as i8 + 1)
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Quantity) -> bool {
        self.compare(other) == Ok(Ordering::Equal)
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        self.compare(other).ok()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{}` on f64 prints the shortest text that parses back to the same
        // number, never an exponent: round trips through the lexer.
        write!(f, "{}", self.value)?;
        if let Some(unit) = self.unit {
            f.write_str(unit.symbol())?;
        }
        Ok(())
    }
}

impl FromStr for Quantity {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl Serialize for Quantity {
    /// As text (`"0.5ms"`), or a JSON number when it has no unit.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.unit {
            None => serializer.serialize_f64(self.value),
            Some(_) => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// A number, or text such as `"0.5ms"`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(q) => Ok(q),
            other => Err(de::Error::custom(format_args!(
                "expected a number with an optional unit, got {} `{other}`",
                other.kind()
            ))),
        }
    }
}

/// A capability value or a query literal.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A number, with or without a unit.
    Number(Quantity),
    /// A string (`"imu_link"`).
    Text(String),
    /// A boolean.
    Bool(bool),
    /// A health state.
    State(State),
}

impl Value {
    /// A plain number; fails when it is not finite.
    pub fn number(value: f64) -> Result<Value, ValueError> {
        Quantity::new(value, None).map(Value::Number)
    }

    /// Reads a capability value given as text: a number with an optional
    /// unit (`200Hz`, `0.4ms`), one of the state names `OK`, `DEGRADED`,
    /// `UNKNOWN`, `FAILED` (upper case), or else a string.
    ///
    /// Text that *looks like* a number with a unit (digits then letters,
    /// nothing else) must use a known unit: `200Hzz` is an error, never a
    /// string, so a typo cannot silently turn a rate into text.
    pub fn parse_capability(text: &str) -> Result<Value, ValueError> {
        match text {
            "OK" => return Ok(Value::State(State::Ok)),
            "DEGRADED" => return Ok(Value::State(State::Degraded)),
            "UNKNOWN" => return Ok(Value::State(State::Unknown)),
            "FAILED" => return Ok(Value::State(State::Failed)),
            _ => {}
        }
        let trimmed = text.trim();
        if let Some(len) = number_len(trimmed) {
            let rest = trimmed[len..].trim_start();
            if unit_len(rest) == rest.len() {
                return Quantity::parse(text).map(Value::Number);
            }
        }
        Ok(Value::Text(text.to_owned()))
    }

    /// A short name of the kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Number(q) => q.dimension().as_str(),
            Value::Text(_) => "string",
            Value::Bool(_) => "boolean",
            Value::State(_) => "health state",
        }
    }
}

impl From<Quantity> for Value {
    fn from(q: Quantity) -> Value {
        Value::Number(q)
    }
}

impl From<State> for Value {
    fn from(s: State) -> Value {
        Value::State(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl fmt::Display for Value {
    /// Capability notation: strings unquoted. Query literals print quoted
    /// through the AST's `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(q) => q.fmt(f),
            Value::Text(s) => f.write_str(s),
            Value::Bool(b) => b.fmt(f),
            Value::State(s) => s.fmt(f),
        }
    }
}

impl Serialize for Value {
    /// Plain numbers as JSON numbers, numbers with units as strings
    /// (`"200Hz"`), states as their names.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Number(q) if q.unit.is_none() => serializer.serialize_f64(q.value),
            Value::Number(q) => serializer.collect_str(q),
            Value::Text(s) => serializer.serialize_str(s),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::State(s) => serializer.serialize_str(s.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Numbers, booleans, or strings read with [`Value::parse_capability`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl Visitor<'_> for ValueVisitor {
            type Value = Value;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a boolean, or a string such as \"200Hz\"")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Value::number(v as f64).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Value::number(v as f64).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Value::number(v).map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Value::parse_capability(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn conversions_compare_equal() {
        assert_eq!(q("100Hz"), q("0.1kHz"));
        assert_eq!(q("1.1ms"), q("1100us"));
        assert_eq!(q("1100µs"), q("1.1ms"));
        assert_eq!(q("1KiB"), q("1024B"));
        assert_ne!(q("1KB"), q("1KiB"));
        assert_eq!(q("50%"), q("0.5"));
        assert_eq!(
            q("180deg"),
            Quantity::new(std::f64::consts::PI, Some(Unit::Radian)).unwrap()
        );
        assert_eq!(q("1min"), q("60s"));
        assert!(q("999us") < q("1ms"));
        assert!(q("2km") > q("1999m"));
        assert_eq!(compare_base(f64::INFINITY, 0.01), Ordering::Greater);
        assert_eq!(compare_base(f64::INFINITY, f64::INFINITY), Ordering::Equal);
    }

    #[test]
    fn dimension_mismatch_is_an_error() {
        let err = q("5ms").compare(&q("5Hz")).unwrap_err();
        assert_eq!(
            err,
            DimensionMismatch {
                left: Dimension::Time,
                right: Dimension::Frequency
            }
        );
        assert_eq!(
            err.to_string(),
            "dimension mismatch: time compared with frequency"
        );
        assert_eq!(q("5ms").partial_cmp(&q("5Hz")), None);
        assert_ne!(q("5ms"), q("5Hz"));
    }

    #[test]
    fn parse_errors_name_input_and_unit() {
        let err = Quantity::parse("200hz").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown unit `hz` in `200hz` (did you mean `Hz`?)"
        );
        assert!(matches!(
            Quantity::parse("fast"),
            Err(ValueError::NotANumber { .. })
        ));
        assert!(matches!(
            Quantity::parse("1e999"),
            Err(ValueError::NotFinite { .. })
        ));
        assert!(Quantity::new(f64::NAN, None).is_err());
        assert_eq!(q("5 ms"), q("5ms"));
    }

    #[test]
    fn capability_text() {
        assert_eq!(
            Value::parse_capability("200Hz").unwrap(),
            Value::Number(q("200Hz"))
        );
        assert_eq!(
            Value::parse_capability("imu_link").unwrap(),
            Value::Text("imu_link".into())
        );
        assert_eq!(
            Value::parse_capability("3d_lidar").unwrap(),
            Value::Text("3d_lidar".into())
        );
        assert_eq!(
            Value::parse_capability("OK").unwrap(),
            Value::State(State::Ok)
        );
        assert!(Value::parse_capability("200Hzz").is_err());
    }

    #[test]
    fn json_shapes() {
        let v: Value = serde_json::from_str("\"0.4ms\"").unwrap();
        assert_eq!(v, Value::Number(q("0.4ms")));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0.4ms\"");
        let v: Value = serde_json::from_str("0.001").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "0.001");
        let v: Value = serde_json::from_str("true").unwrap();
        assert_eq!(v, Value::Bool(true));
        assert!(serde_json::from_str::<Value>("\"5 parsecs\"").is_err());
        assert!(serde_json::from_str::<Value>("[1]").is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "100Hz",
            "0.1kHz",
            "0.001",
            "-3",
            "1.5e-7s",
            "50%",
            "1000000000000000000000B",
        ] {
            let parsed = q(text);
            let again = q(&parsed.to_string());
            assert_eq!(again.value(), parsed.value());
            assert_eq!(again.unit(), parsed.unit());
        }
    }
}
