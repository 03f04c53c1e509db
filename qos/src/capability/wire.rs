//! The CDR encoding of capability vectors.
//!
//! Layout (schema version 1), after the 4-byte CDR encapsulation header:
//! `u16 version`, then a sequence of entries `{ string key; Value value }`
//! where `Value` is a union (u32 tag) of `Number { f64 value; u8 unit }`
//! (unit tag 0 = none, see [`Unit::wire_tag`]), `Text(string)`,
//! `Bool(bool)`, `State(u8)` (0 = OK, 1 = DEGRADED, 2 = UNKNOWN, 3 = FAILED).
//!
//! The `cdr` crate sizes a string's buffer from the length it reads before
//! checking that many bytes exist, so strings are read here as sequences of
//! bytes (same bytes on the wire) whose growth is bounded by the input.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use vigil_diag::State;

use super::{Capabilities, CapabilityError, Key};
use crate::unit::Unit;
use crate::value::{Quantity, Value};

/// The schema version this build writes and reads.
pub(crate) const VERSION: u16 = 1;

/// At most this many entries are accepted from the wire.
const MAX_ENTRIES: usize = 1024;

/// Why bytes are not an encoded capability vector.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not valid CDR for the schema (truncated, bad tag,
    /// length beyond the end, bad UTF-8...).
    #[error("malformed capability encoding: {message}")]
    Malformed {
        /// What the CDR decoder reported.
        message: String,
    },
    /// The schema version is not one this build reads.
    #[error(
        "unsupported capability schema version {found} (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version found.
        found: u16,
        /// The version supported.
        supported: u16,
    },
    /// More entries than a capability vector may hold (1024).
    #[error("too many capability entries: {count} (at most {max})")]
    TooManyEntries {
        /// How many were found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An entry carries a tag this version does not know.
    #[error("capability entry {entry}: unknown {what} tag {tag}")]
    UnknownTag {
        /// 0-based index of the entry.
        entry: usize,
        /// `unit` or `state`.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// An entry's number is NaN or infinite.
    #[error("capability entry {entry}: number is not finite")]
    NotFinite {
        /// 0-based index of the entry.
        entry: usize,
    },
    /// An entry's key or value is invalid.
    #[error("capability entry {entry}: {source}")]
    Invalid {
        /// 0-based index of the entry.
        entry: usize,
        /// What is wrong.
        source: CapabilityError,
    },
    /// Two entries have the same key.
    #[error("capability entry {entry}: duplicate key `{key}`")]
    DuplicateKey {
        /// 0-based index of the second entry.
        entry: usize,
        /// The key.
        key: String,
    },
}

/// A CDR string read without trusting its length.
struct WireStr(String);

impl Serialize for WireStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WireStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;

        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = WireStr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NUL-terminated UTF-8 string")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireStr, A::Error> {
                use serde::de::Error;
                // Grow with the bytes actually read, never from the length.
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                if bytes.pop() != Some(0) {
                    return Err(A::Error::custom("string is not NUL-terminated"));
                }
                String::from_utf8(bytes)
                    .map(WireStr)
                    .map_err(|_| A::Error::custom("string is not UTF-8"))
            }
        }

        deserializer.deserialize_seq(BytesVisitor)
    }
}

#[derive(Serialize, Deserialize)]
enum WireValue {
    Number { value: f64, unit: u8 },
    Text(WireStr),
    Bool(bool),
    State(u8),
}

#[derive(Serialize, Deserialize)]
struct WireEntry {
    key: WireStr,
    value: WireValue,
}

#[derive(Serialize, Deserialize)]
struct WireV1 {
    version: u16,
    entries: Vec<WireEntry>,
}

fn state_tag(state: State) -> u8 {
    match state {
        State::Ok => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Failed => 3,
    }
}

fn state_from_tag(tag: u8) -> Option<State> {
    State::ALL.into_iter().find(|s| state_tag(*s) == tag)
}

pub(super) fn encode(caps: &Capabilities) -> Vec<u8> {
    let entries = caps
        .entries
        .iter()
        .map(|(k, v)| WireEntry {
            key: WireStr(k.as_str().to_owned()),
            value: match v {
                Value::Number(q) => WireValue::Number {
                    value: q.value(),
                    unit: q.unit().map_or(0, Unit::wire_tag),
                },
                Value::Text(s) => WireValue::Text(WireStr(s.clone())),
                Value::Bool(b) => WireValue::Bool(*b),
                Value::State(s) => WireValue::State(state_tag(*s)),
            },
        })
        .collect();
    let wire = WireV1 {
        version: VERSION,
        entries,
    };
    // Serializing plain structs of strings, numbers and sequences of known
    // length into memory without a size limit has no failure case in cdr.
    cdr::serialize::<_, _, cdr::CdrLe>(&wire, cdr::Infinite)
        .expect("cdr serializes plain in-memory data without a size limit")
}

fn malformed(e: cdr::Error) -> DecodeError {
    DecodeError::Malformed {
        message: e.to_string(),
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<Capabilities, DecodeError> {
    // The size limit makes every read beyond the input an error before the
    // reader is asked for it.
    let limit = cdr::Bounded(bytes.len() as u64);
    let version: u16 = cdr::deserialize_from(bytes, limit).map_err(malformed)?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let wire: WireV1 = cdr::deserialize_from(bytes, limit).map_err(malformed)?;
    if wire.entries.len() > MAX_ENTRIES {
        return Err(DecodeError::TooManyEntries {
            count: wire.entries.len(),
            max: MAX_ENTRIES,
        });
    }
    let mut caps = Capabilities::new();
    for (entry, WireEntry { key, value }) in wire.entries.into_iter().enumerate() {
        let value = match value {
            WireValue::Number { value, unit } => {
                let unit = match unit {
                    0 => None,
                    tag => Some(Unit::from_wire_tag(tag).ok_or(DecodeError::UnknownTag {
                        entry,
                        what: "unit",
                        tag,
                    })?),
                };
                Value::Number(
                    Quantity::new(value, unit).map_err(|_| DecodeError::NotFinite { entry })?,
                )
            }
            WireValue::Text(s) => Value::Text(s.0),
            WireValue::Bool(b) => Value::Bool(b),
            WireValue::State(tag) => {
                Value::State(state_from_tag(tag).ok_or(DecodeError::UnknownTag {
                    entry,
                    what: "state",
                    tag,
                })?)
            }
        };
        let key = Key::new(&key.0).map_err(|source| DecodeError::Invalid { entry, source })?;
        let name = key.as_str().to_owned();
        match caps.insert_key(key, value) {
            Ok(None) => {}
            Ok(Some(_)) => return Err(DecodeError::DuplicateKey { entry, key: name }),
            Err(source) => return Err(DecodeError::Invalid { entry, source }),
        }
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Capabilities {
        let mut c = Capabilities::new();
        c.insert("rate", Quantity::parse("200Hz").unwrap()).unwrap();
        c.insert("latency_p99", Quantity::parse("0.4ms").unwrap())
            .unwrap();
        c.insert("frame", Value::Text("imu_link".into())).unwrap();
        c.insert("ok", true).unwrap();
        c.insert("mode", State::Degraded).unwrap();
        c.insert("accuracy", Value::number(0.001).unwrap()).unwrap();
        c
    }

    #[test]
    fn round_trips() {
        let c = sample();
        let bytes = c.encode_cdr();
        assert_eq!(&bytes[..4], &[0, 1, 0, 0], "CDR_LE encapsulation header");
        assert_eq!(&bytes[4..6], &VERSION.to_le_bytes(), "schema version first");
        let back = Capabilities::decode_cdr(&bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            Capabilities::decode_cdr(&Capabilities::new().encode_cdr()).unwrap(),
            Capabilities::new()
        );
    }

    #[test]
    fn strings_use_plain_cdr_layout() {
        let mut c = Capabilities::new();
        c.insert("frame", Value::Text("ab".into())).unwrap();
        let bytes = c.encode_cdr();
        // header, version u16, pad, seq len u32 = 1, key len u32 = 6 ("frame\0")
        assert_eq!(&bytes[8..12], &1u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &6u32.to_le_bytes());
        assert_eq!(&bytes[16..22], b"frame\0");
    }

    #[test]
    fn rejects_bad_versions_tags_and_truncation() {
        let bytes = sample().encode_cdr();
        let mut wrong = bytes.clone();
        wrong[4] = 9;
        assert_eq!(
            Capabilities::decode_cdr(&wrong),
            Err(DecodeError::UnsupportedVersion {
                found: 9,
                supported: 1
            })
        );
        for cut in 0..bytes.len() {
            assert!(
                Capabilities::decode_cdr(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        // A string length of 4 GiB with nothing behind it.
        let mut huge = bytes[..12].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Capabilities::decode_cdr(&huge),
            Err(DecodeError::Malformed { .. })
        ));
        // Entry count of 4 G with nothing behind it.
        let mut many = bytes[..8].to_vec();
        many.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Capabilities::decode_cdr(&many).is_err());
    }

    #[test]
    fn rejects_unknown_unit_tag_naming_the_entry() {
        let mut c = Capabilities::new();
        c.insert("x", Quantity::parse("1s").unwrap()).unwrap();
        let mut bytes = c.encode_cdr();
        let last = bytes.len() - 1;
        assert_eq!(bytes[last], Unit::Second.wire_tag());
        bytes[last] = 200;
        assert_eq!(
            Capabilities::decode_cdr(&bytes),
            Err(DecodeError::UnknownTag {
                entry: 0,
                what: "unit",
                tag: 200
            })
        );
    }
}
