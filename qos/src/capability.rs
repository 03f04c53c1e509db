//! Capability vectors: what a producer offers for a topic, as an ordered
//! key → value map, with serde and a compact, versioned CDR encoding.
//!
//! # Well-known keys
//!
//! | key | value |
//! | --- | --- |
//! | `rate` | publication rate (frequency: `100Hz`) |
//! | `latency` | typical end-to-end latency (time) |
//! | `latency_p50`, `latency_p90`, `latency_p99` | latency percentiles (time) |
//! | `jitter` | variation of the publication period (time) |
//! | `accuracy` | measurement accuracy (any number, with or without a unit) |
//! | `drop_rate` | fraction of samples lost (`0.01` or `1%`) |
//! | `frame` | coordinate frame id (string: `"imu_link"`) |
//! | `range` | sensing range (length) |
//! | `fov` | field of view (angle) |
//! | `message_size` | typical sample size (data size) |
//!
//! A well-known key only accepts values of its kind. Producers may add
//! their own keys (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 bytes) with values
//! of any kind.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::unit::Dimension;
use crate::value::Value;

mod wire;

pub use wire::DecodeError;

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// What a well-known key accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Quantity(Dimension),
    AnyNumber,
    Text,
}

/// The well-known capability keys. Their discriminants are private; the
/// names are the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WellKnown {
    /// `rate`: publication rate (frequency).
    Rate,
    /// `latency`: typical latency (time).
    Latency,
    /// `latency_p50`: median latency (time).
    LatencyP50,
    /// `latency_p90`: 90th percentile latency (time).
    LatencyP90,
    /// `latency_p99`: 99th percentile latency (time).
    LatencyP99,
    /// `jitter`: publication period variation (time).
    Jitter,
    /// `accuracy`: measurement accuracy (any number).
    Accuracy,
    /// `drop_rate`: fraction of samples lost (dimensionless).
    DropRate,
    /// `frame`: coordinate frame id (string).
    Frame,
    /// `range`: sensing range (length).
    Range,
    /// `fov`: field of view (angle).
    Fov,
    /// `message_size`: typical sample size (data size).
    MessageSize,
}

const WELL_KNOWN: [(WellKnown, &str, Expect); 12] = [
    (
        WellKnown::Rate,
        "rate",
        Expect::Quantity(Dimension::Frequency),
    ),
    (
        WellKnown::Latency,
        "latency",
        Expect::Quantity(Dimension::Time),
    ),
    (
        WellKnown::LatencyP50,
        "latency_p50",
        Expect::Quantity(Dimension::Time),
    ),
    (
        WellKnown::LatencyP90,
        "latency_p90",
        Expect::Quantity(Dimension::Time),
    ),
    (
        WellKnown::LatencyP99,
        "latency_p99",
        Expect::Quantity(Dimension::Time),
    ),
    (
        WellKnown::Jitter,
        "jitter",
        Expect::Quantity(Dimension::Time),
    ),
    (WellKnown::Accuracy, "accuracy", Expect::AnyNumber),
    (
        WellKnown::DropRate,
        "drop_rate",
        Expect::Quantity(Dimension::Ratio),
    ),
    (WellKnown::Frame, "frame", Expect::Text),
    (
        WellKnown::Range,
        "range",
        Expect::Quantity(Dimension::Length),
    ),
    (WellKnown::Fov, "fov", Expect::Quantity(Dimension::Angle)),
    (
        WellKnown::MessageSize,
        "message_size",
        Expect::Quantity(Dimension::DataSize),
    ),
];

impl WellKnown {
    /// Every well-known key.
    pub fn all() -> impl Iterator<Item = WellKnown> {
        WELL_KNOWN.iter().map(|row| row.0)
    }

    /// The key's name.
    pub fn name(self) -> &'static str {
        WELL_KNOWN[self as usize].1
    }

    /// The dimension its values must have, when it is a quantity key.
    pub fn dimension(self) -> Option<Dimension> {
        match WELL_KNOWN[self as usize].2 {
            Expect::Quantity(d) => Some(d),
            _ => None,
        }
    }

    /// A description of the values it accepts, for messages.
    pub fn expects(self) -> &'static str {
        match WELL_KNOWN[self as usize].2 {
            Expect::Quantity(d) => d.as_str(),
            Expect::AnyNumber => "number",
            Expect::Text => "string",
        }
    }

    fn from_name(name: &str) -> Option<WellKnown> {
        WELL_KNOWN.iter().find(|row| row.1 == name).map(|row| row.0)
    }

    fn accepts(self, value: &Value) -> bool {
        match (WELL_KNOWN[self as usize].2, value) {
            (Expect::Quantity(d), Value::Number(q)) => q.dimension() == d,
            (Expect::AnyNumber, Value::Number(_)) => true,
            (Expect::Text, Value::Text(_)) => true,
            _ => false,
        }
    }
}

/// A validated capability key; knows whether it is well-known, so lookups
/// of well-known keys compare a small tag instead of text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    name: Box<str>,
    well_known: Option<WellKnownTag>,
}

/// `WellKnown` as an orderable tag (order is irrelevant: `name` decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct WellKnownTag(u8);

/// Why a capability cannot be stored.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum CapabilityError {
    /// The key is empty, too long or has characters outside `[A-Za-z0-9_]`.
    #[error("invalid capability key `{key}`: {why}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A well-known key was given a value of the wrong kind.
    #[error("capability `{key}` must be a {expected}, got {found} `{value}`")]
    WrongKind {
        /// The key.
        key: String,
        /// What the key accepts.
        expected: &'static str,
        /// What it got.
        found: &'static str,
        /// The value as text.
        value: String,
    },
}

impl Key {
    /// Validates a key name.
    pub fn new(name: &str) -> Result<Key, CapabilityError> {
        let invalid = |why| CapabilityError::InvalidKey {
            key: name.to_owned(),
            why,
        };
        let first = name.bytes().next().ok_or_else(|| invalid("empty key"))?;
        if name.len() > MAX_KEY_LEN {
            return Err(invalid("longer than 64 bytes"));
        }
        if first.is_ascii_digit() {
            return Err(invalid("starts with a digit"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid("characters outside [A-Za-z0-9_]"));
        }
        Ok(Key {
            name: name.into(),
            well_known: WellKnown::from_name(name).map(|w| WellKnownTag(w as u8)),
        })
    }

    /// The key's name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Index of its well-known key in [`WellKnown::all`] order, if any.
    #[inline]
    pub(crate) fn well_known_index(&self) -> Option<usize> {
        self.well_known.map(|tag| usize::from(tag.0))
    }

    /// The well-known key it is, if any.
    pub fn well_known(&self) -> Option<WellKnown> {
        self.well_known.map(|tag| WELL_KNOWN[usize::from(tag.0)].0)
    }

    fn check(&self, value: &Value) -> Result<(), CapabilityError> {
        match self.well_known() {
            Some(w) if !w.accepts(value) => Err(CapabilityError::WrongKind {
                key: self.name.to_string(),
                expected: w.expects(),
                found: value.kind(),
                value: value.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// An ordered key → value map (sorted by key name, so encodings and
/// displays are deterministic).
///
/// ```
/// use vigil_qos::{Capabilities, Value};
///
/// let mut caps = Capabilities::new();
/// caps.insert("latency_p99", Value::parse_capability("0.5ms").unwrap()).unwrap();
/// caps.insert("rate_hz", Value::parse_capability("1kHz").unwrap()).unwrap();
/// // Units are part of the value: 1 kHz is 1000 Hz.
/// assert_eq!(caps.get("rate_hz"), Some(&Value::parse_capability("1000Hz").unwrap()));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capabilities {
    entries: Vec<(Key, Value)>,
}

impl Capabilities {
    /// An empty vector.
    pub fn new() -> Capabilities {
        Capabilities::default()
    }

    /// Sets `key` to `value`, returning the previous value; validates the key
    /// and, for a well-known key, the kind of value.
    pub fn insert(
        &mut self,
        key: &str,
        value: impl Into<Value>,
    ) -> Result<Option<Value>, CapabilityError> {
        self.insert_key(Key::new(key)?, value.into())
    }

    /// [`Capabilities::insert`] with a key already validated.
    pub fn insert_key(&mut self, key: Key, value: Value) -> Result<Option<Value>, CapabilityError> {
        key.check(&value)?;
        match self
            .entries
            .binary_search_by(|(k, _)| k.name.cmp(&key.name))
        {
            Ok(i) => Ok(Some(std::mem::replace(&mut self.entries[i].1, value))),
            Err(i) => {
                self.entries.insert(i, (key, value));
                Ok(None)
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self
            .entries
            .binary_search_by(|(k, _)| (*k.name).cmp(key))
            .ok()?;
        Some(self.entries.remove(i).1)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self
            .entries
            .binary_search_by(|(k, _)| (*k.name).cmp(key))
            .ok()?;
        Some(&self.entries[i].1)
    }

    /// The value of a validated key: for a well-known key a scan over small
    /// tags, the fast path of query evaluation.
    #[inline]
    pub fn get_key(&self, key: &Key) -> Option<&Value> {
        match key.well_known {
            Some(tag) => self
                .entries
                .iter()
                .find(|(k, _)| k.well_known == Some(tag))
                .map(|(_, v)| v),
            None => self.get(&key.name),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The compact CDR encoding (little-endian CDR encapsulation header,
    /// then a `u16` schema version, then the entries); see
    /// [`Capabilities::decode_cdr`].
    pub fn encode_cdr(&self) -> Vec<u8> {
        wire::encode(self)
    }

    /// Decodes [`Capabilities::encode_cdr`] bytes from the wire. Checks the
    /// schema version, every length against the bytes actually present,
    /// every tag, every key and every value; never panics.
    pub fn decode_cdr(bytes: &[u8]) -> Result<Capabilities, DecodeError> {
        wire::decode(bytes)
    }
}

impl fmt::Display for Capabilities {
    /// `rate=200Hz, latency_p99=0.4ms, frame=imu_link`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    /// A map of key → value; a duplicate key is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CapsVisitor;

        impl<'de> Visitor<'de> for CapsVisitor {
            type Value = Capabilities;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of capability keys to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Capabilities, A::Error> {
                use serde::de::Error;
                let mut caps = Capabilities::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Value = map
                        .next_value()
                        .map_err(|e| A::Error::custom(format_args!("capability `{key}`: {e}")))?;
                    if caps
                        .insert(&key, value)
                        .map_err(A::Error::custom)?
                        .is_some()
                    {
                        return Err(A::Error::custom(format_args!(
                            "duplicate capability `{key}`"
                        )));
                    }
                }
                Ok(caps)
            }
        }

        deserializer.deserialize_map(CapsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Quantity;

    fn caps() -> Capabilities {
        let mut c = Capabilities::new();
        c.insert("rate", Quantity::parse("200Hz").unwrap()).unwrap();
        c.insert("latency_p99", Quantity::parse("0.4ms").unwrap())
            .unwrap();
        c.insert("frame", Value::Text("imu_link".into())).unwrap();
        c.insert("my_key", true).unwrap();
        c
    }

    #[test]
    fn ordered_by_key_and_looked_up_both_ways() {
        let c = caps();
        let keys: Vec<_> = c.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["frame", "latency_p99", "my_key", "rate"]);
        assert_eq!(c.get("rate"), c.get_key(&Key::new("rate").unwrap()));
        assert_eq!(
            c.get_key(&Key::new("my_key").unwrap()),
            Some(&Value::Bool(true))
        );
        assert_eq!(c.get_key(&Key::new("jitter").unwrap()), None);
        assert_eq!(
            c.to_string(),
            "frame=imu_link, latency_p99=0.4ms, my_key=true, rate=200Hz"
        );
    }

    #[test]
    fn well_known_keys_check_their_kind() {
        let mut c = Capabilities::new();
        let err = c
            .insert("latency_p99", Quantity::parse("5Hz").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "capability `latency_p99` must be a time, got frequency `5Hz`"
        );
        assert!(c.insert("frame", Value::number(3.0).unwrap()).is_err());
        assert!(c
            .insert("drop_rate", Quantity::parse("1%").unwrap())
            .is_ok());
        assert!(c
            .insert("accuracy", Quantity::parse("2cm").unwrap())
            .is_ok());
        for bad in ["", "1abc", "a-b", "a.b", &"x".repeat(65)] {
            assert!(
                matches!(Key::new(bad), Err(CapabilityError::InvalidKey { .. })),
                "{bad}"
            );
        }
        for w in WellKnown::all() {
            assert_eq!(Key::new(w.name()).unwrap().well_known(), Some(w));
        }
    }

    #[test]
    fn json_round_trip_and_errors() {
        let c = caps();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"frame":"imu_link","latency_p99":"0.4ms","my_key":true,"rate":"200Hz"}"#
        );
        let back: Capabilities = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let err = serde_json::from_str::<Capabilities>(r#"{"rate": "200Hzz"}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("capability `rate`: unknown unit `Hzz`"),
            "{err}"
        );
        let err = serde_json::from_str::<Capabilities>(r#"{"rate": "5ms"}"#).unwrap_err();
        assert!(err.to_string().contains("must be a frequency"), "{err}");
        let err = serde_json::from_str::<Capabilities>(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(
            err.to_string().contains("duplicate capability `a`"),
            "{err}"
        );
    }
}
